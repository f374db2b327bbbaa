using System.Data;
using System.Data.Common;
using Npgsql;

namespace CareHub.Storage.Postgres;

/// <summary>
/// How a PostgreSQL store beside the record (messages, notifications) writes, claims a queue across nodes and migrates:
/// read-committed write transactions; a queue's row held with <c>FOR UPDATE SKIP LOCKED</c> for the length of one claim, so
/// other nodes pass it by instead of waiting; and an advisory lock per schema around migrations.
/// </summary>
public static class PostgresSideStore
{
    public static async Task<SqlWriteScope> BeginWriteAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            return new SqlWriteScope(connection, transaction, null);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Locks the row <paramref name="lockSql"/> selects (it must end in <c>FOR UPDATE SKIP LOCKED</c>) in a transaction of
    /// its own, held until the answer is disposed; null when another node holds it (or there is no such row).
    /// </summary>
    public static async Task<IAsyncDisposable?> TryLockRowAsync(NpgsqlDataSource dataSource, string lockSql, CancellationToken cancellationToken,
        params (string, object?)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var lease = await dataSource.OpenConnectionAsync(cancellationToken);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await lease.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            if (await SqlCommands.ScalarAsync(lease, transaction, lockSql, cancellationToken, parameters) is null)
            {
                await transaction.DisposeAsync();
                await lease.DisposeAsync();
                return null;
            }

            return new RowLease(lease, transaction);
        }
        catch
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }

            await lease.DisposeAsync();
            throw;
        }
    }

    /// <summary>Takes the migration lock of one store (<paramref name="lockClass"/>) in one schema, and creates the schema when missing.</summary>
    public static async Task LockMigrationsAsync(DbConnection connection, int lockClass, string lockScope, string? schema, CancellationToken cancellationToken)
    {
        await SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@class, hashtext(@scope))", cancellationToken, ("@class", lockClass), ("@scope", lockScope));
        if (schema is not null)
        {
            await SqlCommands.ExecuteAsync(connection, null, $"CREATE SCHEMA IF NOT EXISTS \"{schema}\"", cancellationToken);
        }
    }

    public static Task UnlockMigrationsAsync(DbConnection connection, int lockClass, string lockScope, CancellationToken cancellationToken) =>
        SqlCommands.ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@class, hashtext(@scope))", cancellationToken, ("@class", lockClass), ("@scope", lockScope));

    /// <summary>The row's lock lives as long as this transaction; ending it releases it.</summary>
    private sealed class RowLease(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        private int disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }

            try
            {
                // Disposing an open transaction rolls it back: nothing was written under it.
                await transaction.DisposeAsync();
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
