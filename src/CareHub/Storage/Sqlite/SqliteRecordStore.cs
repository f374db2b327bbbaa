using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in write-ahead-log mode. SQLite has one writer at a time, so writes queue on an
/// in-process lock (no busy-waiting) and readers never block. With synchronous=NORMAL in WAL mode a committed
/// transaction survives a killed process (it is in the WAL, in the OS page cache); synchronous=FULL also survives
/// power loss, at a cost. See https://www.sqlite.org/wal.html.
/// </summary>
public sealed class SqliteRecordStore : SqlRecordStore
{
    private readonly string connectionString;
    private readonly SemaphoreSlim writer = new(1, 1);
    private readonly string syncPragmas;
    private volatile bool walSet;

    public SqliteRecordStore(string path, bool fullSync = false)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        syncPragmas = $"PRAGMA synchronous = {(fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout = 30000;";
        DatabasePath = path;
    }

    public string DatabasePath { get; }

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Storage.Sqlite.Migrations.";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // journal_mode is persistent in the file, so it is set once; synchronous and busy_timeout are per connection.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = walSet
            ? syncPragmas
            : "PRAGMA journal_mode = WAL; " + syncPragmas;
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        walSet = true;
        return connection;
    }

    protected override async Task<(DbConnection, DbTransaction, IDisposable?)> BeginWriteTransactionAsync(CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            // BEGIN IMMEDIATE: take the write lock now, so a read-then-write never fails on upgrade.
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return (connection, transaction, new Releaser(writer));
        }
        catch
        {
            writer.Release();
            throw;
        }
    }

    protected override Exception? Translate(DbException exception, VersionWrite write) =>
        exception is SqliteException { SqliteErrorCode: 19 } // SQLITE_CONSTRAINT: a version row that already exists
            ? new VersionConflictException(write.Type, write.Id, write.ExpectedVersion, null)
            : null;

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        writer.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
