using System.Data;
using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// The SNOMED CT store on PostgreSQL: the record's database (and schema), tables of its own, its own schema version
/// table. A load copies each file into a temporary table with binary COPY, then upserts from it in SQL, all in one
/// transaction; readers see the previous release until it commits.
/// </summary>
public sealed class PostgresSnomedStore : SnomedStore
{
    private const int MigrationLockClass = 0x43480020;

    private readonly NpgsqlDataSource dataSource;
    private readonly NpgsqlDataSource loads;
    private readonly string lockScope;
    private readonly string? schema;

    public PostgresSnomedStore(string connectionString, string? schema = null)
    {
        (dataSource, lockScope) = CareHub.Storage.Postgres.PostgresConnections.Create(connectionString, schema);
        // A load's statements (an upsert of 1.5 million relationships, the preferred terms of every concept) run for
        // minutes: they get no command timeout, which reads keep.
        (loads, _) = CareHub.Storage.Postgres.PostgresConnections.Create(new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 }.ConnectionString, schema);
        this.schema = schema;
    }

    public override string Backend => "postgresql";

    protected override string MigrationPrefix => "CareHub.Terminology.Snomed.Postgres.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<LoadScope> BeginLoadAsync(CancellationToken cancellationToken)
    {
        var connection = await loads.OpenConnectionAsync(cancellationToken);
        try
        {
            return new LoadScope(connection, await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken), null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    protected override async Task<long> UpsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        var stage = "stage_" + table.Name;
        await Storage.SqlCommands.ExecuteAsync(connection, transaction, $"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.Name}) ON COMMIT DROP; TRUNCATE {stage}", cancellationToken);
        var count = await CopyAsync((NpgsqlConnection)connection, stage, table, rows, cancellationToken);
        var columns = string.Join(", ", table.Columns);
        await Storage.SqlCommands.ExecuteAsync(connection, transaction, $"INSERT INTO {table.Name} ({columns}) SELECT {columns} FROM {stage}{table.OnConflictNewer()}", cancellationToken);
        return count;
    }

    protected override Task InsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken) =>
        CopyAsync((NpgsqlConnection)connection, table.Name, table, rows, cancellationToken);

    private static async Task<long> CopyAsync(NpgsqlConnection connection, string target, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        long count = 0;
        await using var import = await connection.BeginBinaryImportAsync($"COPY {target} ({string.Join(", ", table.Columns)}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            await import.StartRowAsync(cancellationToken);
            foreach (var value in row)
            {
                switch (value)
                {
                    case null:
                        await import.WriteNullAsync(cancellationToken);
                        break;
                    case long number:
                        await import.WriteAsync(number, NpgsqlDbType.Bigint, cancellationToken);
                        break;
                    case int number:
                        await import.WriteAsync(number, NpgsqlDbType.Integer, cancellationToken);
                        break;
                    default:
                        await import.WriteAsync((string)value, NpgsqlDbType.Text, cancellationToken);
                        break;
                }
            }

            count++;
        }

        await import.CompleteAsync(cancellationToken);
        return count;
    }

    /// <summary>Without statistics on tables loaded in bulk, the planner scans them where an index probe would do.</summary>
    protected override Task AnalyzeAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Storage.SqlCommands.ExecuteAsync(connection, transaction, "ANALYZE sct_concept; ANALYZE sct_description; ANALYZE sct_relationship; ANALYZE sct_refset_member; ANALYZE sct_closure", cancellationToken);

    protected override async Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await Storage.SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@class, hashtext(@scope))", cancellationToken, ("@class", MigrationLockClass), ("@scope", lockScope));
        if (schema is not null)
        {
            // Under the lock: two "IF NOT EXISTS" creations racing can still both try to insert the catalogue row.
            await Storage.SqlCommands.ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", cancellationToken);
        }
    }

    protected override Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Storage.SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@class, hashtext(@scope))", cancellationToken, ("@class", MigrationLockClass), ("@scope", lockScope));

    public override async ValueTask DisposeAsync()
    {
        await loads.DisposeAsync();
        await dataSource.DisposeAsync();
    }
}
