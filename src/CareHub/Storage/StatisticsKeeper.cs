namespace CareHub.Storage;

/// <summary>
/// Keeps the query planner's statistics current as the record grows. A planner without statistics (SQLite with no
/// <c>sqlite_stat1</c>, PostgreSQL before autovacuum's first analyse of a freshly loaded table) cannot tell a narrow
/// index from a wide one, and the access policy's correlated clauses then run against the wrong index, turning a
/// restricted search of milliseconds into minutes (docs/decisions/policy-performance.md). So every <see cref="StatisticsOptions.Every"/> committed writes
/// (versions and index rebuilds) the provider's refresh runs in the background, one at a time; loaders (demo, import,
/// reindex) also ask for one when they finish, and wait for it.
/// </summary>
internal sealed class StatisticsKeeper : IAsyncDisposable
{
    private readonly Func<bool, CancellationToken, Task> refresh;
    private readonly int every;
    private readonly SemaphoreSlim due = new(0, 1);
    private readonly SemaphoreSlim running = new(1, 1);
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private long written;

    /// <param name="refresh">The provider's refresh; its flag says whether a full analysis is wanted (after a bulk load) or a bounded one.</param>
    public StatisticsKeeper(Func<bool, CancellationToken, Task> refresh, int every)
    {
        this.refresh = refresh;
        this.every = every;
        loop = every > 0 ? Task.Run(RunAsync) : Task.CompletedTask;
    }

    /// <summary>Refreshes completed so far: for tests and benchmarks.</summary>
    public long Runs => Interlocked.Read(ref runs);

    private long runs;

    /// <summary>Background refreshes that failed, and the last failure's time and database message (no record content).</summary>
    public (long Failures, DateTimeOffset? At, string? Message) Failures => failures.Snapshot;

    private readonly BackgroundFailures failures = new();

    /// <summary>Called after each commit with the versions and index rebuilds it held.</summary>
    public void Written(int count)
    {
        if (every <= 0 || count <= 0)
        {
            return;
        }

        if (Interlocked.Add(ref written, count) >= every && due.CurrentCount == 0)
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

    /// <summary>Refreshes now and returns when done (after a bulk load); waits for a background refresh in progress first.</summary>
    public async Task RefreshNowAsync(bool full, CancellationToken cancellationToken)
    {
        await running.WaitAsync(cancellationToken);
        try
        {
            Interlocked.Exchange(ref written, 0);
            await refresh(full, cancellationToken);
            Interlocked.Increment(ref runs);
        }
        finally
        {
            running.Release();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                await due.WaitAsync(stop.Token);
                try
                {
                    await RefreshNowAsync(full: false, stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    // Stale statistics slow queries down but lose nothing; the next batch of writes tries again. Counted
                    // for /health: the store has no logger, and the database's message names no record.
                    failures.Record(e);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
        due.Dispose();
        running.Dispose();
    }
}

/// <summary>When the store refreshes the planner's statistics on its own.</summary>
public sealed record StatisticsOptions
{
    /// <summary>Committed writes (versions and index rebuilds) between background refreshes; 0 turns them off.</summary>
    public int Every { get; init; } = 20_000;

    public static StatisticsOptions Default { get; } = new();
}
