using CareHub.Records.Feed;
using CareHub.Storage;

namespace CareHub.Governance;

/// <summary>
/// Drops the decisions kept in a <see cref="DecisionCache"/> when the change feed shows a write of a type the policy reads
/// (<see cref="IAccessPolicy.DecisionsRead"/>): what this process commits drops them at once (the store's
/// <see cref="IRecordStore.Committed"/>), but a command-line import into the same store or another node on the same
/// PostgreSQL commits elsewhere, and reaches this process only through the feed. The position is kept in memory and starts
/// at the end of the feed: a process starts with no decisions kept, so nothing earlier can have outdated one.
/// </summary>
public sealed class DecisionCacheFeed(DecisionCache cache, IAccessPolicy policy, IChangeFeed feed) : IChangeFeedConsumer
{
    private long? position;

    public string Name => "access-decisions";

    public int BatchSize => 1000;

    public TimeSpan Idle => TimeSpan.FromSeconds(1);

    public ChangeFeedWake Wake { get; } = new();

    public async Task<long> PositionAsync(CancellationToken cancellationToken)
    {
        position ??= (await feed.LagAsync(0, cancellationToken)).End;
        return position.Value;
    }

    public Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Events.Any(e => policy.DecisionsRead(e.Type)))
        {
            cache.Invalidate();
        }

        position = batch.Events[^1].Position;
        return Task.FromResult(new FeedProgress(position.Value, batch.Events.Count >= BatchSize));
    }
}
