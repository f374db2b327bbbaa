namespace CareHub.Storage;

/// <summary>
/// The store contract: what the one door needs from a database to keep the record. Only
/// <see cref="Records.RecordService"/> calls it (with its <see cref="Records.AuditTrail"/>, which writes the door's audit
/// records of reads and denials), and the composition root that opens, migrates and disposes it. Everyone else reads
/// through an interface of their own that the same store implements: CareHub's own look-ups through
/// <see cref="IRecordLookups"/>, the master person index through <c>Identity.IPersonIndexStore</c>, the audit chain and
/// retention jobs through <c>Governance.IGovernanceStore</c>. Two implementations (SQLite, PostgreSQL) pass one contract
/// test suite; nothing here leaks one backend's quirks.
/// </summary>
public interface IRecordStore : IRecordLookups, IAsyncDisposable
{
    /// <summary>A short name of the backend, for logs and the CapabilityStatement.</summary>
    string Backend { get; }

    /// <summary>Applies the numbered migrations this build knows; fails when the database is newer than the build.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Versions newest first, at instance, type or system level.</summary>
    Task<HistoryPage> HistoryAsync(HistoryQuery query, CancellationToken cancellationToken);

    /// <summary>Writes server-generated records (audit events of reads and denials) in one transaction, without change events.</summary>
    Task AppendAsync(IReadOnlyList<VersionWrite> writes, CancellationToken cancellationToken);

    /// <summary>Starts a write transaction. Writes are invisible to readers until <see cref="IWriteSession.CommitAsync"/>.</summary>
    Task<IWriteSession> BeginWriteAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Brings the query planner's statistics up to date and returns when they are: loaders call it after a bulk load
    /// (demo, import, reindex), so the first searches after it are planned on what was loaded. The store also refreshes
    /// them on its own as writes accumulate.
    /// </summary>
    Task RefreshStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Raised after each committed write transaction of this store instance, with the resource types whose versions or
    /// index rows it wrote, before the commit returns to the writer. What other processes or nodes commit reaches this
    /// process through the change feed instead.
    /// </summary>
    event Action<IReadOnlyCollection<string>>? Committed;
}

/// <summary>
/// One database transaction of the one door. Disposing it without committing rolls everything back. Write hooks and
/// operations see it through <see cref="Records.IRecordWriter.Session"/> to read and lock inside the transaction; the
/// master person index's queries inside it take it as a parameter (<c>Identity.IPersonIndexStore</c>).
/// </summary>
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
