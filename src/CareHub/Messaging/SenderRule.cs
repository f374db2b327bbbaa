using System.Net;
using CareHub.Hl7v2;

namespace CareHub.Messaging;

/// <summary>
/// The senders a channel takes messages from (<see cref="SourceOptions.Senders"/>), matched against MSH-3 (sending
/// application) and MSH-4 (sending facility) by their namespace ids (HD.1), exactly; <c>*</c> matches any application.
/// </summary>
public sealed class SenderRule(IReadOnlyList<string> senders)
{
    /// <summary>Null when the message's MSH-3 and MSH-4 name a configured sender (or none are configured), else why not.</summary>
    public string? Refusal(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (senders.Count == 0)
        {
            return null;
        }

        var application = message.Header[3].Component(1).Value;
        var facility = message.Header[4].Component(1).Value;
        foreach (var sender in senders)
        {
            var caret = sender.IndexOf('^', StringComparison.Ordinal);
            var (app, fac) = (sender[..caret], sender[(caret + 1)..]);
            if ((app == "*" || string.Equals(app, application, StringComparison.Ordinal)) && string.Equals(fac, facility, StringComparison.Ordinal))
            {
                return null;
            }
        }

        return $"sending application^facility (MSH-3^MSH-4) '{Printable(application)}^{Printable(facility)}' is not a configured sender of this channel";
    }

    /// <summary>Sender names are the peer's own text: keep them short and printable in the answer and the store.</summary>
    private static string Printable(string text)
    {
        var clean = new string([.. text.Where(c => !char.IsControl(c))]);
        return clean.Length > 40 ? clean[..40] : clean;
    }
}

/// <summary>An allowed source address: one IP address or a CIDR range, IPv4 or IPv6.</summary>
public readonly record struct AddressRange(IPNetwork Network)
{
    /// <summary>Parses <c>10.1.2.3</c> (one address) or <c>10.1.0.0/16</c>; false for anything else.</summary>
    public static bool TryParse(string? text, out AddressRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (!text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var single))
        {
            range = new AddressRange(new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            return true;
        }

        if (IPNetwork.TryParse(text, out var network))
        {
            range = new AddressRange(network);
            return true;
        }

        return false;
    }

    /// <summary>True when the address is in the range; an IPv4 address seen through a dual-stack socket (::ffff:a.b.c.d) counts as IPv4.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return Network.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }

    /// <summary>The ranges of a channel's <c>AllowedAddresses</c> (checked at start, so every entry parses).</summary>
    public static IReadOnlyList<AddressRange> ParseAll(IEnumerable<string> texts) =>
        [.. texts.Select(t => TryParse(t, out var r) ? r : throw new FormatException($"'{t}' is not an IP address or CIDR range."))];
}
