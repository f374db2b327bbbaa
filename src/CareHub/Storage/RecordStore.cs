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

    /// <summary>Versions newest first, at instance, type or system level.</summary>
    Task<HistoryPage> HistoryAsync(HistoryQuery query, CancellationToken cancellationToken);

    /// <summary>Current, non-deleted resources of one type matching every clause, ordered by id.</summary>
    Task<SearchPage> SearchAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>The change feed: committed writes after <paramref name="afterPosition"/>, in commit order.</summary>
    Task<IReadOnlyList<ChangeEvent>> ReadChangesAsync(long afterPosition, int max, CancellationToken cancellationToken);

    /// <summary>Writes server-generated records (audit events of reads and denials) in one transaction, without change events.</summary>
    Task AppendAsync(IReadOnlyList<VersionWrite> writes, CancellationToken cancellationToken);

    /// <summary>Starts a write transaction. Writes are invisible to readers until <see cref="IWriteSession.CommitAsync"/>.</summary>
    Task<IWriteSession> BeginWriteAsync(CancellationToken cancellationToken);
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

    /// <summary>
    /// Writes a version with its index rows and, when <see cref="VersionWrite.ChangeEvent"/> is set, its change-feed event.
    /// Throws <see cref="VersionConflictException"/> when the resource's current version is not the expected one.
    /// </summary>
    Task WriteAsync(VersionWrite write, CancellationToken cancellationToken);

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
/// exist or must be deleted; null: no check).
/// </summary>
public sealed record VersionWrite(
    string Type,
    string Id,
    int Version,
    DateTimeOffset LastUpdated,
    string Method,
    string? Json,
    int? ExpectedVersion,
    IReadOnlyList<TokenIndexRow> Tokens,
    bool ChangeEvent = true);

/// <summary>A token search index row: one system|code value of one search parameter.</summary>
public sealed record TokenIndexRow(string Param, string? System, string Code);

public sealed record ChangeEvent(long Position, string Type, string Id, int Version, string Method, DateTimeOffset Time);

public sealed record HistoryQuery(string? Type, string? Id, DateTimeOffset? Since, long? BeforeSequence, int Count);

/// <summary>A page of history; <see cref="NextBeforeSequence"/> is the keyset for the next page, if any.</summary>
public sealed record HistoryPage(IReadOnlyList<StoredResource> Versions, long? NextBeforeSequence, long Total);

/// <summary>
/// A query over current resources. Clauses are ANDed; each clause ORs its values. Paging is by keyset on id:
/// <see cref="AfterId"/> gives the next page, <see cref="BeforeId"/> the previous one, so pages stay stable under
/// concurrent writes and no page costs an offset scan.
/// </summary>
public sealed record StoreQuery(
    string Type,
    IReadOnlyList<QueryClause> Clauses,
    int Count,
    string? AfterId = null,
    string? BeforeId = null,
    bool CountTotal = false);

public abstract record QueryClause;

public sealed record IdClause(IReadOnlyList<string> Ids) : QueryClause;

/// <summary>A token parameter. A null <see cref="TokenMatch.System"/> with <see cref="TokenMatch.AnySystem"/> false means "no system" (|code).</summary>
public sealed record TokenClause(string Param, IReadOnlyList<TokenMatch> AnyOf) : QueryClause;

public sealed record TokenMatch(string? System, string? Code, bool AnySystem);

/// <summary>_lastUpdated as a half-open interval [From, To).</summary>
public sealed record LastUpdatedClause(DateTimeOffset? From, DateTimeOffset? To) : QueryClause;

public sealed record SearchPage(IReadOnlyList<StoredResource> Resources, bool HasMore, bool HasPrevious, long? Total);

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
