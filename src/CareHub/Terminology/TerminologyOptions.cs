namespace CareHub.Terminology;

/// <summary>Settings of the terminology operations (<c>CareHub:Terminology</c>).</summary>
public sealed record TerminologyOptions
{
    public const string SectionName = "CareHub:Terminology";

    /// <summary>
    /// The most codes an expansion may hold when the request gives neither a text <c>filter</c> nor a <c>count</c>
    /// (and the most a page may hold): beyond it <c>$expand</c> is refused as too costly, and a search modifier as too broad.
    /// </summary>
    public int MaxExpansion { get; init; } = 10_000;

    /// <summary>The most expansions kept in memory; the cache is emptied when it is full.</summary>
    public int CachedExpansions { get; init; } = 1_000;

    /// <summary>
    /// The code system each SNOMED CT map refset maps to, by refset id, for <c>$translate</c>. The defaults are the
    /// International edition's ICD-10 extended map and the CTV3 simple map; a refset not listed answers with the system
    /// <c>http://snomed.info/sct?fhir_cm=[refset id]</c>.
    /// </summary>
    public Dictionary<string, string> MapTargets { get; init; } = new(StringComparer.Ordinal)
    {
        ["447562003"] = "http://hl7.org/fhir/sid/icd-10",
        ["900000000000497000"] = "http://read.info/ctv3",
    };

    /// <summary>Fails fast with the setting's path when a value cannot work.</summary>
    public void Validate()
    {
        if (MaxExpansion < 1)
        {
            throw new InvalidOperationException($"{SectionName}:MaxExpansion must be at least 1.");
        }

        if (CachedExpansions < 0)
        {
            throw new InvalidOperationException($"{SectionName}:CachedExpansions must not be negative.");
        }
    }
}
