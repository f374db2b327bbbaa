using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace CareHub.Tests.Storage;

/// <summary>The contract on SQLite: a database file of its own per test, in a temporary folder.</summary>
public sealed class SqliteRecordStoreTests : RecordStoreContract
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "carehub-tests", $"{Guid.NewGuid():N}.db");

    protected override ValueTask<IRecordStore> CreateStoreAsync() => ValueTask.FromResult<IRecordStore>(new SqliteRecordStore(path));

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    protected override string HexLiteral(byte[] bytes) => $"X'{Convert.ToHexString(bytes)}'";

    protected override async Task<long> ScalarSqlAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        return connection;
    }

    protected override ValueTask DropDatabaseAsync()
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }
}
