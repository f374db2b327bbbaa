using CareHub.Fhir;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Notifications;

/// <summary>
/// What an R4 Subscription asks for (R4 subscription.html), checked: criteria as a FHIR search, a rest-hook channel with its
/// endpoint and headers, and the payload. Every problem is refused with the <see cref="FhirException"/> naming it, before
/// anything is stored or activated.
/// </summary>
public sealed record SubscriptionRequest(string ResourceType, string Criteria, IReadOnlyList<KeyValuePair<string, string>> Parameters, Uri Endpoint,
    IReadOnlyList<string> Headers, string Payload)
{
    /// <summary>The backport's payload-content extension on <c>channel.payload</c>: empty, id-only or full-resource.</summary>
    public const string PayloadContentExtension = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";

    /// <summary>What a notification carries.</summary>
    public static class Payloads
    {
        /// <summary>No body: the endpoint is told that something matched, and searches itself (R4: no <c>channel.payload</c>).</summary>
        public const string None = "none";

        /// <summary>A history Bundle naming the changed resource (type, id, version), without its content.</summary>
        public const string IdOnly = "id-only";

        /// <summary>The resource itself, when the subscriber may read it; otherwise id-only.</summary>
        public const string FullResource = "full-resource";
    }

    /// <summary>Reads and checks <paramref name="subscription"/>; throws the refusal naming the first problem.</summary>
    public static SubscriptionRequest Read(Subscription subscription, EndpointGuard guard, NotificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(subscription.Criteria))
        {
            throw new InvalidInputException("Subscription.criteria is required: a FHIR search such as Observation?patient=Patient/123&code=http://loinc.org|8867-4.", "Subscription.criteria");
        }

        var (type, parameters) = ParseCriteria(subscription.Criteria);
        try
        {
            RecordService.CheckCriteria(type, parameters);
        }
        catch (FhirException e)
        {
            throw e.WithDiagnosticsPrefix("Subscription.criteria: ");
        }

        var channel = subscription.Channel ?? throw new InvalidInputException("Subscription.channel is required.", "Subscription.channel");
        if (channel.Type != Subscription.SubscriptionChannelType.RestHook)
        {
            throw new UnprocessableException(
                $"Subscription.channel.type {channel.TypeElement?.JsonValue ?? "(none)"} is not supported here; CareHub delivers rest-hook channels.", "Subscription.channel.type");
        }

        if (!Uri.TryCreate(channel.Endpoint, UriKind.Absolute, out var endpoint))
        {
            throw new InvalidInputException("Subscription.channel.endpoint must be an absolute URL.", "Subscription.channel.endpoint");
        }

        if (guard.CheckEndpoint(endpoint) is { } refusal)
        {
            throw new UnprocessableException($"Subscription.channel.endpoint is refused: {refusal}.", "Subscription.channel.endpoint");
        }

        var headers = channel.Header?.Select(h => h ?? string.Empty).ToList() ?? [];
        if (headers.Count > options.MaxHeaders)
        {
            throw new InvalidInputException($"Subscription.channel.header has {headers.Count} values; at most {options.MaxHeaders} are allowed.", "Subscription.channel.header");
        }

        foreach (var header in headers)
        {
            CheckHeader(header);
        }

        return new SubscriptionRequest(type, subscription.Criteria, parameters, endpoint, headers, PayloadOf(channel));
    }

    /// <summary>Splits <c>Type?a=1&amp;b=2</c> into the type and its decoded parameters.</summary>
    public static (string Type, IReadOnlyList<KeyValuePair<string, string>> Parameters) ParseCriteria(string criteria)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        var question = criteria.IndexOf('?', StringComparison.Ordinal);
        var type = question < 0 ? criteria : criteria[..question];
        var parameters = new List<KeyValuePair<string, string>>();
        if (question >= 0)
        {
            foreach (var pair in criteria[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new InvalidInputException($"Subscription.criteria: '{FhirException.Excerpt(pair)}' is not a name=value search parameter.", "Subscription.criteria");
                }

                parameters.Add(new(Uri.UnescapeDataString(pair[..equals]), Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '))));
            }
        }

        return (type.Trim(), parameters);
    }

    private static string PayloadOf(Subscription.ChannelComponent channel)
    {
        if (channel.PayloadElement is not { Value: { } mime } payload)
        {
            return Payloads.None;
        }

        if (!mime.StartsWith("application/fhir+json", StringComparison.OrdinalIgnoreCase) && !mime.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new UnprocessableException($"Subscription.channel.payload {FhirException.Excerpt(mime)} is not supported; use application/fhir+json, or leave it out for no payload.",
                "Subscription.channel.payload");
        }

        var content = payload.GetExtensionValue<Code>(PayloadContentExtension)?.Value;
        return content switch
        {
            null or "full-resource" => Payloads.FullResource,
            "id-only" => Payloads.IdOnly,
            "empty" => Payloads.None,
            _ => throw new InvalidInputException($"The payload-content extension's value must be empty, id-only or full-resource (it is {FhirException.Excerpt(content)}).",
                "Subscription.channel.payload"),
        };
    }

    /// <summary>A header is <c>Name: value</c>, with a token name and a value without line breaks (RFC 9110, section 5).</summary>
    private static void CheckHeader(string header)
    {
        var colon = header.IndexOf(':', StringComparison.Ordinal);
        var name = colon > 0 ? header[..colon].Trim() : string.Empty;
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal))
            || header.Contains('\r', StringComparison.Ordinal) || header.Contains('\n', StringComparison.Ordinal))
        {
            throw new InvalidInputException("Subscription.channel.header values must be 'Name: value' with a token name and no line breaks.", "Subscription.channel.header");
        }

        if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Host", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidInputException($"Subscription.channel.header may not set {name}: CareHub sets it.", "Subscription.channel.header");
        }
    }
}
