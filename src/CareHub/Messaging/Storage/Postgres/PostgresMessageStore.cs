using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using Npgsql;

namespace CareHub.Messaging.Storage.Postgres;

/// <summary>
/// The message store on PostgreSQL: the record's database (and schema), tables of its own, its own schema version
/// table. Several CareHub nodes may share it: a destination's queue is delivered by one node at a time, which holds its
/// <c>message_route</c> row with <c>FOR UPDATE SKIP LOCKED</c> for the length of one delivery, so the others pass it
/// by instead of waiting and the destination still sees its messages in order.
/// </summary>
public sealed partial class PostgresMessageStore : SqlMessageStore
{
    private const int MigrationLockClass = 0x43480010;

    private readonly NpgsqlDataSource dataSource;
    private readonly string? schema;
    private readonly string lockScope;
    private readonly ConcurrentDictionary<(string, string), bool> knownRoutes = new();

    public PostgresMessageStore(string connectionString, string? schema = null)
    {
        (dataSource, lockScope) = CareHub.Storage.Postgres.PostgresConnections.Create(connectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    protected override string MigrationPrefix => "CareHub.Messaging.Storage.Postgres.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<WriteScope> BeginWriteAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            return new WriteScope(connection, transaction, null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    protected override async Task<IAsyncDisposable?> AcquireRouteAsync(string channel, string destination, CancellationToken cancellationToken)
    {
        if (!knownRoutes.ContainsKey((channel, destination)))
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await ExecuteAsync(connection, null, "INSERT INTO message_route (channel, destination) VALUES (@c, @d) ON CONFLICT DO NOTHING", cancellationToken,
                ("@c", channel), ("@d", destination));
            knownRoutes[(channel, destination)] = true;
        }

        var lease = await dataSource.OpenConnectionAsync(cancellationToken);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await lease.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            var locked = await ScalarAsync(lease, transaction,
                "SELECT 1 FROM message_route WHERE channel = @c AND destination = @d FOR UPDATE SKIP LOCKED", cancellationToken, ("@c", channel), ("@d", destination));
            if (locked is null)
            {
                await transaction.DisposeAsync();
                await lease.DisposeAsync();
                return null;
            }

            return new RouteLease(lease, transaction);
        }
        catch
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }

            await lease.DisposeAsync();
            throw;
        }
    }

    /// <summary>23505 unique_violation (PostgreSQL manual, Appendix A): a resend that raced its original.</summary>
    protected override bool IsUniqueViolation(DbException exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override async Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));
        if (schema is not null)
        {
            await ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", cancellationToken);
        }
    }

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));

    public override ValueTask DisposeAsync() => dataSource.DisposeAsync();


    /// <summary>The route row's lock lives as long as this transaction; ending it  releases it.</summary>
    private sealed class RouteLease(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        private int disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }

            try
            {
                // Disposing an open transaction rolls it back: nothing was written under it.
                await transaction.DisposeAsync();
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
