using System.Data.Common;
using CareHub.Storage;
using CareHub.Storage.Sqlite;

namespace CareHub.Messaging.Storage.Sqlite;

/// <summary>
/// The embedded message store: its own SQLite file (<c>messages.db</c> beside the record's <c>carehub.db</c>), written as
/// <see cref="SqliteWriter"/> writes, so message intake never queues behind the record's single writer; a committed
/// message survives a killed process, which is what an AA acknowledgment promises. One process owns the file, so a
/// destination's queue is claimed with an in-process lock.
/// </summary>
public sealed class SqliteMessageStore(string path, bool fullSync = false) : SqlMessageStore
{
    private readonly SqliteWriter writer = new(path, fullSync, foreignKeys: true);

    /// <summary>The file name of the message store inside the data folder.</summary>
    public const string FileName = "messages.db";

    public string DatabasePath { get; } = path;

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Messaging.Storage.Sqlite.Migrations.";

    protected override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) => writer.OpenAsync(cancellationToken);

    protected override Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken) => writer.BeginWriteAsync(cancellationToken);

    protected override Task<IAsyncDisposable?> AcquireRouteAsync(string channel, string destination, CancellationToken cancellationToken) =>
        Task.FromResult(writer.TryClaim(channel + "\n" + destination));

    /// <summary>SQLITE_CONSTRAINT (19): the unique dedup key of a resend that raced its original.</summary>
    protected override bool IsUniqueViolation(DbException exception) => exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 };

    public override ValueTask DisposeAsync()
    {
        writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
