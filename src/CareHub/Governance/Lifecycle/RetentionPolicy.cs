using System.Globalization;
using System.Text.Json.Nodes;
using CareHub.Storage;

namespace CareHub.Governance.Lifecycle;

/// <summary>
/// Applies the retention rules to one resource (docs/lifecycle.md). Conservative throughout: no matching rule, a keep
/// rule, a legal hold, a missing date or birth date, or any matching rule still running all keep the resource; it is
/// expired only when every matching rule's period has ended, and the rule that ends last is the one reported.
/// </summary>
public sealed class RetentionPolicy
{
    private readonly IReadOnlyList<RetentionRule> rules;

    public RetentionPolicy(RetentionOptions options)
    {
        options.Validate();
        rules = options.EffectiveRules;
    }

    /// <summary>The types some rule may purge, in a stable order.</summary>
    public IReadOnlyList<string> PurgeableTypes =>
        [.. rules.Where(r => !r.Keep).SelectMany(r => r.ResourceTypes).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Only resources last updated at or before this can be expired, or null when a rule of the type counts from a date
    /// element (which may lie anywhere): every other anchor is at or after the resource's own lastUpdated.
    /// </summary>
    public DateTimeOffset? ScanCutoff(string type, DateTimeOffset asOf)
    {
        var purging = rules.Where(r => !r.Keep && r.ResourceTypes.Contains(type, StringComparer.Ordinal)).ToList();
        if (purging.Count == 0 || purging.Any(r => r.From is not (RetentionRule.LastUpdated or RetentionRule.PatientLastActivity)))
        {
            return null;
        }

        return purging.Select(r => r.RetainFor!.Value.Before(asOf)).Max();
    }

    /// <summary>
    /// Decides for the current version of a resource; <paramref name="body"/> is its body, or for a deleted resource the
    /// body of its last version that had one (categories and holds are read from it).
    /// </summary>
    public async Task<RetentionDecision> DecideAsync(IGovernanceStore store, StoredResource current, string? body, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        var resource = body is null ? null : JsonNode.Parse(body) as JsonObject;
        if (resource is not null && HasCoding(resource["meta"]?["tag"], LifecycleCodes.System, LifecycleCodes.LegalHold))
        {
            return new RetentionDecision(false, "legal hold");
        }

        var matching = rules.Where(r => r.ResourceTypes.Contains(current.Type, StringComparer.Ordinal) && CategoryMatches(r, resource)).ToList();
        if (matching.Count == 0)
        {
            return new RetentionDecision(false, "no rule");
        }

        if (matching.FirstOrDefault(r => r.Keep) is { } keep)
        {
            return new RetentionDecision(false, keep.Name);
        }

        DateTimeOffset? latest = null;
        string? binding = null;
        foreach (var rule in matching)
        {
            var start = rule.From switch
            {
                RetentionRule.LastUpdated => current.LastUpdated,
                RetentionRule.PatientLastActivity => await store.LastPatientActivityAsync(current.Type, current.Id, cancellationToken),
                _ => resource is null ? null : LatestDate(resource, rule.From),
            };
            if (start is null)
            {
                return new RetentionDecision(false, $"{rule.Name}: no {rule.From}");
            }

            var end = rule.RetainFor!.Value.After(start.Value);
            if (end > asOf)
            {
                return new RetentionDecision(false, $"{rule.Name}: until {end:yyyy-MM-dd}");
            }

            if (rule.MinimumPatientAge is { } age && !await PatientsAreAtLeastAsync(store, current, age, asOf, cancellationToken))
            {
                return new RetentionDecision(false, $"{rule.Name}: patient younger than {age} or birth date unknown");
            }

            if (latest is null || end > latest)
            {
                (latest, binding) = (end, rule.Name);
            }
        }

        return new RetentionDecision(true, binding!, latest);
    }

    private static bool CategoryMatches(RetentionRule rule, JsonObject? resource)
    {
        if (rule.Category is null)
        {
            return true;
        }

        if (resource is null)
        {
            return false;
        }

        var bar = rule.Category.IndexOf('|', StringComparison.Ordinal);
        var (system, code) = bar < 0 ? ((string?)null, rule.Category) : (rule.Category[..bar], rule.Category[(bar + 1)..]);
        if (HasCoding(resource["meta"]?["tag"], system, code) || HasCoding(resource["meta"]?["security"], system, code))
        {
            return true;
        }

        return resource["category"] switch
        {
            JsonArray concepts => concepts.Any(c => HasCoding(c?["coding"], system, code)),
            JsonObject concept => HasCoding(concept["coding"], system, code),
            _ => false,
        };
    }

    private static bool HasCoding(JsonNode? codings, string? system, string code) =>
        codings is JsonArray array && array.Any(c =>
            c?["code"]?.GetValue<string>() == code && (system is null || c["system"]?.GetValue<string>() == system));

    /// <summary>The latest value of a date element (every repetition along the path), counted from the end of its precision.</summary>
    private static DateTimeOffset? LatestDate(JsonNode resource, string path)
    {
        IEnumerable<JsonNode?> nodes = [resource];
        foreach (var step in path.Split('.'))
        {
            nodes = nodes.SelectMany<JsonNode?, JsonNode?>(n => n?[step] switch
            {
                JsonArray array => array,
                JsonNode node => [node],
                null => Array.Empty<JsonNode?>(),
            }).ToList();
        }

        DateTimeOffset? latest = null;
        foreach (var node in nodes)
        {
            if (node is JsonValue value && value.TryGetValue<string>(out var text) && EndOf(text) is { } end && (latest is null || end > latest))
            {
                latest = end;
            }
        }

        return latest;
    }

    /// <summary>
    /// The end of a FHIR date, dateTime or instant (FHIR R4 datatypes.html#dateTime): a year ends at the next year, a month
    /// at the next month, a day at the next day, a time is exact; a dateTime without a zone is taken as UTC.
    /// </summary>
    internal static DateTimeOffset? EndOf(string text)
    {
        var styles = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        return text.Length switch
        {
            4 when DateTimeOffset.TryParseExact(text, "yyyy", CultureInfo.InvariantCulture, styles, out var year) => year.AddYears(1),
            7 when DateTimeOffset.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, styles, out var month) => month.AddMonths(1),
            10 when DateTimeOffset.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, styles, out var day) => day.AddDays(1),
            > 10 when DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, styles, out var time) => time,
            _ => null,
        };
    }

    private static async Task<bool> PatientsAreAtLeastAsync(IGovernanceStore store, StoredResource current, int age, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        var patients = await store.PatientsOfAsync(current.Type, current.Id, cancellationToken);
        if (patients.Count == 0)
        {
            return false;
        }

        foreach (var id in patients)
        {
            var patient = await store.ReadAsync("Patient", id, null, cancellationToken);
            var birthDate = patient?.Json is { } json ? (JsonNode.Parse(json)?["birthDate"]?.GetValue<string>()) : null;
            // The latest moment the birth date allows: a patient born "1990" is taken as born at the end of 1990.
            if (birthDate is null || EndOf(birthDate) is not { } born || born.AddYears(age) > asOf)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Why a resource is kept or may go: the rule that decides, and when its retention ended (for an expired one).</summary>
public sealed record RetentionDecision(bool Expired, string Reason, DateTimeOffset? ExpiredAt = null);
