namespace CareHub.Search;

/// <summary>
/// How much one search may ask for, wherever its criteria come from (the query string, POST _search, conditional
/// interactions, searches and conditions in Bundles). Each bound makes the SQL a search becomes bounded in size and
/// nesting; past one, the search is refused with a 400 naming the limit. Bound from <c>CareHub:Search</c>.
/// </summary>
public sealed record SearchLimits
{
    public const string SectionName = "CareHub:Search";

    public static readonly SearchLimits Default = new();

    /// <summary>Links in one chain: <c>subject:Patient.organization.name</c> has 2.</summary>
    public int MaxChainDepth { get; init; } = 4;

    /// <summary>Nested <c>_has</c> in one parameter: <c>_has:Observation:patient:_has:AuditEvent:entity:agent=x</c> has 2.</summary>
    public int MaxHasDepth { get; init; } = 4;

    /// <summary>Values joined by commas (OR) in one parameter.</summary>
    public int MaxOrValues { get; init; } = 100;

    /// <summary>Parameters in one search, criteria and result parameters together.</summary>
    public int MaxParameters { get; init; } = 100;

    public void Validate()
    {
        foreach (var (name, value) in new[] { (nameof(MaxChainDepth), MaxChainDepth), (nameof(MaxHasDepth), MaxHasDepth), (nameof(MaxOrValues), MaxOrValues), (nameof(MaxParameters), MaxParameters) })
        {
            if (value is < 1 or > 1000)
            {
                throw new InvalidOperationException($"{SectionName}:{name} must be between 1 and 1000 (it is {value}).");
            }
        }
    }
}
