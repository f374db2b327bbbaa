using CareHub.Notifications.Storage;
using CareHub.Notifications.Storage.Sqlite;

namespace CareHub.Tests.Notifications;

/// <summary>The notification store contract on SQLite: a file of its own per test.</summary>
public sealed class SqliteNotificationStoreTests : NotificationStoreContract
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "carehub-tests", $"notifications-{Guid.NewGuid():N}.db");

    protected override ValueTask<INotificationStore> CreateStoreAsync() => ValueTask.FromResult<INotificationStore>(new SqliteNotificationStore(path));

    protected override ValueTask DropDatabaseAsync()
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }
}
