using CareHub.Fhir;

namespace CareHub.Server.Fhir;

/// <summary>Bounds on the work one FHIR request may cause. Bound from <c>CareHub:Fhir</c>; see docs/search.md, "Limits".</summary>
public sealed record FhirOptions
{
    public const string SectionName = "CareHub:Fhir";

    /// <summary>
    /// How deep a JSON or XML body may nest (objects and arrays, or elements), checked before the FHIR parser runs;
    /// deeper bodies get a 400. Real resources stay below 20 levels.
    /// </summary>
    public int MaxNestingDepth { get; init; } = FhirInputCheck.DefaultMaxDepth;

    /// <summary>
    /// How long one read or search may keep the database working; past it the work is cancelled and the client gets a 503
    /// saying the request took too long.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (MaxNestingDepth is < 10 or > 1000)
        {
            throw new InvalidOperationException($"{SectionName}:MaxNestingDepth must be between 10 and 1000 (it is {MaxNestingDepth}).");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:RequestTimeout must be positive, e.g. 00:00:10 (it is {RequestTimeout}).");
        }
    }
}
