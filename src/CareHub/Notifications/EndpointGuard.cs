using System.Net;
using System.Net.Sockets;

namespace CareHub.Notifications;

/// <summary>
/// Where notifications may go, against server-side request forgery: the scheme and host name are checked when a
/// Subscription is written, and the address actually connected to is checked at every connection
/// (<see cref="ConnectAsync"/>), so a name that resolves to an internal address later (DNS rebinding) is still refused.
/// </summary>
public sealed class EndpointGuard
{
    private readonly NotificationOptions options;
    private readonly IReadOnlyList<IPNetwork> networks;

    public EndpointGuard(NotificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        networks = options.AllowedNetworks.Select(n => IPNetwork.Parse(n)).ToList();
    }

    /// <summary>Why the endpoint may not be used (scheme, host, a literal address), or null when it may.</summary>
    public string? CheckEndpoint(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.Scheme != Uri.UriSchemeHttps && !(endpoint.Scheme == Uri.UriSchemeHttp && !options.RequireHttps))
        {
            return options.RequireHttps
                ? $"the endpoint must be an https URL (it is {endpoint.Scheme})"
                : $"the endpoint must be an http or https URL (it is {endpoint.Scheme})";
        }

        if (!string.IsNullOrEmpty(endpoint.UserInfo))
        {
            return "the endpoint may not carry credentials in the URL; send them in Subscription.channel.header";
        }

        if (IPAddress.TryParse(endpoint.IdnHost.Trim('[', ']'), out var literal))
        {
            return CheckAddress(literal);
        }

        if (options.AllowedHosts.Count > 0 && !options.AllowedHosts.Any(h => HostMatches(h, endpoint.IdnHost)))
        {
            return $"the endpoint's host {endpoint.IdnHost} is not one notifications may go to (CareHub:Notifications:AllowedHosts)";
        }

        return null;
    }

    /// <summary>Why a connection to <paramref name="address"/> is refused, or null when it is allowed.</summary>
    public string? CheckAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (networks.Any(n => n.Contains(address)))
        {
            return null;
        }

        if (IPAddress.IsLoopback(address))
        {
            return options.AllowLoopback ? null : "the endpoint is on a loopback address (CareHub:Notifications:AllowLoopback is off)";
        }

        if (!IsPublic(address))
        {
            return "the endpoint is on an internal or reserved address outside CareHub:Notifications:AllowedNetworks";
        }

        return options.AllowPublicAddresses ? null : "the endpoint's address is outside CareHub:Notifications:AllowedNetworks";
    }

    /// <summary>
    /// Resolves the host and connects to the first address the guard allows; fails, naming the reason, when none is. The
    /// connect callback of the delivery client, so every connection (the first and each after a pooled one closes) is checked.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken);
        string? refusal = null;
        foreach (var address in addresses)
        {
            if (CheckAddress(address) is { } why)
            {
                refusal ??= why;
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new EndpointRefusedException(refusal ?? "the endpoint's host has no address");
    }

    private static bool HostMatches(string pattern, string host) =>
        pattern.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);

    /// <summary>Globally routable unicast: not private (RFC 1918, RFC 4193), link-local, shared (RFC 6598), reserved, multicast or unspecified.</summary>
    private static bool IsPublic(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224
                || (b[0] == 100 && b[1] >= 64 && b[1] < 128)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] < 32)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)));
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var first = address.GetAddressBytes()[0];
            // Global unicast is 2000::/3; everything else (link-local, unique local, multicast, unspecified) is not public.
            return (first & 0xE0) == 0x20;
        }

        return false;
    }
}

/// <summary>A connection refused by the <see cref="EndpointGuard"/>: the reason names the rule, never patient data.</summary>
public sealed class EndpointRefusedException(string message) : Exception(message);
