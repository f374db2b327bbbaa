using System.Data;
using System.Data.Common;
using CareHub.Storage;
using Npgsql;

namespace CareHub.Server.SignIn.Storage.Postgres;

/// <summary>
/// The sign-in store on PostgreSQL: the record's database and schema, tables of its own, its own schema version table.
/// Several CareHub nodes may share it; a code or refresh token is redeemed once because its row's concurrency token
/// changes with every update.
/// </summary>
public sealed class PostgresSignInDatabase : SignInDatabase
{
    private const int MigrationLockClass = 0x43480020;

    private readonly NpgsqlDataSource dataSource;
    private readonly string? schema;
    private readonly string lockScope;

    public PostgresSignInDatabase(string connectionString, string? schema = null)
    {
        (dataSource, lockScope) = CareHub.Storage.Postgres.PostgresConnections.Create(connectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    public override async Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            return new SqlWriteScope(connection, transaction, null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>23505 unique_violation (PostgreSQL manual, Appendix A).</summary>
    public override bool IsUniqueViolation(DbException exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override async Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));
        if (schema is not null)
        {
            await SqlCommands.ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", cancellationToken);
        }
    }

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@class, hashtext(@scope))", cancellationToken,
            ("@class", MigrationLockClass), ("@scope", lockScope));

    public override ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
