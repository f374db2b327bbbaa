namespace CareHub.Storage;

/// <summary>
/// The query planner's statistics (see <see cref="StatisticsKeeper"/>): refreshed in the background as writes accumulate,
/// and on demand after a bulk load.
/// </summary>
public abstract partial class SqlRecordStore
{
    private StatisticsKeeper? statistics;

    /// <summary>When the store refreshes the planner's statistics on its own; set before the first write.</summary>
    public StatisticsOptions StatisticsOptions { get; init; } = StatisticsOptions.Default;

    /// <summary>Refreshes of the planner's statistics completed so far (background and on demand): for tests and benchmarks.</summary>
    public long StatisticsRefreshes => statistics?.Runs ?? 0;

    /// <summary>Background refreshes that failed, and the last failure (for /health).</summary>
    public (long Failures, DateTimeOffset? At, string? Message) StatisticsFailures => statistics?.Failures ?? (0, null, null);

    private protected StatisticsKeeper Statistics
    {
        get
        {
            if (statistics is { } keeper)
            {
                return keeper;
            }

            var created = new StatisticsKeeper(RefreshStatisticsCoreAsync, StatisticsOptions.Every);
            if (Interlocked.CompareExchange(ref statistics, created, null) is null)
            {
                return created;
            }

            _ = created.DisposeAsync().AsTask();
            return statistics;
        }
    }

    public Task RefreshStatisticsAsync(CancellationToken cancellationToken) => Statistics.RefreshNowAsync(full: true, cancellationToken);

    /// <summary>
    /// The provider's refresh: a full analysis after a bulk load, or a bounded one (a sample of each index) in the
    /// background, where it must not hold up writes for long.
    /// </summary>
    protected abstract Task RefreshStatisticsCoreAsync(bool full, CancellationToken cancellationToken);

    /// <summary>Stops the background refresh; providers call it first when disposed.</summary>
    protected async ValueTask StopStatisticsAsync()
    {
        if (statistics is { } keeper)
        {
            await keeper.DisposeAsync();
        }
    }
}
