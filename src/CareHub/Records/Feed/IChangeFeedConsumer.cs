using CareHub.Storage;

namespace CareHub.Records.Feed;

/// <summary>
/// A reader of the record's change feed run by <see cref="ChangeFeedReader"/>: queued matching, outbound channels,
/// subscriptions. The consumer owns its position and keeps it where its work goes, so the two move together:
/// <list type="bullet">
/// <item>work written to the record: the position in the record's <c>feed_position</c>, moved in the same transaction
/// (<see cref="IRecordWriter.SetFeedPositionAsync"/>), as queued matching does;</item>
/// <item>work written to a store of its own: the position in that store, moved in the same transaction, as outbound
/// channels do with the message store;</item>
/// <item>work that leaves CareHub (a call to another system): the position moved after the work, so a crash in between
/// repeats it (at least once), and the consumer makes a repeat harmless (idempotent).</item>
/// </list>
/// </summary>
public interface IChangeFeedConsumer
{
    /// <summary>The consumer's name in status, logs and metrics; unique among one reader's consumers.</summary>
    string Name { get; }

    /// <summary>The most events one batch hands to <see cref="HandleAsync"/>.</summary>
    int BatchSize { get; }

    /// <summary>How long the reader waits, after a batch that asked for no more or when the feed is read to its end, before it reads again unless woken.</summary>
    TimeSpan Idle { get; }

    /// <summary>Signalled to read again before <see cref="Idle"/> is over (a write the consumer cares about committed).</summary>
    ChangeFeedWake Wake { get; }

    /// <summary>How far the consumer's work is committed: events after this position are handed to it.</summary>
    Task<long> PositionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Does the work of <paramref name="batch"/>, in order, and moves the position from <see cref="ChangeBatch.From"/> to
    /// the answered <see cref="FeedProgress.Position"/> (which may stop short of the batch's last event). An exception
    /// means nothing of the batch is committed, or only what a repeat makes harmless: the reader backs off and hands the
    /// same events again.
    /// </summary>
    Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken);
}

/// <summary>Events after <see cref="From"/>, in commit order (at least one).</summary>
public sealed record ChangeBatch(long From, IReadOnlyList<ChangeEvent> Events);

/// <summary>Where a consumer's position is after a batch, and whether to read on at once (true) or wait for its idle time or a wake-up.</summary>
public readonly record struct FeedProgress(long Position, bool More);

/// <summary>A wake-up for one consumer: signalled any number of times, it wakes one wait.</summary>
public sealed class ChangeFeedWake : IDisposable
{
    private readonly SemaphoreSlim signal = new(0, 1);

    public void Signal()
    {
        try
        {
            signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the next wait returns at once.
        }
    }

    /// <summary>Waits for a signal or <paramref name="timeout"/>, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => signal.Dispose();
}
