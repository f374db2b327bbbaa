using System.Data.Common;
using CareHub.Storage;
using CareHub.Storage.Postgres;
using Npgsql;

namespace CareHub.Notifications.Storage.Postgres;

/// <summary>
/// The notification store on PostgreSQL: the record's database (and schema), tables of its own, its own schema version
/// table. Several CareHub nodes may share it: a subscription's queue is delivered by one node at a time, which holds its
/// <c>notify_lock</c> row with <c>FOR UPDATE SKIP LOCKED</c> for the length of one claim, so the others pass it by instead
/// of waiting, and the endpoint sees its notifications in order, each once per success.
/// </summary>
public sealed class PostgresNotificationStore : SqlNotificationStore
{
    private const int MigrationLockClass = 0x43480020;

    private readonly NpgsqlDataSource dataSource;
    private readonly string? schema;
    private readonly string lockScope;

    public PostgresNotificationStore(string connectionString, string? schema = null)
    {
        (dataSource, lockScope) = PostgresConnections.Create(connectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    protected override string MigrationPrefix => "CareHub.Notifications.Storage.Postgres.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => await dataSource.OpenConnectionAsync(cancellationToken);

    protected override Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken) => PostgresSideStore.BeginWriteAsync(dataSource, cancellationToken);

    public override Task<IAsyncDisposable?> ClaimAsync(string subscriptionId, CancellationToken cancellationToken) =>
        PostgresSideStore.TryLockRowAsync(dataSource, "SELECT 1 FROM notify_lock WHERE subscription_id = @id FOR UPDATE SKIP LOCKED", cancellationToken, ("@id", subscriptionId));

    protected override Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresSideStore.LockMigrationsAsync(connection, MigrationLockClass, lockScope, schema, cancellationToken);

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresSideStore.UnlockMigrationsAsync(connection, MigrationLockClass, lockScope, cancellationToken);

    public override ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
