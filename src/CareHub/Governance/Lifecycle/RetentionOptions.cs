using System.ComponentModel;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CareHub.Governance.Lifecycle;

/// <summary>
/// Retention rules, bound from <c>CareHub:Retention</c> (docs/lifecycle.md). A resource is purged only when at least one
/// rule names its type and category, no matching rule keeps it, it carries no legal hold, and every matching rule's
/// period has run out. Types no rule names are kept for ever: nothing is purged unless a rule says so.
/// </summary>
public sealed partial record RetentionOptions
{
    public const string SectionName = "CareHub:Retention";

    /// <summary>The rules; when configuration gives none, <see cref="DefaultRules"/>. Configured rules replace the defaults whole.</summary>
    public List<RetentionRule>? Rules { get; init; }

    /// <summary>The rules in force.</summary>
    public IReadOnlyList<RetentionRule> EffectiveRules => Rules ?? DefaultRules;

    /// <summary>The resource types of a patient's health record that the default rules cover.</summary>
    public static readonly IReadOnlyList<string> ClinicalTypes =
    [
        "AllergyIntolerance", "CarePlan", "CareTeam", "ClinicalImpression", "Communication", "Composition", "Condition",
        "DiagnosticReport", "DocumentReference", "Encounter", "EpisodeOfCare", "FamilyMemberHistory", "Flag", "Goal",
        "Immunization", "MedicationAdministration", "MedicationDispense", "MedicationRequest", "MedicationStatement",
        "Observation", "Procedure", "QuestionnaireResponse", "RiskAssessment", "ServiceRequest", "Specimen",
    ];

    /// <summary>
    /// Conservative defaults after the NHS Records Management Code of Practice 2021 (Appendix II, retention schedule):
    /// records a GP practice holds are kept (the Code keeps GP records until 10 years after death, which CareHub cannot
    /// yet tell); adult hospital and community health records are kept 8 years after the conclusion of treatment, read
    /// here as 8 years after the last activity on any part of the patient's record, and only once the patient is 26 or
    /// older (children's records are kept until their 25th or 26th birthday); everything else, patients and directory
    /// entries included, is kept. Audit records are never purged (the Code asks for at least 6 years; the audit chain
    /// needs them all).
    /// </summary>
    public static readonly IReadOnlyList<RetentionRule> DefaultRules =
    [
        new()
        {
            Name = "gp-record",
            ResourceTypes = [.. ClinicalTypes],
            Category = LifecycleCodes.System + "|" + LifecycleCodes.GpRecord,
            Keep = true,
        },
        new()
        {
            Name = "adult-health-record",
            ResourceTypes = [.. ClinicalTypes],
            RetainFor = RetentionPeriod.Parse("P8Y"),
            From = RetentionRule.PatientLastActivity,
            MinimumPatientAge = 26,
        },
    ];

    /// <summary>Fails fast with a message naming the rule and what is wrong with it.</summary>
    public void Validate()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in EffectiveRules)
        {
            if (string.IsNullOrWhiteSpace(rule.Name) || !names.Add(rule.Name))
            {
                throw new InvalidOperationException($"{SectionName}:Rules: every rule needs a name of its own ('{rule.Name}').");
            }

            if (rule.ResourceTypes is not { Count: > 0 })
            {
                throw new InvalidOperationException($"{SectionName}:Rules '{rule.Name}' names no ResourceTypes.");
            }

            if (rule.ResourceTypes.Contains("AuditEvent", StringComparer.Ordinal))
            {
                throw new InvalidOperationException(
                    $"{SectionName}:Rules '{rule.Name}' names AuditEvent: audit records are links of the tamper-evident audit chain and are never purged.");
            }

            if (rule.Keep == (rule.RetainFor is not null))
            {
                throw new InvalidOperationException($"{SectionName}:Rules '{rule.Name}' needs either Keep: true or a RetainFor period (e.g. \"P8Y\"), not both.");
            }

            if (rule.RetainFor is { IsPositive: false })
            {
                throw new InvalidOperationException($"{SectionName}:Rules '{rule.Name}' has an empty RetainFor period.");
            }

            if (rule.From is not (RetentionRule.LastUpdated or RetentionRule.PatientLastActivity) && !ElementPath().IsMatch(rule.From))
            {
                throw new InvalidOperationException(
                    $"{SectionName}:Rules '{rule.Name}' From must be lastUpdated, patientLastActivity or a dotted element path such as period.end, not '{rule.From}'.");
            }

            if (rule.MinimumPatientAge is < 0 or > 150)
            {
                throw new InvalidOperationException($"{SectionName}:Rules '{rule.Name}' MinimumPatientAge must be between 0 and 150 years.");
            }
        }
    }

    [GeneratedRegex("^[a-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*)*$")]
    private static partial Regex ElementPath();
}

/// <summary>One retention rule: which resources it covers, and how long they are kept or that they are kept for ever.</summary>
public sealed record RetentionRule
{
    /// <summary>The period runs from the resource's meta.lastUpdated.</summary>
    public const string LastUpdated = "lastUpdated";

    /// <summary>The period runs from the last activity on the record of the patient the resource belongs to.</summary>
    public const string PatientLastActivity = "patientLastActivity";

    /// <summary>Shown in dry runs and written into the purge's audit record.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The resource types the rule covers (AuditEvent is refused).</summary>
    public List<string> ResourceTypes { get; init; } = [];

    /// <summary>
    /// The data category, as <c>system|code</c> (or a bare code), matched against the codings of the resource's
    /// <c>category</c>, <c>meta.tag</c> and <c>meta.security</c>; none covers every resource of the types.
    /// </summary>
    public string? Category { get; init; }

    /// <summary>Kept for ever: no other rule can purge what this rule covers.</summary>
    public bool Keep { get; init; }

    /// <summary>How long after <see cref="From"/> the resource is kept, as an ISO 8601 period (P8Y, P6M, P30D).</summary>
    public RetentionPeriod? RetainFor { get; init; }

    /// <summary>
    /// Where the period starts: <see cref="LastUpdated"/> (the default), <see cref="PatientLastActivity"/>, or a date
    /// element of the resource as a dotted path (<c>period.end</c>, <c>effectiveDateTime</c>); a resource without that
    /// element is kept, and a partial date counts from its end (2015 from the end of 2015).
    /// </summary>
    public string From { get; init; } = LastUpdated;

    /// <summary>Kept while the patient is younger than this (years, at the as-of date); a patient without a birth date is kept.</summary>
    public int? MinimumPatientAge { get; init; }
}

/// <summary>A calendar period of years, months and days, written as ISO 8601 (P8Y, P1Y6M, P30D).</summary>
[TypeConverter(typeof(RetentionPeriodConverter))]
public readonly partial record struct RetentionPeriod(int Years, int Months, int Days)
{
    public bool IsPositive => Years >= 0 && Months >= 0 && Days >= 0 && Years + Months + Days > 0;

    public DateTimeOffset After(DateTimeOffset start) => start.AddYears(Years).AddMonths(Months).AddDays(Days);

    public DateTimeOffset Before(DateTimeOffset end) => end.AddDays(-Days).AddMonths(-Months).AddYears(-Years);

    public static RetentionPeriod Parse(string text)
    {
        var match = Pattern().Match(text.Trim());
        if (!match.Success || match.Length == 1)
        {
            throw new FormatException($"'{text}' is not a period such as P8Y, P6M or P30D.");
        }

        static int Part(Group group) => group.Success ? int.Parse(group.Value, NumberStyles.None, CultureInfo.InvariantCulture) : 0;
        return new RetentionPeriod(Part(match.Groups[1]), Part(match.Groups[2]), Part(match.Groups[3]));
    }

    public override string ToString() =>
        "P" + (Years > 0 ? $"{Years}Y" : string.Empty) + (Months > 0 ? $"{Months}M" : string.Empty) + (Days > 0 || Years + Months == 0 ? $"{Days}D" : string.Empty);

    [GeneratedRegex("^P(?:([0-9]{1,4})Y)?(?:([0-9]{1,4})M)?(?:([0-9]{1,6})D)?$")]
    private static partial Regex Pattern();
}

/// <summary>Lets configuration bind "P8Y" to a <see cref="RetentionPeriod"/>.</summary>
public sealed class RetentionPeriodConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text ? RetentionPeriod.Parse(text) : base.ConvertFrom(context, culture, value);
}

/// <summary>CareHub's lifecycle codes (meta.tag).</summary>
public static class LifecycleCodes
{
    public const string System = "https://carehub.local/fhir/CodeSystem/lifecycle";

    /// <summary>On a resource's current version: never purged, whatever the rules say.</summary>
    public const string LegalHold = "legal-hold";

    /// <summary>Data held for a GP practice (tagged by the channel or import that brings it): kept by the default rules.</summary>
    public const string GpRecord = "gp-record";
}
