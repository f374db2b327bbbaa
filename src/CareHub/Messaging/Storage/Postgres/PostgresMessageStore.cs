using System.Collections.Concurrent;
using System.Data.Common;
using CareHub.Storage;
using CareHub.Storage.Postgres;
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
        (dataSource, lockScope) = PostgresConnections.Create(connectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    protected override string MigrationPrefix => "CareHub.Messaging.Storage.Postgres.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken) => PostgresSideStore.BeginWriteAsync(dataSource, cancellationToken);

    protected override async Task<IAsyncDisposable?> AcquireRouteAsync(string channel, string destination, CancellationToken cancellationToken)
    {
        if (!knownRoutes.ContainsKey((channel, destination)))
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await ExecuteAsync(connection, null, "INSERT INTO message_route (channel, destination) VALUES (@c, @d) ON CONFLICT DO NOTHING", cancellationToken,
                ("@c", channel), ("@d", destination));
            knownRoutes[(channel, destination)] = true;
        }

        return await PostgresSideStore.TryLockRowAsync(dataSource, "SELECT 1 FROM message_route WHERE channel = @c AND destination = @d FOR UPDATE SKIP LOCKED",
            cancellationToken, ("@c", channel), ("@d", destination));
    }

    /// <summary>23505 unique_violation (PostgreSQL manual, Appendix A): a resend that raced its original.</summary>
    protected override bool IsUniqueViolation(DbException exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresSideStore.LockMigrationsAsync(connection, MigrationLockClass, lockScope, schema, cancellationToken);

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresSideStore.UnlockMigrationsAsync(connection, MigrationLockClass, lockScope, cancellationToken);

    public override ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
