namespace CareHub.Search;

/// <summary>
/// A terminology held outside the record (SNOMED CT, loaded into its own store) that answers the search modifiers
/// :below and :above for its code system and :in and :not-in for its implicit value sets, as lists of codes. Search
/// asks it before parsing (<see cref="SearchLookups.LoadAsync"/>), as it reads the stored ValueSets and CodeSystems.
/// </summary>
public interface ISearchTerminology
{
    /// <summary>True when <paramref name="system"/> is this terminology's code system (and so :below and :above are answered here).</summary>
    bool Holds(string system);

    /// <summary>True when <paramref name="url"/> is one of this terminology's implicit value sets.</summary>
    bool HoldsValueSet(string url);

    /// <summary>
    /// The code and the codes below it (or, with <paramref name="below"/> false, above it). More than
    /// <paramref name="max"/> codes, an unknown code or a malformed value is a 400 naming <paramref name="rawName"/>.
    /// </summary>
    Task<IReadOnlyList<string>> SubsumptionAsync(string rawName, string system, string code, bool below, int max, CancellationToken cancellationToken);

    /// <summary>The codes of the implicit value set <paramref name="url"/>, at most <paramref name="max"/> (beyond that, a 400).</summary>
    Task<IReadOnlyList<(string System, string Code)>> ExpandAsync(string rawName, string url, int max, CancellationToken cancellationToken);
}
