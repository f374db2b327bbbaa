namespace CareHub.Storage;

/// <summary>
/// The store contract: everything the record needs from a database, and nothing more. Two implementations
/// (SQLite, PostgreSQL) pass one contract test suite. Only <see cref="Records.RecordService"/> calls it.
/// </summary>
public interface IRecordStore : IAsyncDisposable
{
    /// <summary>A short name of the backend, for logs and the CapabilityStatement.</summary>
    string Backend { get; }

    /// <summary>Applies the numbered migrations this build knows; fails when the database is newer than the build.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>The current version of a resource (deleted ones included, as tombstones), or a given version.</summary>
    Task<StoredResource?> ReadAsync(string type, string id, int? version, CancellationToken cancellationToken);

    /// <summary>The current versions of those of <paramref name="ids"/> that exist and are not deleted, in one statement, in no particular order.</summary>
    Task<IReadOnlyList<StoredResource>> ReadManyAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Versions newest first, at instance, type or system level.</summary>
    Task<HistoryPage> HistoryAsync(HistoryQuery query, CancellationToken cancellationToken);

    /// <summary>Current, non-deleted resources of one type matching every clause, ordered by id.</summary>
    Task<SearchPage> SearchAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>Ids of current, non-deleted resources matching the query, ordered by id: <see cref="SearchAsync"/> without the bodies.</summary>
    Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// For each of <paramref name="codes"/>, the ids of the current resources of <paramref name="type"/> with a token index
    /// row <paramref name="param"/> = that code and no system, at most <paramref name="limit"/> each, in one statement: the
    /// blocks of a set of blocking keys.
    /// </summary>
    Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The position of the last committed change event (0 when there is none). Read before reading committed data, it
    /// marks what a later transaction must look at again: <see cref="IWriteSession.ChangedSinceAsync"/>. The feed itself is
    /// <see cref="IChangeFeed"/>.
    /// </summary>
    Task<long> FeedEndAsync(CancellationToken cancellationToken);

    /// <summary>Writes server-generated records (audit events of reads and denials) in one transaction, without change events.</summary>
    Task AppendAsync(IReadOnlyList<VersionWrite> writes, CancellationToken cancellationToken);

    /// <summary>Starts a write transaction. Writes are invisible to readers until <see cref="IWriteSession.CommitAsync"/>.</summary>
    Task<IWriteSession> BeginWriteAsync(CancellationToken cancellationToken);

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
    /// last updated at or before <paramref name="updatedBefore"/> when it is given. For the retention job.
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
    /// Brings the query planner's statistics up to date and returns when they are: loaders call it after a bulk load
    /// (demo, import, reindex), so the first searches after it are planned on what was loaded. The store also refreshes
    /// them on its own as writes accumulate.
    /// </summary>
    Task RefreshStatisticsAsync(CancellationToken cancellationToken);
}

/// <summary>One database transaction. Disposing it without committing rolls everything back.</summary>
public interface IWriteSession : IAsyncDisposable
{
    /// <summary>The current version of a resource as this transaction sees it.</summary>
    Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Serialises, until this transaction ends, every transaction that takes the same key: conditional interactions lock
    /// their criteria first so two of them racing on the same criteria cannot both create.
    /// </summary>
    Task LockAsync(string key, CancellationToken cancellationToken);

    /// <summary>Ids of current resources matching the query, as this transaction sees them (for conditional interactions).</summary>
    Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary><see cref="IRecordStore.TokenPostingsAsync"/> as this transaction sees the index.</summary>
    Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The current version numbers of those of <paramref name="ids"/> that exist and are not deleted, as this transaction
    /// sees them, in one statement and without locking them: to tell whether what was read before the transaction is still
    /// current (a committed version number never names other content).
    /// </summary>
    Task<IReadOnlyDictionary<string, int>> CurrentVersionsAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>
    /// The ids of <paramref name="type"/> with a change event after <paramref name="afterPosition"/>, as this transaction
    /// sees them, that have a token row of <paramref name="param"/> without a system and with one of
    /// <paramref name="codes"/>; and this session's own writes of the type, whatever their rows: what was written since a
    /// read made before the transaction. Null when more than <paramref name="max"/> were written, for the caller to read
    /// again in full instead.
    /// </summary>
    Task<IReadOnlyCollection<string>?> ChangedSinceAsync(string type, long afterPosition, string param, IReadOnlyList<string> codes, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a version with its index rows and, when <see cref="VersionWrite.ChangeEvent"/> is set, its change-feed event.
    /// Throws <see cref="VersionConflictException"/> when the resource's current version is not the expected one. A write
    /// with no expected version may be held until the session's next read, lock or commit (so the caller's work in between
    /// runs outside the database transaction); a clash with a stored version then throws from that call.
    /// </summary>
    Task WriteAsync(VersionWrite write, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the search index rows of a resource's current version without writing a new version (after a change to
    /// what is indexed, e.g. when an existing database gains the search tables).
    /// </summary>
    Task ReplaceIndexAsync(string type, string id, IReadOnlyList<IndexRow> index, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a resource for good: every version, its search index rows and its change-feed events. Throws
    /// <see cref="VersionConflictException"/> when its current version is not <paramref name="expectedVersion"/> (it
    /// changed since it was judged expired). AuditEvents cannot be purged: they are links of the audit chain.
    /// Returns the number of versions removed.
    /// </summary>
    Task<int> PurgeAsync(string type, string id, int expectedVersion, CancellationToken cancellationToken);

    Task CommitAsync(CancellationToken cancellationToken);
}

/// <summary>A stored version. <see cref="Json"/> is null for a deletion (tombstone).</summary>
public sealed record StoredResource(
    string Type,
    string Id,
    int Version,
    DateTimeOffset LastUpdated,
    string Method,
    string? Json)
{
    public bool Deleted => Json is null;
}

/// <summary>
/// A new version to write. <see cref="ExpectedVersion"/> is the version that must be current (0: the resource must not
/// exist or must be deleted; null: no check). <see cref="Index"/> replaces the resource's search index rows.
/// </summary>
public sealed record VersionWrite(
    string Type,
    string Id,
    int Version,
    DateTimeOffset LastUpdated,
    string Method,
    string? Json,
    int? ExpectedVersion,
    IReadOnlyList<IndexRow> Index,
    bool ChangeEvent = true);

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

public sealed record ChangeEvent(long Position, string Type, string Id, int Version, string Method, DateTimeOffset Time);

public sealed record HistoryQuery(string? Type, string? Id, DateTimeOffset? Since, long? BeforeSequence, int Count);

/// <summary>A page of history; <see cref="NextBeforeSequence"/> is the keyset for the next page, if any.</summary>
public sealed record HistoryPage(IReadOnlyList<StoredResource> Versions, long? NextBeforeSequence, long Total);

/// <summary>
/// A query over current resources of <see cref="Type"/> (or of every type in <see cref="Types"/> when set). Clauses are
/// ANDed. Results are ordered by <see cref="Sort"/>, then by type and id, and paged by keyset: <see cref="After"/> gives
/// the next page, <see cref="Before"/> the previous one. A cursor holds the sort key values of the row it was taken
/// from, so pages stay stable under concurrent writes and no page costs an offset scan.
/// </summary>
public sealed record StoreQuery(
    string Type,
    IReadOnlyList<QueryClause> Clauses,
    int Count,
    PageCursor? After = null,
    PageCursor? Before = null,
    bool CountTotal = false)
{
    /// <summary>
    /// Whose view of the record the query runs in. Required, so no query can be written without saying: a query parsed from
    /// a caller's parameters starts as <see cref="QueryScope.Request"/>, which the store refuses to run until the one door
    /// has put the access policy into every part of it (<see cref="QueryScope.Governed"/>).
    /// </summary>
    public required QueryScope Scope { get; init; }

    /// <summary>Several types at once (system-level search, compartments, includes); overrides <see cref="Type"/>.</summary>
    public IReadOnlyList<string>? Types { get; init; }

    public IReadOnlyList<SortBy> Sort { get; init; } = [];
}

/// <summary>
/// Whose view of the record a <see cref="StoreQuery"/> runs in: a caller's request not yet governed (refused by the
/// store), a caller's request with the access policy applied to the query and to everything it reaches through chains and
/// <c>_has</c>, or CareHub's own look-up (the MPI's blocks, the policy's own checks, reference data), which names why it
/// may see everything.
/// </summary>
public sealed record QueryScope
{
    private QueryScope(QueryScopeKind kind, string why)
    {
        Kind = kind;
        Why = why;
    }

    public QueryScopeKind Kind { get; }

    /// <summary>Why the query runs in this scope, for the store's refusal message and for readers of the code.</summary>
    public string Why { get; }

    /// <summary>Parsed from a caller's parameters; must be governed before it runs.</summary>
    public static QueryScope Request { get; } = new(QueryScopeKind.Request, "a caller's request");

    /// <summary>The access policy is in the query and in every chain and <c>_has</c> it holds (RecordService.GovernAsync).</summary>
    internal static QueryScope Governed { get; } = new(QueryScopeKind.Governed, "governed by the access policy");

    /// <summary>CareHub's own look-up, not on behalf of a caller (or on behalf of one whose decision is made elsewhere).</summary>
    public static QueryScope Internal(string why) => new(QueryScopeKind.Internal, why);
}

public enum QueryScopeKind
{
    Request,
    Governed,
    Internal,
}

/// <summary>Where a page ends: the sort key values (null where the resource has none), type and id of a row.</summary>
public sealed record PageCursor(IReadOnlyList<object?> Keys, string Type, string Id);

/// <summary>
/// A page of search results. <see cref="NextCursor"/> and <see cref="PreviousCursor"/> are the cursors of the last and the
/// first row, for the links to the neighbouring pages.
/// </summary>
public sealed record SearchPage(IReadOnlyList<StoredResource> Resources, bool HasMore, bool HasPrevious, long? Total)
{
    public PageCursor? NextCursor { get; init; }

    public PageCursor? PreviousCursor { get; init; }
}

/// <summary>The resource changed since the caller read it: a concurrent writer won.</summary>
public sealed class VersionConflictException(string type, string id, int? expected, int? actual)
    : Exception($"{type}/{id} is at version {actual?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, not {expected?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}")
{
    public string Type { get; } = type;
    public string Id { get; } = id;
    public int? Expected { get; } = expected;
    public int? Actual { get; } = actual;
}

/// <summary>The database's schema is newer than this build, or a migration failed.</summary>
public sealed class SchemaVersionException(string message) : Exception(message);
