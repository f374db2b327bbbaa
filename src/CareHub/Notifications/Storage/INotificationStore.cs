namespace CareHub.Notifications.Storage;

/// <summary>
/// The notification store: each subscription's settings and delivery state, its queue of notifications (kept after
/// delivery as its delivery log), each delivery attempt, and the engine's position in the record's change feed. Two
/// implementations (SQLite in its own file, PostgreSQL in the record's database under tables of its own) pass one
/// contract test suite. Only the notification engine, its delivery workers, the Subscription write hook and the admin
/// API call it.
/// </summary>
public interface INotificationStore : IAsyncDisposable
{
    /// <summary>A short name of the backend, for logs and <c>/health</c>.</summary>
    string Backend { get; }

    /// <summary>Applies the numbered notification-store migrations; fails when the database is newer than this build.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Records who wrote version <paramref name="version"/> of a Subscription (a principal snapshot), before that version commits.</summary>
    Task RegisterSubscriberAsync(string subscriptionId, int version, string principal, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Who wrote that version of the Subscription, or null when no subscriber write registered it (the engine's own status writes).</summary>
    Task<string?> GetSubscriberAsync(string subscriptionId, int version, CancellationToken cancellationToken);

    /// <summary>How far the change-feed reader <paramref name="name"/> has read; null before it first reads.</summary>
    Task<long?> GetFeedPositionAsync(string name, CancellationToken cancellationToken);

    /// <summary>Gives the reader <paramref name="name"/> the position <paramref name="position"/> unless it has one.</summary>
    Task StartFeedPositionAsync(string name, long position, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction: moves the reader <paramref name="name"/> from <paramref name="from"/> to <paramref name="to"/>,
    /// applies the subscription changes (in order), and queues the notifications, each with the next queue number and, for an
    /// event, the next event number of its subscription. False, and nothing written, when the reader was not at
    /// <paramref name="from"/> (another node moved it).
    /// </summary>
    Task<bool> ApplyFeedBatchAsync(string name, long from, long to, IReadOnlyList<SubscriptionChange> changes, IReadOnlyList<NewNotification> notifications,
        DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The subscriptions that match changes of these resource types (every state but <c>off</c>).</summary>
    Task<IReadOnlyList<NotificationSubscription>> MatchingSubscriptionsAsync(IReadOnlyCollection<string> resourceTypes, CancellationToken cancellationToken);

    /// <summary>One subscription's settings and state, or null.</summary>
    Task<NotificationSubscription?> GetSubscriptionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every subscription's delivery status: state, queue depth, oldest queued notification, failures in a row, last error.</summary>
    Task<IReadOnlyList<SubscriptionQueueStatus>> StatusAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Subscriptions with a queued notification that are due (their next attempt is not after <paramref name="now"/>), at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<string>> DueSubscriptionsAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Takes the right to deliver from one subscription's queue, or null when another node holds it. Held until disposed;
    /// the holder reads the head after taking it, so a notification another node has just delivered is not sent again.
    /// </summary>
    Task<IAsyncDisposable?> ClaimAsync(string subscriptionId, CancellationToken cancellationToken);

    /// <summary>The oldest queued notification of a subscription, or null when its queue is empty.</summary>
    Task<QueuedNotification?> HeadAsync(string subscriptionId, CancellationToken cancellationToken);

    /// <summary>
    /// Records one delivery attempt of a queued notification (in the attempt log), marks it sent when it succeeded, and sets
    /// the subscription's state, failures, next attempt and last error, in one transaction.
    /// </summary>
    Task CompleteAsync(QueuedNotification notification, DeliveryResult result, CancellationToken cancellationToken);

    /// <summary>A subscription's notifications, newest first, at most <paramref name="count"/> (its delivery log).</summary>
    Task<IReadOnlyList<LoggedNotification>> NotificationsAsync(string subscriptionId, int count, CancellationToken cancellationToken);

    /// <summary>A subscription's delivery attempts, newest first, at most <paramref name="count"/>.</summary>
    Task<IReadOnlyList<DeliveryAttempt>> AttemptsAsync(string subscriptionId, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Queues again every notification of the subscription from event number <paramref name="fromEvent"/> on, so they are
    /// delivered again in order, and makes the subscription due now. Answers how many were queued again.
    /// </summary>
    Task<int> RedeliverAsync(string subscriptionId, long fromEvent, DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>What a subscription's queue holds: an event about a resource version, or the handshake that activates it.</summary>
public static class NotificationKinds
{
    public const string Event = "event";
    public const string Handshake = "handshake";
}

/// <summary>A subscription's delivery state; <see cref="Dead"/> is failing for longer than the configured time.</summary>
public static class SubscriptionStates
{
    public const string Requested = "requested";
    public const string Active = "active";
    public const string Error = "error";
    public const string Dead = "dead";
    public const string Off = "off";
}

/// <summary>A subscription's settings from one version of its Subscription resource, and who it is judged as.</summary>
public sealed record SubscriptionSettings(
    string Id,
    int Version,
    string ResourceType,
    string Criteria,
    string Endpoint,
    IReadOnlyList<string> Headers,
    string Payload,
    string Principal);

/// <summary>
/// A change to a subscription read from the change feed: new <see cref="Settings"/> (with a handshake queued when
/// <see cref="Handshake"/>), or, with <see cref="Settings"/> null, the subscription turned off (deleted or set off).
/// </summary>
public sealed record SubscriptionChange(string Id, SubscriptionSettings? Settings, bool Handshake);

/// <summary>A notification to queue: an event about <see cref="ResourceType"/>/<see cref="ResourceId"/> at a version, found at a feed position.</summary>
public sealed record NewNotification(string SubscriptionId, long FeedPosition, string ResourceType, string ResourceId, int ResourceVersion);

/// <summary>A subscription as stored: its settings and its delivery state.</summary>
public sealed record NotificationSubscription(
    SubscriptionSettings Settings,
    string State,
    long NextEvent,
    int Failures,
    DateTimeOffset? FailingSince,
    DateTimeOffset NextAttempt,
    string? LastError,
    DateTimeOffset? LastDelivered);

/// <summary>A queued notification: its place in the queue, its event number (null for a handshake) and what it points to.</summary>
public sealed record QueuedNotification(
    string SubscriptionId,
    long Seq,
    long? EventNumber,
    string Kind,
    long FeedPosition,
    string? ResourceType,
    string? ResourceId,
    int? ResourceVersion,
    int Attempts,
    DateTimeOffset Created);

/// <summary>
/// The outcome of one attempt: <see cref="Delivered"/> or not (done with: sent, or withheld with <see cref="Error"/> saying
/// why), the HTTP status or error (no patient data), and the subscription's state, failures, first failure and next attempt
/// after it.
/// </summary>
public sealed record DeliveryResult(
    bool Delivered,
    int? StatusCode,
    string? Error,
    string State,
    int Failures,
    DateTimeOffset? FailingSince,
    DateTimeOffset NextAttempt,
    DateTimeOffset Now);

/// <summary>One notification in a subscription's log: queued or sent, with its attempts.</summary>
public sealed record LoggedNotification(long Seq, long? EventNumber, string Kind, string? ResourceType, string? ResourceId, int? ResourceVersion,
    string State, int Attempts, DateTimeOffset Created, DateTimeOffset? Sent);

/// <summary>One delivery attempt: when, which notification, the outcome and the HTTP status or error.</summary>
public sealed record DeliveryAttempt(long Seq, DateTimeOffset At, string Outcome, int? StatusCode, string? Error);

/// <summary>A subscription's queue as <c>/health</c> and the admin API show it; ids, states and counts only.</summary>
public sealed record SubscriptionQueueStatus(
    string Id,
    string State,
    long QueueDepth,
    DateTimeOffset? OldestQueued,
    TimeSpan Lag,
    int Failures,
    DateTimeOffset? FailingSince,
    string? LastError,
    DateTimeOffset? LastDelivered,
    long EventsSinceStart);
