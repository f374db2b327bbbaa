using CareHub.Storage.Postgres;
using Npgsql;

namespace CareHub.Bench;

/// <summary>The throwaway stores the in-process benches run on: a PostgreSQL schema dropped afterwards, a SQLite folder removed.</summary>
public static class BenchStores
{
    /// <summary>Runs <paramref name="work"/> on a PostgreSQL store in a schema of its own (given with the store), then drops the schema.</summary>
    public static async Task InThrowawaySchemaAsync(string connectionString, Func<PostgresRecordStore, string, Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..10];
        try
        {
            await using var postgres = new PostgresRecordStore(connectionString, schema);
            await work(postgres, schema);
        }
        finally
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(CancellationToken.None);
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>Closes pooled SQLite connections and removes the folder of a bench's SQLite database.</summary>
    public static void RemoveSqliteFolder(string folder)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
