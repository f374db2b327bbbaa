using System.Net;
using System.Net.Sockets;
using CareHub.Notifications;

namespace CareHub.Tests.Notifications;

/// <summary>Where notifications may go: the endpoint's URL when a Subscription is written, and the address at every connection.</summary>
public sealed class EndpointGuardTests
{
    private static EndpointGuard Guard(NotificationOptions? options = null) => new(options ?? new NotificationOptions());

    [Theory]
    [InlineData("http://example.org/hook", "https URL")]
    [InlineData("https://127.0.0.1/hook", "loopback")]
    [InlineData("https://[::1]/hook", "loopback")]
    [InlineData("https://192.168.1.10/hook", "internal or reserved")]
    [InlineData("https://172.16.0.1/hook", "internal or reserved")]
    [InlineData("https://100.64.0.1/hook", "internal or reserved")]
    [InlineData("https://[fe80::1]/hook", "internal or reserved")]
    [InlineData("https://[::ffff:10.0.0.1]/hook", "internal or reserved")]
    public void the_default_configuration_refuses_plain_http_and_internal_addresses(string endpoint, string reason) =>
        Assert.Contains(reason, Guard().CheckEndpoint(new Uri(endpoint)), StringComparison.Ordinal);

    [Fact]
    public void a_public_https_endpoint_is_allowed_by_default() => Assert.Null(Guard().CheckEndpoint(new Uri("https://8.8.8.8/hook")));

    [Fact]
    public void an_allowed_network_admits_its_internal_addresses_and_no_others()
    {
        var guard = Guard(new NotificationOptions { AllowedNetworks = ["10.20.0.0/16"] });

        Assert.Null(guard.CheckEndpoint(new Uri("https://10.20.3.4/hook")));
        Assert.NotNull(guard.CheckEndpoint(new Uri("https://10.21.3.4/hook")));
    }

    [Fact]
    public void allowed_hosts_limit_the_names_an_endpoint_may_use()
    {
        var guard = Guard(new NotificationOptions { AllowedHosts = ["*.example.nhs.uk", "gp.example.org"] });

        Assert.Null(guard.CheckEndpoint(new Uri("https://notify.example.nhs.uk/hook")));
        Assert.Null(guard.CheckEndpoint(new Uri("https://gp.example.org/hook")));
        Assert.Contains("AllowedHosts", guard.CheckEndpoint(new Uri("https://evil.example.com/hook")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_name_that_resolves_to_a_forbidden_address_is_refused_when_connecting()
    {
        // "localhost" passes the check of the URL (it is a name); the address it resolves to is what is refused, as a name
        // rebound to an internal address would be.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var guard = Guard(new NotificationOptions { RequireHttps = false });

        Assert.Null(guard.CheckEndpoint(new Uri($"http://localhost:{port}/hook")));
        var refused = await Assert.ThrowsAsync<EndpointRefusedException>(async () => await guard.ConnectAsync(new DnsEndPoint("localhost", port), TestContext.Current.CancellationToken));
        Assert.Contains("loopback", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task an_allowed_address_is_connected_to()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var guard = Guard(new NotificationOptions { RequireHttps = false, AllowLoopback = true });

        await using var stream = await guard.ConnectAsync(new DnsEndPoint("127.0.0.1", port), TestContext.Current.CancellationToken);
        using var accepted = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);

        Assert.True(accepted.Connected);
    }

    [Theory]
    [InlineData("MaxConcurrentDeliveries", "0")]
    [InlineData("AllowedNetworks", "ten-dot-something")]
    public void options_that_cannot_work_stop_the_start_naming_the_setting(string setting, string value)
    {
        var options = setting == "MaxConcurrentDeliveries"
            ? new NotificationOptions { MaxConcurrentDeliveries = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) }
            : new NotificationOptions { AllowedNetworks = [value] };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains("CareHub:Notifications:" + setting, error.Message, StringComparison.Ordinal);
    }
}
