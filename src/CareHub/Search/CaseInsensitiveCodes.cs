namespace CareHub.Search;

/// <summary>
/// Code systems whose codes mean the same whatever their case, so a token search matches them regardless of case:
/// LOINC, whose FHIR page says its codes are not case sensitive (R4 loinc.html). Their codes are indexed and searched in
/// upper case, the case LOINC publishes them in; a search must name the system (<c>system|code</c>) for this to apply,
/// since a code alone says nothing about whose case rules hold.
/// </summary>
public static class CaseInsensitiveCodes
{
    private static readonly HashSet<string> Systems = new(StringComparer.Ordinal) { "http://loinc.org" };

    public static bool Applies(string? system) => system is not null && Systems.Contains(system);

    /// <summary>The code as indexed and searched: upper case for a case-insensitive system, as written otherwise.</summary>
    public static string Fold(string? system, string code) => Applies(system) ? code.ToUpperInvariant() : code;
}
