using CareHub.Notifications;
using CareHub.Notifications.Storage;

namespace CareHub.Tests.Notifications;

/// <summary>
/// The notification store contract: every provider runs these tests unchanged, each on an empty, migrated database of its own.
/// </summary>
public abstract class NotificationStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2024, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private INotificationStore? store;

    protected INotificationStore Store => store ?? throw new InvalidOperationException("The store is created in InitializeAsync.");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract ValueTask<INotificationStore> CreateStoreAsync();

    protected abstract ValueTask DropDatabaseAsync();

    public async ValueTask InitializeAsync()
    {
        store = await CreateStoreAsync();
        await store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (store is not null)
        {
            await store.DisposeAsync();
            await DropDatabaseAsync();
        }

        GC.SuppressFinalize(this);
    }

    protected static SubscriptionSettings Settings(string id, string type = "Observation", int version = 1) =>
        new(id, version, type, $"{type}?code=1234-5", "https://example.org/hook", ["Authorization: Bearer x"], SubscriptionRequest.Payloads.IdOnly, "{}");

    /// <summary>Registers subscriptions as the engine does: the feed moved past them in one batch.</summary>
    protected async Task<long> SubscribeAsync(long from, params SubscriptionSettings[] settings)
    {
        await Store.StartFeedPositionAsync(NotificationEngine.ConsumerName, 0, Ct);
        Assert.True(await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, from, from + 1, [.. settings.Select(s => new SubscriptionChange(s.Id, s, true))], [], T0, Ct));
        return from + 1;
    }

    protected static DeliveryResult Sent(DateTimeOffset now) => new(true, 200, null, SubscriptionStates.Active, 0, null, now, now);

    [Fact]
    public async Task migrating_twice_changes_nothing()
    {
        await Store.MigrateAsync(Ct);

        Assert.Null(await Store.GetFeedPositionAsync("never-read", Ct));
    }

    [Fact]
    public async Task a_subscription_starts_requested_with_its_handshake_at_the_head_of_its_queue()
    {
        await SubscribeAsync(0, Settings("s1"));

        var subscription = await Store.GetSubscriptionAsync("s1", Ct);
        var head = await Store.HeadAsync("s1", Ct);

        Assert.Equal(SubscriptionStates.Requested, subscription!.State);
        Assert.Equal(["Authorization: Bearer x"], subscription.Settings.Headers);
        Assert.Equal(NotificationKinds.Handshake, head!.Kind);
        Assert.Null(head.EventNumber);
    }

    [Fact]
    public async Task events_are_numbered_per_subscription_in_the_order_they_are_queued()
    {
        var at = await SubscribeAsync(0, Settings("a"), Settings("b"));
        Assert.True(await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, 10,
            [], [new("a", 5, "Observation", "o1", 1), new("b", 5, "Observation", "o1", 1), new("a", 9, "Observation", "o2", 1)], T0, Ct));

        var a = await Store.NotificationsAsync("a", 10, Ct);
        var b = await Store.NotificationsAsync("b", 10, Ct);

        Assert.Equal([2L, 1L], a.Where(n => n.Kind == NotificationKinds.Event).Select(n => n.EventNumber!.Value));
        Assert.Equal(["o2", "o1"], a.Where(n => n.Kind == NotificationKinds.Event).Select(n => n.ResourceId!));
        Assert.Equal([1L], b.Where(n => n.Kind == NotificationKinds.Event).Select(n => n.EventNumber!.Value));
        Assert.Equal(10, await Store.GetFeedPositionAsync(NotificationEngine.ConsumerName, Ct));
    }

    [Fact]
    public async Task a_batch_from_a_position_another_reader_has_moved_writes_nothing()
    {
        var at = await SubscribeAsync(0, Settings("a"));

        var stale = await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at - 1, 20, [], [new("a", 15, "Observation", "o1", 1)], T0, Ct);

        Assert.False(stale);
        Assert.Equal(at, await Store.GetFeedPositionAsync(NotificationEngine.ConsumerName, Ct));
        Assert.DoesNotContain(await Store.NotificationsAsync("a", 10, Ct), n => n.Kind == NotificationKinds.Event);
    }

    [Fact]
    public async Task a_delivered_head_gives_way_to_the_next_and_a_failure_keeps_it_with_its_attempt_logged()
    {
        var at = await SubscribeAsync(0, Settings("a"));
        await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, 5, [], [new("a", 5, "Observation", "o1", 1)], T0, Ct);

        var handshake = (await Store.HeadAsync("a", Ct))!;
        await Store.CompleteAsync(handshake, Sent(T0), Ct);
        var first = (await Store.HeadAsync("a", Ct))!;
        await Store.CompleteAsync(first, new DeliveryResult(false, 500, "the endpoint answered HTTP 500", SubscriptionStates.Error, 1, T0, T0.AddSeconds(1), T0), Ct);

        var again = await Store.HeadAsync("a", Ct);
        var subscription = await Store.GetSubscriptionAsync("a", Ct);
        var attempts = await Store.AttemptsAsync("a", 10, Ct);

        Assert.Equal(first.Seq, again!.Seq);
        Assert.Equal(1, again.Attempts);
        Assert.Equal(SubscriptionStates.Error, subscription!.State);
        Assert.Equal("the endpoint answered HTTP 500", subscription.LastError);
        Assert.Equal(T0.AddSeconds(1), subscription.NextAttempt);
        Assert.Equal(["failed", "delivered"], attempts.Select(a => a.Outcome));
    }

    [Fact]
    public async Task only_queues_that_are_due_are_listed()
    {
        var at = await SubscribeAsync(0, Settings("due"), Settings("waiting"), Settings("empty"));
        foreach (var id in new[] { "due", "waiting", "empty" })
        {
            await Store.CompleteAsync((await Store.HeadAsync(id, Ct))!, Sent(T0), Ct);
        }

        await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, 5, [], [new("due", 5, "Observation", "o1", 1), new("waiting", 5, "Observation", "o1", 1)], T0, Ct);
        await Store.CompleteAsync((await Store.HeadAsync("waiting", Ct))!,
            new DeliveryResult(false, null, "could not connect", SubscriptionStates.Error, 1, T0, T0.AddMinutes(1), T0), Ct);

        Assert.Equal(["due"], await Store.DueSubscriptionsAsync(T0.AddSeconds(1), 10, Ct));
        Assert.Equal(["due", "waiting"], (await Store.DueSubscriptionsAsync(T0.AddMinutes(2), 10, Ct)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task a_deleted_subscription_is_off_and_matches_nothing_more()
    {
        var at = await SubscribeAsync(0, Settings("a"));
        await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, at + 1, [new SubscriptionChange("a", null, false)], [], T0, Ct);

        Assert.Equal(SubscriptionStates.Off, (await Store.GetSubscriptionAsync("a", Ct))!.State);
        Assert.Empty(await Store.MatchingSubscriptionsAsync(["Observation"], Ct));
        Assert.Empty(await Store.DueSubscriptionsAsync(T0.AddDays(1), 10, Ct));
    }

    [Fact]
    public async Task matching_subscriptions_are_found_by_resource_type()
    {
        await SubscribeAsync(0, Settings("obs"), Settings("enc", "Encounter"));

        var found = await Store.MatchingSubscriptionsAsync(["Encounter", "Patient"], Ct);

        Assert.Equal(["enc"], found.Select(s => s.Settings.Id));
    }

    [Fact]
    public async Task redelivery_queues_again_from_an_event_number_in_order()
    {
        var at = await SubscribeAsync(0, Settings("a"));
        await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, 9, [],
            [new("a", 3, "Observation", "o1", 1), new("a", 5, "Observation", "o2", 1), new("a", 9, "Observation", "o3", 1)], T0, Ct);
        while (await Store.HeadAsync("a", Ct) is { } head)
        {
            await Store.CompleteAsync(head, Sent(T0), Ct);
        }

        var queued = await Store.RedeliverAsync("a", 2, T0, Ct);
        var next = await Store.HeadAsync("a", Ct);

        Assert.Equal(2, queued);
        Assert.Equal(2, next!.EventNumber);
        Assert.Equal("o2", next.ResourceId);
    }

    [Fact]
    public async Task a_subscriber_is_registered_per_version_and_a_rolled_back_version_is_replaced()
    {
        await Store.RegisterSubscriberAsync("s", 1, "{\"first\":1}", T0, Ct);
        await Store.RegisterSubscriberAsync("s", 1, "{\"second\":1}", T0, Ct);

        Assert.Equal("{\"second\":1}", await Store.GetSubscriberAsync("s", 1, Ct));
        Assert.Null(await Store.GetSubscriberAsync("s", 2, Ct));
    }

    [Fact]
    public async Task status_counts_the_queue_and_its_lag()
    {
        var at = await SubscribeAsync(0, Settings("a"));
        await Store.ApplyFeedBatchAsync(NotificationEngine.ConsumerName, at, 5, [], [new("a", 5, "Observation", "o1", 1)], T0, Ct);

        var status = Assert.Single(await Store.StatusAsync(T0.AddSeconds(30), Ct));

        Assert.Equal(2, status.QueueDepth);
        Assert.Equal(TimeSpan.FromSeconds(30), status.Lag);
        Assert.Equal(1, status.EventsSinceStart);
    }

    [Fact]
    public async Task a_claimed_queue_cannot_be_claimed_again_until_it_is_released()
    {
        await SubscribeAsync(0, Settings("a"));

        var held = await Store.ClaimAsync("a", Ct);
        var second = await Store.ClaimAsync("a", Ct);
        await held!.DisposeAsync();
        var afterRelease = await Store.ClaimAsync("a", Ct);

        Assert.Null(second);
        Assert.NotNull(afterRelease);
        await afterRelease.DisposeAsync();
    }
}
