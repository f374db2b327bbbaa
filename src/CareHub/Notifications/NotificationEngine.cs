using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Notifications.Storage;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Notifications;

/// <summary>
/// The change-feed consumer of subscriptions: reads every committed change in order, keeps each subscription's settings
/// from the Subscription versions written through the door, and matches every other change against the subscriptions of
/// its type, each as its subscriber's principal (<see cref="RecordService.MatchingIdsAsync"/>), queuing one notification
/// per match. Its position moves in the notification store's transaction that queues them, so a crash between a commit
/// and its notifications loses none and queues none twice.
/// </summary>
public sealed partial class NotificationEngine(
    INotificationStore store, RecordService records, EndpointGuard guard, NotificationOptions options, TimeProvider clock, ILogger<NotificationEngine> logger)
    : IChangeFeedConsumer
{
    /// <summary>The consumer's name in the feed's status and the notification store.</summary>
    public const string ConsumerName = "notifications";

    /// <summary>The most change events one batch reads.</summary>
    public const int FeedBatchSize = 200;

    /// <summary>
    /// The engine itself, as the door sees its reads of Subscriptions and its writes of their status. Recognised by
    /// reference (<see cref="IsEngine"/>), never by a claim a token could carry.
    /// </summary>
    private static readonly Principal Engine = new()
    {
        Kind = PrincipalKind.System,
        Subject = "carehub-notifications",
        ClientId = "carehub-notifications",
        Issuer = "urn:carehub",
        Scopes = ScopeSet.Parse("system/Subscription.cruds"),
    };

    public string Name => ConsumerName;

    public int BatchSize => FeedBatchSize;

    public TimeSpan Idle => options.FeedInterval;

    public ChangeFeedWake Wake { get; } = new();

    /// <summary>Signalled when notifications were queued, so delivery starts at once.</summary>
    public ChangeFeedWake Queued { get; } = new();

    /// <summary>True for the engine's own principal (its status writes are not a subscriber's).</summary>
    public static bool IsEngine(Principal principal) => ReferenceEquals(principal, Engine);

    /// <summary>A request as the engine, for its reads and status writes of Subscriptions.</summary>
    public static RequestContext EngineContext(string correlation) => new(Engine, "urn:carehub:notifications", correlation) { Return = ReturnPreference.Representation };

    /// <summary>A request as a subscription's subscriber (its stored principal), for matching and delivery.</summary>
    public static RequestContext SubscriberContext(SubscriptionSettings settings, string correlation)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new(SubscriberPrincipal.Deserialize(settings.Principal), "urn:carehub:notifications", correlation) { Return = ReturnPreference.Representation };
    }

    public async Task<long> PositionAsync(CancellationToken cancellationToken)
    {
        if (await store.GetFeedPositionAsync(Name, cancellationToken) is { } position)
        {
            return position;
        }

        // From the feed's start: a subscription's own version comes before the changes it may match, so reading the
        // whole feed once notifies nobody of anything written before they subscribed.
        await store.StartFeedPositionAsync(Name, 0, cancellationToken);
        return await store.GetFeedPositionAsync(Name, cancellationToken) ?? 0;
    }

    public async Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var events = batch.Events;
        // A Subscription's change applies to the changes after it: a batch is handled up to the first one, or as the run of
        // Subscription changes it starts with.
        var first = events.ToList().FindIndex(e => e.Type == "Subscription");
        List<SubscriptionChange> changes = [];
        List<NewNotification> notifications = [];
        IReadOnlyList<ChangeEvent> taken;
        if (first == 0)
        {
            taken = events.TakeWhile(e => e.Type == "Subscription").ToList();
            foreach (var change in taken)
            {
                if (await ReadChangeAsync(change, cancellationToken) is { } read)
                {
                    changes.Add(read);
                }
            }
        }
        else
        {
            taken = first < 0 ? events : events.Take(first).ToList();
            notifications = await MatchAsync(taken, cancellationToken);
        }

        var to = taken[^1].Position;
        if (!await store.ApplyFeedBatchAsync(Name, batch.From, to, changes, notifications, clock.GetUtcNow(), cancellationToken))
        {
            // Another node moved the position first: read on from where it is.
            return new FeedProgress(await PositionAsync(cancellationToken), true);
        }

        if (notifications.Count > 0 || changes.Count > 0)
        {
            Queued.Signal();
        }

        return new FeedProgress(to, true);
    }

    /// <summary>What a Subscription's change means for its delivery: new settings, turned off, or nothing (the engine's own status write).</summary>
    private async Task<SubscriptionChange?> ReadChangeAsync(ChangeEvent change, CancellationToken cancellationToken)
    {
        if (change.Method == "DELETE")
        {
            return new SubscriptionChange(change.Id, null, false);
        }

        if (await store.GetSubscriberAsync(change.Id, change.Version, cancellationToken) is not { } principal)
        {
            return null;
        }

        Subscription subscription;
        try
        {
            subscription = (Subscription)(await records.ReadAsync(EngineContext("notify-read-" + change.Position), "Subscription", change.Id, change.Version, cancellationToken)).ToResource()!;
        }
        catch (FhirException e)
        {
            LogSubscriptionUnreadable(logger, change.Id, change.Version, (int)FhirStatus.Of(e));
            return null;
        }

        if (subscription.Status == Subscription.SubscriptionStatus.Off)
        {
            return new SubscriptionChange(change.Id, null, false);
        }

        SubscriptionRequest request;
        try
        {
            request = SubscriptionRequest.Read(subscription, guard, options);
        }
        catch (FhirException)
        {
            // Checked when written; a setting changed since (an endpoint no longer allowed) turns it off.
            LogSubscriptionRefused(logger, change.Id, change.Version);
            return new SubscriptionChange(change.Id, null, false);
        }

        return new SubscriptionChange(change.Id,
            new SubscriptionSettings(change.Id, change.Version, request.ResourceType, request.Criteria, request.Endpoint.AbsoluteUri, request.Headers, request.Payload, principal),
            Handshake: true);
    }

    /// <summary>
    /// The notifications for <paramref name="events"/>, in feed order: for each subscription of a changed type, one governed
    /// query over all the batch's changed ids of that type, as the subscriber.
    /// </summary>
    private async Task<List<NewNotification>> MatchAsync(IReadOnlyList<ChangeEvent> events, CancellationToken cancellationToken)
    {
        var live = events.Where(e => e.Method != "DELETE").ToList();
        var byType = live.GroupBy(e => e.Type, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => e.Id).Distinct(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        if (byType.Count == 0)
        {
            return [];
        }

        var subscriptions = await store.MatchingSubscriptionsAsync(byType.Keys, cancellationToken);
        var matched = new List<(SubscriptionSettings Settings, IReadOnlySet<string> Ids)>();
        foreach (var subscription in subscriptions)
        {
            var settings = subscription.Settings;
            var (_, parameters) = SubscriptionRequest.ParseCriteria(settings.Criteria);
            try
            {
                var ids = await records.MatchingIdsAsync(SubscriberContext(settings, "notify-match"), settings.ResourceType, parameters, byType[settings.ResourceType], cancellationToken);
                if (ids.Count > 0)
                {
                    matched.Add((settings, ids));
                }
            }
            catch (FhirException e)
            {
                // The criteria no longer run for this subscriber (a search parameter removed, a scope the policy no longer
                // honours): nothing matches, and the reason is in the log by subscription id.
                LogMatchFailed(logger, settings.Id, (int)FhirStatus.Of(e));
            }
        }

        var notifications = new List<NewNotification>();
        foreach (var change in live)
        {
            foreach (var (settings, ids) in matched)
            {
                if (settings.ResourceType == change.Type && ids.Contains(change.Id))
                {
                    notifications.Add(new NewNotification(settings.Id, change.Position, change.Type, change.Id, change.Version));
                }
            }
        }

        return notifications;
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Subscription/{Id} version {Version} could not be read (status {Status}); its change is skipped")]
    private static partial void LogSubscriptionUnreadable(ILogger logger, string id, int version, int status);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Subscription/{Id} version {Version} no longer passes the checks (settings changed since it was written); it is turned off")]
    private static partial void LogSubscriptionRefused(ILogger logger, string id, int version);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Subscription/{Id}: its criteria could not be evaluated (status {Status}); nothing matched")]
    private static partial void LogMatchFailed(ILogger logger, string id, int status);
}
