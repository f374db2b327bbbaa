using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace CareHub.Tests.Messaging;

/// <summary>The message store contract on SQLite: a file of its own per test.</summary>
public sealed class SqliteMessageStoreTests : MessageStoreContract
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "carehub-tests", $"messages-{Guid.NewGuid():N}.db");

    protected override ValueTask<IMessageStore> CreateStoreAsync() => ValueTask.FromResult<IMessageStore>(new SqliteMessageStore(path));

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
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
