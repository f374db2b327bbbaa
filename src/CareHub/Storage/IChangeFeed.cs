namespace CareHub.Storage;

/// <summary>
/// The record's change feed (the outbox): one event per committed version written with a change event, in commit order,
/// and the named positions of its readers. Implemented by the SQL stores beside <see cref="IRecordStore"/>; read by
/// <see cref="Records.Feed.ChangeFeedReader"/>, which drives everything downstream of a write.
/// </summary>
public interface IChangeFeed
{
    /// <summary>Committed writes after <paramref name="afterPosition"/>, in commit order, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<ChangeEvent>> ReadChangesAsync(long afterPosition, int max, CancellationToken cancellationToken);

    /// <summary>How far the change-feed reader <paramref name="name"/> has read (0 before its first position is set).</summary>
    Task<long> GetFeedPositionAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// The position of the last committed event and how many events there are after <paramref name="afterPosition"/>, read
    /// together: how far a reader at that position lags (positions have gaps, so the difference of two is not a count).
    /// </summary>
    Task<FeedLag> LagAsync(long afterPosition, CancellationToken cancellationToken);
}

/// <summary>
/// A write transaction's part in the change feed (the session from <see cref="IRecordStore.BeginWriteAsync"/> of a store
/// that is an <see cref="IChangeFeed"/>): a reader's position committed with what it did with the changes.
/// </summary>
public interface IChangeFeedSession
{
    /// <summary>
    /// Moves the change-feed reader <paramref name="name"/> from <paramref name="from"/> to <paramref name="to"/>,
    /// committed with the rest of the session, so what it did with the changes and its position are stored together
    /// (<see cref="IChangeFeed.GetFeedPositionAsync"/>). False, and nothing changed, when the reader is not at
    /// <paramref name="from"/> (another reader moved it).
    /// </summary>
    Task<bool> SetFeedPositionAsync(string name, long from, long to, CancellationToken cancellationToken);

    /// <summary>
    /// Gives the change-feed reader <paramref name="name"/> a position at the end of the feed as this transaction sees it,
    /// unless it has one: a reader started now reads what is written from now on.
    /// </summary>
    Task StartFeedPositionAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The end of the change feed (0 when it is empty) and the number of events after a reader's position.</summary>
public sealed record FeedLag(long End, long Events);
