using System.Globalization;
using System.Text.Json;

namespace CareHub.Server.Tests.Governance;

/// <summary>
/// A patient's record as the system client sees it (unfiltered): the resources of the patient's compartment. The oracle reads the facts the policy depends on from it: registration, encounters and episodes with their
/// organisations and periods, care teams, referrals, consents and sensitivity labels.
/// </summary>
public sealed record PatientRecord(string Id, IReadOnlyList<JsonElement> Resources)
{
    public const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string OdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";

    public JsonElement Patient => Resources.Single(r => Json.Type(r) == "Patient" && Json.Id(r) == Id);

    public string Reference => "Patient/" + Id;

    public string NhsNumber => Patient.GetProperty("identifier").EnumerateArray()
        .Single(i => i.GetProperty("system").GetString() == "https://fhir.nhs.uk/Id/nhs-number").GetProperty("value").GetString()!;

    public IEnumerable<JsonElement> OfType(string type) => Resources.Where(r => Json.Type(r) == type);

    /// <summary>The ODS codes of the GP practices the patient is registered with (generalPractitioner organisations).</summary>
    public IReadOnlyList<string> Practices => Json.References(Patient, "generalPractitioner")
        .Where(r => r.StartsWith("Organization/", StringComparison.Ordinal)).Select(r => r["Organization/".Length..]).ToList();

    /// <summary>Encounters at the organisation (serviceProvider) and episodes of care it manages, with their end (null: open).</summary>
    public IEnumerable<(JsonElement Resource, DateTimeOffset? End, bool HasPeriod)> CareAt(string ods) =>
        OfType("Encounter").Where(e => Json.References(e, "serviceProvider").Contains("Organization/" + ods))
            .Concat(OfType("EpisodeOfCare").Where(e => Json.References(e, "managingOrganization").Contains("Organization/" + ods)))
            .Select(e => (e, Json.PeriodEnd(e), e.TryGetProperty("period", out _)));

    /// <summary>Whether the organisation holds a current episode or encounter: open, or ended on or after <paramref name="since"/>.</summary>
    public bool CareSince(string ods, DateTimeOffset since) => CareAt(ods).Any(c => !c.HasPeriod || c.End is null || c.End >= since);

    /// <summary>Whether any encounter or episode ends within <paramref name="margin"/> of <paramref name="instant"/> (a relationship about to lapse).</summary>
    public bool CareEndsNear(DateTimeOffset instant, TimeSpan margin) =>
        OfType("Encounter").Concat(OfType("EpisodeOfCare")).Select(Json.PeriodEnd).Any(end => end is { } e && (e - instant).Duration() < margin);

    public bool HasCareAt(string ods) => CareAt(ods).Any();

    public IEnumerable<JsonElement> Consents(string effect) =>
        OfType("Consent").Where(c => c.GetProperty("status").GetString() == "active"
            && c.TryGetProperty("provision", out var p) && p.TryGetProperty("type", out var t) && t.GetString() == effect);

    public bool OptedOut => Consents("deny").Any();

    public bool ConsentsTo(string ods) => Consents("permit").Any(c => ConsentActors(c).Contains("Organization/" + ods));

    /// <summary>The condition ids carrying the v3 PSY label (mental health).</summary>
    public IReadOnlyList<string> MentalHealthConditions => OfType("Condition").Where(c => Json.Labels(c).Contains($"{ActCode}|PSY")).Select(Json.Id).ToList();

    /// <summary>The actors a consent's provision names, as relative references or <c>ods:CODE</c>; empty when it names none (everyone).</summary>
    public static IReadOnlyList<string> ConsentActors(JsonElement consent)
    {
        var actors = new List<string>();
        if (consent.TryGetProperty("provision", out var provision) && provision.TryGetProperty("actor", out var list))
        {
            foreach (var actor in list.EnumerateArray())
            {
                if (!actor.TryGetProperty("reference", out var reference))
                {
                    continue;
                }

                if (reference.TryGetProperty("reference", out var literal))
                {
                    actors.Add(literal.GetString()!);
                }
                else if (reference.TryGetProperty("identifier", out var identifier) && identifier.TryGetProperty("system", out var system)
                    && system.GetString() == OdsSystem)
                {
                    actors.Add("ods:" + identifier.GetProperty("value").GetString());
                }
            }
        }

        return actors;
    }
}

/// <summary>Small readers of FHIR JSON, so the oracle does not share the server's parsing.</summary>
public static class Json
{
    public const string SourcePrefix = "https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/";

    public static string Type(JsonElement resource) => resource.GetProperty("resourceType").GetString()!;

    public static string Id(JsonElement resource) => resource.GetProperty("id").GetString()!;

    public static string Key(JsonElement resource) => Type(resource) + "/" + Id(resource);

    /// <summary>The literal references of an element that is a Reference or a list of them.</summary>
    public static IReadOnlyList<string> References(JsonElement resource, string element)
    {
        if (!resource.TryGetProperty(element, out var value))
        {
            return [];
        }

        var items = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
        return items.Where(i => i.TryGetProperty("reference", out _)).Select(i => i.GetProperty("reference").GetString()!).ToList();
    }

    /// <summary>system|code of every coding in an element that is a CodeableConcept or a list of them.</summary>
    public static IReadOnlyList<string> Codes(JsonElement resource, string element)
    {
        if (!resource.TryGetProperty(element, out var value))
        {
            return [];
        }

        var concepts = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
        return concepts.Where(c => c.TryGetProperty("coding", out _))
            .SelectMany(c => c.GetProperty("coding").EnumerateArray())
            .Select(c => $"{(c.TryGetProperty("system", out var s) ? s.GetString() : "")}|{(c.TryGetProperty("code", out var k) ? k.GetString() : "")}")
            .ToList();
    }

    /// <summary>system|code of every Coding in an element that is a list of Codings (e.g. AuditEvent.subtype).</summary>
    public static IReadOnlyList<string> Codings(JsonElement resource, string element) =>
        resource.TryGetProperty(element, out var value)
            ? value.EnumerateArray().Select(c => $"{(c.TryGetProperty("system", out var s) ? s.GetString() : "")}|{(c.TryGetProperty("code", out var k) ? k.GetString() : "")}").ToList()
            : [];

    /// <summary>The security labels (meta.security) as system|code.</summary>
    public static IReadOnlyList<string> Labels(JsonElement resource) =>
        resource.TryGetProperty("meta", out var meta) && meta.TryGetProperty("security", out var security)
            ? security.EnumerateArray().Select(c => $"{c.GetProperty("system").GetString()}|{c.GetProperty("code").GetString()}").ToList()
            : [];

    /// <summary>The ODS code of the organisation the resource came from (meta.source as an ODS organisation URL), or null.</summary>
    public static string? Source(JsonElement resource)
    {
        if (!resource.TryGetProperty("meta", out var meta) || !meta.TryGetProperty("source", out var source)
            || source.GetString() is not { } text || !text.StartsWith(SourcePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = text[SourcePrefix.Length..];
        var end = rest.IndexOfAny(['#', '/', '?']);
        return (end < 0 ? rest : rest[..end]).ToUpperInvariant();
    }

    /// <summary>The end of <c>period</c> (the last instant it covers); null when there is no period or it is open.</summary>
    public static DateTimeOffset? PeriodEnd(JsonElement resource)
    {
        if (!resource.TryGetProperty("period", out var period) || !period.TryGetProperty("end", out var end))
        {
            return null;
        }

        var text = end.GetString()!;
        // A date alone covers the whole day (R4 search.html#date: the value is a range).
        return text.Length == 10
            ? DateTimeOffset.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).AddDays(1).AddTicks(-1)
            : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
    }
}
