using System.Data.Common;

namespace CareHub.Storage;

/// <summary>
/// A connection and its write transaction, plus whatever lock the provider took (SQLite's in-process writer lock), for the
/// stores beside the record (messages, notifications); disposing rolls back what was not committed and releases the lock.
/// </summary>
public sealed class SqlWriteScope(DbConnection connection, DbTransaction transaction, IDisposable? writerLock) : IAsyncDisposable
{
    public DbConnection Connection { get; } = connection;

    public DbTransaction Transaction { get; } = transaction;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            writerLock?.Dispose();
        }
    }
}
