using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Messaging.Storage.Sqlite;

/// <summary>
/// The embedded message store: its own SQLite file (<c>messages.db</c> beside the record's <c>carehub.db</c>), in
/// write-ahead-log mode, so message intake never queues behind the record's single writer. Writes queue on an in-process
/// lock; with synchronous=NORMAL in WAL mode a committed transaction survives a killed process
/// (https://www.sqlite.org/wal.html), which is what an AA acknowledgment promises; FULL also survives power loss.
/// One process owns the file, so a destination's queue is claimed with an in-process lock.
/// </summary>
public sealed class SqliteMessageStore : SqlMessageStore
{
    private readonly string connectionString;
    private readonly SemaphoreSlim writer = new(1, 1);
    private readonly ConcurrentDictionary<(string, string), SemaphoreSlim> routes = new();
    private readonly bool fullSync;

    public SqliteMessageStore(string path, bool fullSync = false)
    {
        connectionString = CareHub.Storage.Sqlite.SqliteFiles.ConnectionString(path);
        this.fullSync = fullSync;
        DatabasePath = path;
    }

    /// <summary>The file name of the message store inside the data folder.</summary>
    public const string FileName = "messages.db";

    public string DatabasePath { get; }

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Messaging.Storage.Sqlite.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(fullSync ? "FULL" : "NORMAL")}; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    protected override async Task<WriteScope> BeginWriteAsync(CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            // BEGIN IMMEDIATE: take the write lock now, so a read-then-write never fails on upgrade.
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return new WriteScope(connection, transaction, new Releaser(writer));
        }
        catch
        {
            writer.Release();
            throw;
        }
    }

    protected override Task<IAsyncDisposable?> AcquireRouteAsync(string channel, string destination, CancellationToken cancellationToken)
    {
        var gate = routes.GetOrAdd((channel, destination), _ => new SemaphoreSlim(1, 1));
        return Task.FromResult<IAsyncDisposable?>(gate.Wait(0, cancellationToken) ? new Releaser(gate) : null);
    }

    /// <summary>SQLITE_CONSTRAINT (19): the unique dedup key of a resend that raced its original.</summary>
    protected override bool IsUniqueViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        writer.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable, IAsyncDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                semaphore.Release();
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
