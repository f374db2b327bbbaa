using CareHub.Storage;

namespace CareHub.Governance;

/// <summary>
/// What the governance jobs need below the one door: reading the audit chain to verify it (<see cref="AuditChain"/>),
/// scanning current versions and patient activity to judge retention, and removing an expired resource for good
/// (<see cref="Lifecycle.PurgeJob"/>), which no interaction of the door can do. Operators run these jobs (the
/// <c>audit verify</c> and <c>purge</c> commands); no caller's request reaches them. Both SQL stores implement it.
/// </summary>
public interface IGovernanceStore : IRecordLookups
{
    /// <summary>
    /// The audit chain in sequence order, each entry with the audit version it points at as stored now (null when that
    /// row is gone). Every AuditEvent version the store writes, by either write path, is chained at commit (docs/decisions/audit.md).
    /// </summary>
    IAsyncEnumerable<AuditChainEntry> ReadAuditChainAsync(CancellationToken cancellationToken);

    /// <summary>
    /// AuditEvent versions that have no chain entry: those written before the chain existed (counted), and the first few
    /// written after it (which only a write behind the store's back can produce).
    /// </summary>
    Task<UnchainedAudit> ReadUnchainedAuditAsync(int max, CancellationToken cancellationToken);

    /// <summary>
    /// Current versions (tombstones included) of one type, ordered by id, after <paramref name="afterId"/>; only those
    /// last updated at or before <paramref name="updatedBefore"/> when it is given.
    /// </summary>
    Task<IReadOnlyList<StoredResource>> ScanCurrentAsync(string type, DateTimeOffset? updatedBefore, string? afterId, int count, CancellationToken cancellationToken);

    /// <summary>
    /// The last activity on the record of the patients a resource belongs to: the latest lastUpdated of the resource, of
    /// the Patients it references (or itself, for a Patient) and of every current resource that references those Patients,
    /// audit records apart. Null when the resource does not exist.
    /// </summary>
    Task<DateTimeOffset?> LastPatientActivityAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>The ids of the Patients a resource references (through its indexed reference parameters).</summary>
    Task<IReadOnlyList<string>> PatientsOfAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a resource for good, in one transaction: every version, its search index rows and its change-feed events,
    /// and writes the version <paramref name="audit"/> makes of the number of versions removed (the purge's audit record)
    /// in the same transaction. Returns that number, or null, with nothing changed, when the resource's current version is
    /// not <paramref name="expectedVersion"/> (it changed since it was judged expired). AuditEvents cannot be purged: they
    /// are links of the audit chain.
    /// </summary>
    Task<int?> PurgeAsync(string type, string id, int expectedVersion, Func<int, VersionWrite> audit, CancellationToken cancellationToken);
}

/// <summary>
/// One link of the audit chain: its <see cref="Sequence"/> (1, 2, 3, ... in commit order), the audit version it covers
/// (<see cref="VersionSequence"/>, <see cref="AuditId"/>), the SHA-256 of that version's stored body and the chain hash, as
/// recorded at commit; and that version as stored now (<see cref="StoredId"/> and <see cref="StoredBody"/>, null when
/// the row is gone).
/// </summary>
public sealed record AuditChainEntry(
    long Sequence,
    string AuditId,
    long VersionSequence,
    byte[] BodyHash,
    byte[] Hash,
    string? StoredId,
    string? StoredBody);

/// <summary>
/// Audit versions outside the chain: <see cref="BeforeChain"/> written before the chain began (not covered), and the
/// first of those written after it (<see cref="Unchained"/>, by version sequence).
/// </summary>
public sealed record UnchainedAudit(long BeforeChain, IReadOnlyList<(long VersionSequence, string Id)> Unchained);
