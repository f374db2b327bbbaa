using System.Data.Common;
using CareHub.Storage;
using CareHub.Storage.Sqlite;

namespace CareHub.Notifications.Storage.Sqlite;

/// <summary>
/// The embedded notification store: its own SQLite file (<c>notifications.db</c> beside the record's <c>carehub.db</c>),
/// written as <see cref="SqliteWriter"/> writes, so queuing notifications never waits behind the record's writer. One
/// process owns the file, so a subscription's queue is claimed with an in-process lock.
/// </summary>
public sealed class SqliteNotificationStore(string path, bool fullSync = false) : SqlNotificationStore
{
    /// <summary>The file name of the notification store inside the data folder.</summary>
    public const string FileName = "notifications.db";

    private readonly SqliteWriter writer = new(path, fullSync, foreignKeys: false);

    public string DatabasePath { get; } = path;

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Notifications.Storage.Sqlite.Migrations.";

    protected override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => writer.OpenAsync(cancellationToken);

    protected override Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken) => writer.BeginWriteAsync(cancellationToken);

    public override Task<IAsyncDisposable?> ClaimAsync(string subscriptionId, CancellationToken cancellationToken) => Task.FromResult(writer.TryClaim(subscriptionId));

    public override ValueTask DisposeAsync()
    {
        writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
