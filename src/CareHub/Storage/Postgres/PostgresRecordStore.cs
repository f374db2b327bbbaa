using System.Data;
using System.Data.Common;
using Npgsql;

namespace CareHub.Storage.Postgres;

/// <summary>
/// The production store: PostgreSQL through one pooled <see cref="NpgsqlDataSource"/>, so several CareHub nodes can share
/// one database. Every transaction is READ COMMITTED. Writers of one resource queue on its current row (FOR UPDATE);
/// creators of one id meet on the unique version key. Change-feed positions are taken under a transaction-scoped
/// advisory lock held until commit, so they follow commit order and a reader of the feed never skips a lower position
/// that commits late. Bodies are stored as jsonb: PostgreSQL returns them normalised (key order, whitespace).
/// </summary>
public sealed partial class PostgresRecordStore : SqlRecordStore
{
    // Advisory lock keys are (class, scope): the class says what is locked, the scope (hashtext of the schema) keeps two
    // CareHub stores in different schemas of one database from serialising each other.
    private const int MigrationLockClass = 0x43480001;
    private const int ChangeFeedLockClass = 0x43480002;
    private const int CriteriaLockClass = 0x43480003;
    private const int AuditChainLockClass = 0x43480004;

    private readonly NpgsqlDataSource dataSource;
    private readonly string? schema;
    private readonly string lockScope;

    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="schema">
    /// The schema to keep CareHub's tables in (it becomes the connection's search_path and is created on migration if
    /// missing); null uses the connection string's search path, normally "public".
    /// </param>
    public PostgresRecordStore(string connectionString, string? schema = null)
    {
        (dataSource, lockScope) = CareHub.Storage.Postgres.PostgresConnections.Create(connectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    protected override string MigrationPrefix => "CareHub.Storage.Postgres.Migrations.";

    protected override string JsonParameter(string name) => name + "::jsonb";

    protected override string ForUpdate => " FOR UPDATE";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<WriteScope> BeginWriteScopeAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            return new TransactionScope(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Serialises the outbox inserts of concurrent commits: identity values are handed out in insert order, not commit
    /// order, so without the lock a reader could see position 11 committed, move past it, and miss 10 committing later.
    /// The lock is released only when the transaction ends, after its commit is visible.
    /// </summary>
    protected override Task BeforeChangeEventsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@class, hashtext(@scope))", cancellationToken,
            ("@class", ChangeFeedLockClass), ("@scope", lockScope));

    /// <summary>
    /// Serialises the audit-chain links of concurrent commits: each link hashes the one before, so the head is read and
    /// extended under a lock held until the transaction ends. Audit records are the last rows a write transaction inserts,
    /// so the lock is held only for those inserts and the commit.
    /// </summary>
    protected override Task BeforeAuditChainAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@class, hashtext(@scope))", cancellationToken,
            ("@class", AuditChainLockClass), ("@scope", lockScope));

    protected override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@class, hashtext(@scope || ':' || @key))", cancellationToken,
            ("@class", CriteriaLockClass), ("@scope", lockScope), ("@key", key));

    /// <summary>Nodes starting together migrate one after another; the later ones then find nothing to do.</summary>
    protected override async Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));
        if (schema is not null)
        {
            // Under the lock: two "IF NOT EXISTS" creations racing can still both try to insert the catalogue row.
            await ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", cancellationToken);
        }
    }

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));

    /// <summary>
    /// 23505 on a version key or the current row: another transaction wrote the same version first. 40001 and 40P01
    /// (serialization failure, deadlock): the transaction lost a race and may be retried. Both are version conflicts to
    /// the caller (PostgreSQL manual, Appendix A, PostgreSQL Error Codes).
    /// </summary>
    protected override Exception? Translate(DbException exception, VersionWrite write) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, TableName: "resource_version" or "resource_current" } or
        PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected }
            => new VersionConflictException(write.Type, write.Id, write.ExpectedVersion, null),
        _ => null,
    };

    /// <summary>
    /// The record's tables analysed now, rather than when autovacuum next gets to them (it analyses a table after 10% of
    /// its rows changed, looking once a minute, which is late for a store loaded in one go). ANALYZE reads a fixed
    /// sample of each table, so a full and a background refresh are the same.
    /// </summary>
    protected override async Task RefreshStatisticsCoreAsync(bool full, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null,
            "ANALYZE resource_current, resource_version, search_token, search_string, search_date, search_number, search_quantity, search_reference, search_uri, outbox",
            cancellationToken);
    }

    protected override async ValueTask CloseCoreAsync()
    {
        await StopStatisticsAsync();
        await dataSource.DisposeAsync();
    }

}
