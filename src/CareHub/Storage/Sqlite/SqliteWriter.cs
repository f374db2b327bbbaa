using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Storage.Sqlite;

/// <summary>
/// How a SQLite store beside the record (messages, notifications) opens its own file and writes to it: write-ahead-log
/// mode, so its writes never wait behind the record's writer; writes queued on an in-process lock and begun IMMEDIATE; and
/// in-process claims of a queue, as one process owns the file. With synchronous=NORMAL in WAL mode a committed transaction
/// survives a killed process (https://www.sqlite.org/wal.html); FULL also survives power loss.
/// </summary>
public sealed class SqliteWriter(string path, bool fullSync, bool foreignKeys) : IDisposable
{
    private readonly string connectionString = SqliteFiles.ConnectionString(path);
    private readonly SemaphoreSlim writer = new(1, 1);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> claims = new(StringComparer.Ordinal);

    public async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(fullSync ? "FULL" : "NORMAL")}; PRAGMA foreign_keys = {(foreignKeys ? "ON" : "OFF")}; PRAGMA busy_timeout = 30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public async Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            // BEGIN IMMEDIATE: take the write lock now, so a read-then-write never fails on upgrade.
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return new SqlWriteScope(connection, transaction, new Releaser(writer));
        }
        catch
        {
            writer.Release();
            throw;
        }
    }

    /// <summary>The exclusive right to work on <paramref name="key"/> (a queue) in this process, or null when it is taken.</summary>
    public IAsyncDisposable? TryClaim(string key)
    {
        var gate = claims.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        return gate.Wait(0) ? new Releaser(gate) : null;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        writer.Dispose();
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
