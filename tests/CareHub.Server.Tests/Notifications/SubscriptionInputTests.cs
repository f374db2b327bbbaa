using System.Net;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// Subscriptions that cannot work are refused when written, with an OperationOutcome naming the problem, and nothing is
/// stored or activated; an endpoint that cannot be reached is shown as an error, never as active.
/// </summary>
public sealed class SubscriptionInputTests : IAsyncLifetime
{
    private NotificationServer server = null!;

    public async ValueTask InitializeAsync() => server = await NotificationServer.StartAsync();

    public async ValueTask DisposeAsync() => await server.DisposeAsync();

    [Theory]
    [InlineData("Observation?colour=blue", "https://example.org/hook", HttpStatusCode.BadRequest, "colour")]
    [InlineData("Gadget?code=1", "https://example.org/hook", HttpStatusCode.BadRequest, "Gadget")]
    [InlineData("Observation?_include=Observation:patient", "https://example.org/hook", HttpStatusCode.BadRequest, "_include")]
    [InlineData("Observation?date=notadate", "https://example.org/hook", HttpStatusCode.BadRequest, "date")]
    [InlineData("Observation?code=1", "http://10.20.30.40/hook", HttpStatusCode.UnprocessableEntity, "internal or reserved")]
    [InlineData("Observation?code=1", "http://169.254.169.254/latest/meta-data", HttpStatusCode.UnprocessableEntity, "internal or reserved")]
    [InlineData("Observation?code=1", "http://[fd00::1]/hook", HttpStatusCode.UnprocessableEntity, "internal or reserved")]
    [InlineData("Observation?code=1", "https://user:secret@example.org/hook", HttpStatusCode.UnprocessableEntity, "credentials")]
    [InlineData("Observation?code=1", "ftp://example.org/hook", HttpStatusCode.UnprocessableEntity, "http or https")]
    [InlineData("Observation?code=1", "not a url", HttpStatusCode.BadRequest, "absolute URL")]
    public async Task a_subscription_that_cannot_work_is_refused_naming_the_problem_and_nothing_is_stored(string criteria, string endpoint, HttpStatusCode expected, string named)
    {
        var (status, outcome) = await server.SendAsync("system", HttpMethod.Post, "/fhir/Subscription", NotificationServer.Subscription(criteria, endpoint));
        var (_, stored) = await server.SendAsync("system", HttpMethod.Get, "/fhir/Subscription?_summary=count");

        Assert.Equal(expected, status);
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        Assert.Contains(named, outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, stored.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task a_channel_type_not_delivered_here_is_refused()
    {
        var json = NotificationServer.Subscription("Observation?code=1", "https://example.org/hook").Replace("rest-hook", "websocket", StringComparison.Ordinal);

        var (status, outcome) = await server.SendAsync("system", HttpMethod.Post, "/fhir/Subscription", json);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("websocket", outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task an_endpoint_that_refuses_the_handshake_leaves_the_subscription_in_error_not_active()
    {
        var receiver = await TestReceiver.StartAsync();
        var url = receiver.Url;
        await receiver.StopAsync();

        var id = await server.CreateAsync("system", NotificationServer.Subscription("Observation?code=1", url));
        await NotificationServer.EventuallyAsync(async () => await server.StatusOfAsync(id) == "error", "the failed handshake shown");

        Assert.Contains("could not connect", (await server.SubscriptionAsync(id)).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_client_cannot_make_its_own_subscription_active_or_set_its_error()
    {
        var json = NotificationServer.Subscription("Observation?code=1", "http://127.0.0.1:9/hook")
            .Replace("\"status\":\"requested\"", "\"status\":\"active\",\"error\":\"fine\"", StringComparison.Ordinal);

        var id = await server.CreateAsync("system", json);
        // The version the client wrote, not the engine's later one (the handshake to port 9 fails at once).
        var (_, stored) = await server.SendAsync("system", HttpMethod.Get, $"/fhir/Subscription/{id}/_history/1");

        Assert.Equal("requested", stored.GetProperty("status").GetString());
        Assert.False(stored.TryGetProperty("error", out _));
    }
}
