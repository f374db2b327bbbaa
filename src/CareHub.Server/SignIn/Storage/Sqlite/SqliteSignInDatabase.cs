using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Server.SignIn.Storage.Sqlite;

/// <summary>
/// The embedded sign-in store: its own SQLite file (<c>signin.db</c> beside the record's <c>carehub.db</c>), in
/// write-ahead-log mode, so issuing a token never queues behind the record's single writer. One process owns the file,
/// so writes queue on an in-process lock.
/// </summary>
public sealed class SqliteSignInDatabase : SignInDatabase
{
    /// <summary>The file name of the sign-in store inside the data folder.</summary>
    public const string FileName = "signin.db";

    private readonly string connectionString;
    private readonly SemaphoreSlim writer = new(1, 1);
    private readonly bool fullSync;

    public SqliteSignInDatabase(string path, bool fullSync = false)
    {
        connectionString = CareHub.Storage.Sqlite.SqliteFiles.ConnectionString(path);
        this.fullSync = fullSync;
    }

    public override string Backend => "sqlite";

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {(fullSync ? "FULL" : "NORMAL")}; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public override async Task<SignInWrite> BeginWriteAsync(CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            // BEGIN IMMEDIATE: take the write lock now, so a read-then-write never fails on upgrade.
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return new SignInWrite(connection, transaction, new Releaser(writer));
        }
        catch
        {
            writer.Release();
            throw;
        }
    }

    /// <summary>SQLITE_CONSTRAINT (19): a unique key that exists.</summary>
    public override bool IsUniqueViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

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
