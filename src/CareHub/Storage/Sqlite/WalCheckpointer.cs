using System.Data.Common;

namespace CareHub.Storage.Sqlite;

/// <summary>
/// Copies committed pages from the write-ahead log back into the database file on a connection of its own, beside the
/// writer instead of inside it. SQLite's automatic checkpoint runs in the connection whose commit crosses the threshold:
/// the single writer then reads every logged page back, writes it into the database and syncs both files while every
/// other write waits (counted with `strace`: about a quarter of a Patient create's page reads and writes). A
/// <c>PASSIVE</c> checkpoint here takes no lock that writers or readers wait on (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html);
/// it copies what no reader still needs, and once it has copied everything the next writer starts the log from its
/// beginning again. The writer's automatic checkpoint stays on at <see cref="BackstopPages"/>, so the log stays bounded
/// even if this falls behind or fails.
/// </summary>
internal sealed class WalCheckpointer : IAsyncDisposable
{
    /// <summary>The writer's own automatic checkpoint threshold, in pages (40 MB of 4 KB pages).</summary>
    public const int BackstopPages = 10_000;

    /// <summary>Commits to wait for before a checkpoint, so each pass copies a batch of pages rather than one commit's.</summary>
    private const int CommitsPerPass = 4;

    private readonly Func<CancellationToken, ValueTask<DbConnection>> open;
    private readonly SemaphoreSlim due = new(0, 1);
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private int commits;

    public WalCheckpointer(Func<CancellationToken, ValueTask<DbConnection>> open)
    {
        this.open = open;
        loop = Task.Run(RunAsync);
    }

    /// <summary>Checkpoints run so far: for benchmarks and tests.</summary>
    public long Passes => Interlocked.Read(ref passes);

    private long passes;

    /// <summary>Checkpoints that failed so far, and the last failure's time and SQLite message (no record content).</summary>
    public (long Failures, DateTimeOffset? At, string? Message) Failures => failures.Snapshot;

    private readonly BackgroundFailures failures = new();

    /// <summary>Called after each commit; wakes the checkpointer every <see cref="CommitsPerPass"/> commits.</summary>
    public void Committed()
    {
        if (Interlocked.Increment(ref commits) >= CommitsPerPass && due.CurrentCount == 0)
        {
            try
            {
                due.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already due.
            }
        }
    }

    private async Task RunAsync()
    {
        DbConnection? connection = null;
        try
        {
            while (true)
            {
                await due.WaitAsync(stop.Token);
                Interlocked.Exchange(ref commits, 0);
                try
                {
                    connection ??= await open(stop.Token);
                    await using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                    await command.ExecuteNonQueryAsync(stop.Token);
                    Interlocked.Increment(ref passes);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    // The writer's own automatic checkpoint is the backstop; start again with a fresh connection. The failure
                    // is counted for /health: the store has no logger, and SQLite's message names no record.
                    failures.Record(e);

                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
        due.Dispose();
    }
}
