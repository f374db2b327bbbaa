namespace CareHub.Storage;

/// <summary>
/// Reads of committed data with no access policy and no audit: CareHub's own look-ups, which need the record as it is
/// rather than as a caller may see it. The access policy's own checks (an organisation by ODS code, the data sharing
/// agreements), search's reference data (terminology for <c>:in</c> and <c>:below</c>, locations for <c>near</c>, custom
/// search parameters), the read views' reads of what the door already judged visible, the master person index's
/// candidates and the development login's citizen look-up. Never a read on behalf of a caller: that goes through
/// <see cref="Records.RecordService"/>, where the policy decides and the audit records it. A look-up's
/// <see cref="StoreQuery"/> says why it may see everything (<see cref="QueryScope.Internal"/>); the store refuses a
/// caller's query the door has not governed. Both SQL stores implement it; <see cref="IRecordStore"/> extends it, as the
/// door reads through the same methods with queries it has governed.
/// </summary>
public interface IRecordLookups
{
    /// <summary>The current version of a resource (deleted ones included, as tombstones), or a given version.</summary>
    Task<StoredResource?> ReadAsync(string type, string id, int? version, CancellationToken cancellationToken);

    /// <summary>The current versions of those of <paramref name="ids"/> that exist and are not deleted, in one statement, in no particular order.</summary>
    Task<IReadOnlyList<StoredResource>> ReadManyAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Current, non-deleted resources of one type matching every clause, ordered by id.</summary>
    Task<SearchPage> SearchAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>Ids of current, non-deleted resources matching the query, ordered by id: <see cref="SearchAsync"/> without the bodies.</summary>
    Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken);
}
