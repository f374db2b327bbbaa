namespace CareHub.Messaging.Storage;

/// <summary>
/// The message store: what the broker keeps of every message (its stages, its answer) and of every delivery (its queue,
/// retries and outcome). Two implementations (SQLite in its own file, PostgreSQL in the record's database under tables
/// of its own) pass one contract test suite. Only the broker's intake, workers, admin API and command line call it.
/// </summary>
public interface IMessageStore : IAsyncDisposable
{
    /// <summary>A short name of the backend, for logs.</summary>
    string Backend { get; }

    /// <summary>Applies the numbered message-store migrations; fails when the database is newer than this build.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a message and queues its deliveries in one transaction. When the message carries a
    /// <see cref="NewMessage.DedupKey"/> that this channel holds on a message received since
    /// <see cref="NewMessage.ResendSince"/>, nothing is written and the stored message is returned as a duplicate, so that
    /// its answer can be sent again. A message whose <see cref="NewMessage.ControlKey"/> the channel already holds with
    /// other content is stored, flagged <see cref="MessageFlags.ControlIdReused"/>.
    /// </summary>
    Task<InsertResult> InsertAsync(NewMessage message, CancellationToken cancellationToken);

    /// <summary>The message of a channel with this dedup key received at or after <paramref name="since"/>, or null.</summary>
    Task<StoredMessage?> FindDuplicateAsync(string channel, string dedupKey, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>One message with all its stages and deliveries, or null.</summary>
    Task<StoredMessage?> GetAsync(long id, CancellationToken cancellationToken);

    /// <summary>Messages matching the query, newest first (keyset paging on id).</summary>
    Task<IReadOnlyList<MessageSummary>> SearchAsync(MessageQuery query, CancellationToken cancellationToken);

    /// <summary>Message counts per channel and state, and the channels' paused flags.</summary>
    Task<IReadOnlyList<ChannelStatus>> ChannelStatusAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Claims the next delivery of one destination: the oldest one that is due and is the head of its partition (no
    /// earlier delivery of the same <see cref="ProcessedMessage.PartitionKey"/> is waiting, retrying or dead-lettered).
    /// Returns a claim (its attempt already counted, durably, so that a crash during delivery is known afterwards), or a
    /// result saying when the earliest head is due, or that nothing can go or the queue is claimed by another node. A
    /// partition's head is never skipped, so each patient's messages reach a destination in order, while a message that
    /// waits for a retry or sits in dead-letter holds up only the messages of its own partition.
    /// </summary>
    Task<ClaimResult> ClaimNextAsync(string channel, string destination, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records the outcome of a claimed delivery and updates its message's state; releases the claim.</summary>
    Task CompleteAsync(DeliveryClaim claim, DeliveryOutcome outcome, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a message's processing (state, transformed content, error, partition, flags) and queues it again for each
    /// destination: in the place it had in a destination's queue when it had one (so a dead letter reprocessed after a
    /// fix goes before its patient's later messages), at the end of the queue for a destination it did not have.
    /// False when there is no such message.
    /// </summary>
    Task<bool> ReprocessAsync(long id, ProcessedMessage processing, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Sets a message's dead-lettered deliveries aside: they stay in the store as they are, with the reason, but no longer
    /// hold up the later messages of their partition. False when the message has no dead-lettered delivery.
    /// </summary>
    Task<bool> SetAsideAsync(long id, string reason, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Deletes messages received before <paramref name="before"/> that are in a final state with nothing left to deliver.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>Pauses or resumes a channel's deliveries; the flag is stored, so it holds across restarts and nodes.</summary>
    Task SetPausedAsync(string channel, bool paused, CancellationToken cancellationToken);

    /// <summary>True when the channel is paused.</summary>
    Task<bool> IsPausedAsync(string channel, CancellationToken cancellationToken);

    /// <summary>How far an outbound channel has read the record's change feed (0 before the first event).</summary>
    Task<long> GetFeedPositionAsync(string channel, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the messages an outbound channel made from change-feed events and moves its feed position from
    /// <paramref name="from"/> to <paramref name="to"/>, in one transaction: a restart neither loses nor repeats an event.
    /// False (and nothing written) when the position is no longer <paramref name="from"/>: another node got there first.
    /// </summary>
    Task<bool> AppendFromFeedAsync(string channel, long from, long to, IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken);
}

/// <summary>Message states (the message as a whole).</summary>
public static class MessageStates
{
    /// <summary>Received and stored; not processed further (a source that stores before processing).</summary>
    public const string Received = "received";

    /// <summary>Accepted, but no filter matched: nothing to deliver.</summary>
    public const string Filtered = "filtered";

    /// <summary>Transformed, with no destination to queue for.</summary>
    public const string Transformed = "transformed";

    /// <summary>Transformed and queued for at least one destination that has not received it yet.</summary>
    public const string Queued = "queued";

    /// <summary>Every destination received it.</summary>
    public const string Sent = "sent";

    /// <summary>It could not be parsed or transformed, or a destination dead-lettered it.</summary>
    public const string Error = "error";

    public static readonly IReadOnlyList<string> All = [Received, Filtered, Transformed, Queued, Sent, Error];

    /// <summary>States a purge may remove (nothing is left to do for them).</summary>
    public static readonly IReadOnlyList<string> Final = [Filtered, Transformed, Sent, Error];
}

/// <summary>Delivery states (one destination of one message).</summary>
public static class DeliveryStates
{
    /// <summary>Waiting for its first attempt.</summary>
    public const string Queued = "queued";

    /// <summary>The last attempt failed; another is scheduled at the next attempt time.</summary>
    public const string Error = "error";

    /// <summary>The destination took it.</summary>
    public const string Sent = "sent";

    /// <summary>
    /// Given up: too many attempts, or a failure that retrying cannot fix. It is the work queue: it holds up the later
    /// messages of its partition (its patient) until it is reprocessed and delivered, or set aside.
    /// </summary>
    public const string DeadLetter = "dead-letter";

    /// <summary>A dead letter someone chose not to deliver: kept for the record, it holds nothing up.</summary>
    public const string SetAside = "set-aside";

    public static readonly IReadOnlyList<string> All = [Queued, Error, Sent, DeadLetter, SetAside];
}

/// <summary>Marks on a stored message that say something about it beyond its state.</summary>
public static class MessageFlags
{
    /// <summary>
    /// The sender used this message's control id (MSH-10) before, for a message with other content: it was processed as
    /// new data, not discarded as a resend, and is flagged so that the sender's counter can be looked at.
    /// </summary>
    public const string ControlIdReused = "control-id-reused";

    /// <summary>Accepted and stored, but nothing in it was mapped: the channel's transformer does not map its event.</summary>
    public const string Unmapped = "unmapped";

    public static readonly IReadOnlyList<string> All = [ControlIdReused, Unmapped];
}

/// <summary>A message to store. <see cref="Raw"/> is exactly the bytes received.</summary>
public sealed record NewMessage
{
    public required string Channel { get; init; }

    public required DateTimeOffset Received { get; init; }

    /// <summary>Where it came from: the remote address of a connection, a file name, the change feed.</summary>
    public required string Sender { get; init; }

    public required byte[] Raw { get; init; }

    public string? ControlId { get; init; }

    public string? MessageType { get; init; }

    public string? TriggerEvent { get; init; }

    /// <summary>The answer given to the sender (the ACK), if any.</summary>
    public string? Response { get; init; }

    /// <summary>
    /// Identifies a resend: sending application, facility, MSH-10 and the hash of the content. Null: never treated as a
    /// duplicate.
    /// </summary>
    public string? DedupKey { get; init; }

    /// <summary>Only a message received at or after this time can be the original of a resend. Null: any time.</summary>
    public DateTimeOffset? ResendSince { get; init; }

    /// <summary>Sending application, facility and MSH-10; another message with it and other content flags this one.</summary>
    public string? ControlKey { get; init; }

    /// <summary>The hash of the message's content (hex), compared with earlier messages of the same <see cref="ControlKey"/>.</summary>
    public string? ContentHash { get; init; }

    public required ProcessedMessage Processing { get; init; }
}

/// <summary>What processing made of a message: its state, transformed content, error and the destinations to queue for.</summary>
public sealed record ProcessedMessage(
    string State,
    string? Transformed,
    string? TransformedType,
    string? Error,
    IReadOnlyList<string> Destinations)
{
    /// <summary>
    /// The partition of the channel's queues the message joins: an opaque key of its patient (see PatientPartition), empty
    /// for messages without one. Each partition is delivered in order, independently of the others.
    /// </summary>
    public string PartitionKey { get; init; } = "";

    /// <summary>Marks processing put on the message (<see cref="MessageFlags"/>), such as unmapped.</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    public static ProcessedMessage Failed(string error) => new(MessageStates.Error, null, null, error, []);

    public static ProcessedMessage Filtered() => new(MessageStates.Filtered, null, null, null, []);
}

public sealed record InsertResult(long Id, string Uid, bool Duplicate, string? Response);

public sealed record StoredMessage(
    long Id,
    string Uid,
    string Channel,
    DateTimeOffset Received,
    string Sender,
    string? ControlId,
    string? MessageType,
    string? TriggerEvent,
    byte[] Raw,
    string? Transformed,
    string? TransformedType,
    string? Response,
    string State,
    string? Error,
    DateTimeOffset Updated,
    IReadOnlyList<StoredDelivery> Deliveries)
{
    /// <summary>The partition of its queues (an opaque key of its patient; empty when it names none).</summary>
    public string PartitionKey { get; init; } = "";

    /// <summary>Its marks (<see cref="MessageFlags"/>).</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];
}

public sealed record StoredDelivery(
    long Id,
    string Destination,
    string State,
    int Attempts,
    DateTimeOffset NextAttempt,
    string? LastError,
    string? Response,
    DateTimeOffset Updated);

public sealed record MessageSummary(
    long Id,
    string Channel,
    DateTimeOffset Received,
    string Sender,
    string? ControlId,
    string? MessageType,
    string? TriggerEvent,
    string State,
    string? Error)
{
    /// <summary>Its marks (<see cref="MessageFlags"/>).</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];
}

/// <summary>
/// A message search. <see cref="Type"/> is a message type (<c>ADT</c>) or type and trigger (<c>ADT^A01</c>);
/// <see cref="From"/> and <see cref="To"/> bound the received time as a half-open interval; <see cref="Flag"/> finds
/// messages with that mark (<see cref="MessageFlags"/>); <see cref="BeforeId"/> pages.
/// </summary>
public sealed record MessageQuery(
    string? Channel = null,
    string? State = null,
    string? Type = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    string? ControlId = null,
    long? BeforeId = null,
    int Count = 50,
    string? Flag = null);

public sealed record ChannelStatus(string Channel, bool Paused, IReadOnlyDictionary<string, long> Counts)
{
    public long Count(string state) => Counts.TryGetValue(state, out var n) ? n : 0;

    public long Total => Counts.Values.Sum();
}

/// <summary>A delivery claimed for one attempt. Dispose it (or complete it) to release the claim.</summary>
public sealed class DeliveryClaim : IAsyncDisposable
{
    private readonly IAsyncDisposable? lease;

    internal DeliveryClaim(long deliveryId, StoredMessage message, string destination, int attempt, IAsyncDisposable? lease)
    {
        DeliveryId = deliveryId;
        Message = message;
        Destination = destination;
        Attempt = attempt;
        this.lease = lease;
    }

    public long DeliveryId { get; }

    public StoredMessage Message { get; }

    public string Destination { get; }

    /// <summary>This attempt's number, from 1. Above 1, an earlier attempt may have reached the destination before a crash.</summary>
    public int Attempt { get; }

    internal IAsyncDisposable? Lease => lease;

    public ValueTask DisposeAsync() => lease?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>The answer of <see cref="IMessageStore.ClaimNextAsync"/>: a claim, or when to ask again (null: when woken).</summary>
public sealed record ClaimResult(DeliveryClaim? Claim, DateTimeOffset? NextDue);

/// <summary>The outcome of one delivery attempt, as the store records it.</summary>
public sealed record DeliveryOutcome(string State, DateTimeOffset At, DateTimeOffset? NextAttempt, string? Error, string? Response);

/// <summary>The message database's schema is newer than this build, or its migrations are broken.</summary>
public sealed class MessageSchemaVersionException(string message) : Exception(message);
