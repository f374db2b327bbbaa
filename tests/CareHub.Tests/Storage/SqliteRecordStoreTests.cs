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

    [Fact]
    public async Task committed_pages_reach_the_database_file_through_the_checkpointer_beside_the_writer()
    {
        var sqlite = (SqliteRecordStore)Store;
        for (var n = 0; n < 4; n++)
        {
            await CommitAsync(Version("Patient", $"c{n}", 1, 1, 0));
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (sqlite.CheckpointPasses == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the checkpointer did not run within 30 s of four commits");
            await Task.Delay(10, Ct);
        }

        // The database file alone, without its write-ahead log, now holds the four Patients.
        var copy = path + ".copy";
        File.Copy(path, copy);
        try
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString());
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM resource_current WHERE type = 'Patient'";
            Assert.Equal(4L, Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            foreach (var file in new[] { copy, copy + "-wal", copy + "-shm" })
            {
                File.Delete(file);
            }
        }
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
