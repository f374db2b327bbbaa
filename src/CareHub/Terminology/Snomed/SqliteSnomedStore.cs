using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// The embedded SNOMED CT store: its own SQLite file (<c>terminology.db</c> beside the record's <c>carehub.db</c>), so a
/// load, one long transaction, never holds the record's single writer. Loads queue on an in-process lock.
/// </summary>
public sealed class SqliteSnomedStore : SnomedStore
{
    /// <summary>The file name of the terminology store inside the data folder.</summary>
    public const string FileName = "terminology.db";

    private readonly string connectionString;
    private readonly SemaphoreSlim writer = new(1, 1);

    public SqliteSnomedStore(string path) => connectionString = CareHub.Storage.Sqlite.SqliteFiles.ConnectionString(path);

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Terminology.Snomed.Sqlite.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    protected override async Task<LoadScope> BeginLoadAsync(CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using (var pragma = connection.CreateCommand())
            {
                // WAL: readers (the server answering $expand) keep reading the last committed release during a load.
                pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA cache_size = -65536;";
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }

            return new LoadScope(connection, connection.BeginTransaction(deferred: false), writer);
        }
        catch
        {
            await connection.DisposeAsync();
            writer.Release();
            throw;
        }
    }

    protected override Task<long> UpsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken) =>
        WriteAsync(connection, transaction, table, table.OnConflictNewer(), rows, cancellationToken);

    protected override Task InsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken) =>
        WriteAsync(connection, transaction, table, string.Empty, rows, cancellationToken);

    /// <summary>One prepared INSERT, run per row: SQLite has no bulk protocol, and a prepared statement in one transaction is its fast path.</summary>
    private static async Task<long> WriteAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, string tail, IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        await using var command = ((SqliteConnection)connection).CreateCommand();
        command.Transaction = (SqliteTransaction)transaction;
        command.CommandText = $"INSERT INTO {table.Name} ({string.Join(", ", table.Columns)}) VALUES ({string.Join(", ", table.Columns.Select((_, i) => $"@p{i}"))}){tail}";
        var parameters = table.Columns.Select((_, i) => command.Parameters.Add(new SqliteParameter($"@p{i}", null))).ToArray();
        command.Prepare();
        long count = 0;
        foreach (var row in rows)
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                parameters[i].Value = row[i] ?? DBNull.Value;
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
            count++;
        }

        return count;
    }

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
