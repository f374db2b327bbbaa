namespace CareHub.Storage;

/// <summary>
/// Failures of a store's background work (checkpoints, statistics), counted with the last one's time and database
/// message for /health: the store has no logger, and a database's message names no record.
/// </summary>
internal sealed class BackgroundFailures
{
    private readonly Lock gate = new();
    private long count;
    private DateTimeOffset? lastAt;
    private string? last;

    public (long Failures, DateTimeOffset? At, string? Message) Snapshot
    {
        get
        {
            lock (gate)
            {
                return (count, lastAt, last);
            }
        }
    }

    public void Record(Exception failure)
    {
        lock (gate)
        {
            count++;
            lastAt = DateTimeOffset.UtcNow;
            last = failure.Message;
        }
    }
}
