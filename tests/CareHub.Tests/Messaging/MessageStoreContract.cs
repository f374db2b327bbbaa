using System.Text;
using CareHub.Messaging.Storage;

namespace CareHub.Tests.Messaging;

/// <summary>
/// The message store contract: every provider runs these tests unchanged, each on an empty, migrated database of its own.
/// </summary>
public abstract class MessageStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2024, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private IMessageStore? store;

    protected IMessageStore Store => store ?? throw new InvalidOperationException("The store is created in InitializeAsync.");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract ValueTask<IMessageStore> CreateStoreAsync();

    protected abstract Task ExecuteSqlAsync(string sql);

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

    private static NewMessage Message(string control, string channel = "adt", int minute = 0, string type = "ADT", string trigger = "A01", bool dedup = true,
        string content = "same-content", string partition = "", params string[] destinations) => new()
        {
            Channel = channel,
            Received = T0.AddMinutes(minute),
            Sender = "127.0.0.1:5000",
            Raw = Encoding.UTF8.GetBytes($"MSH|^~\\&|LAB|RAL|||20240301||{type}^{trigger}|{control}|P|2.5.1\r"),
            ControlId = control,
            MessageType = type,
            TriggerEvent = trigger,
            Response = $"MSH|^~\\&|||||||ACK|X|P|2.5.1\rMSA|AA|{control}\r",
            DedupKey = dedup ? $"LAB|RAL|{control}|{content}" : null,
            ControlKey = dedup ? $"LAB|RAL|{control}" : null,
            ContentHash = dedup ? content : null,
            Processing = destinations.Length == 0
                ? ProcessedMessage.Filtered() with { PartitionKey = partition }
                : new ProcessedMessage(MessageStates.Queued, "{\"resourceType\":\"Bundle\"}", "application/fhir+json", null, destinations) { PartitionKey = partition },
        };

    private static DeliveryOutcome DeadLetter(string error) => new(DeliveryStates.DeadLetter, T0, null, error, null);

    private static DeliveryOutcome Sent(int minute) => new(DeliveryStates.Sent, T0.AddMinutes(minute), null, null, "ok");

    [Fact]
    public async Task a_stored_message_reads_back_with_all_its_stages_and_deliveries()
    {
        var inserted = await Store.InsertAsync(Message("c1", destinations: ["record", "copy"]), Ct);

        var message = await Store.GetAsync(inserted.Id, Ct);

        Assert.NotNull(message);
        Assert.False(inserted.Duplicate);
        Assert.Equal(inserted.Uid, message.Uid);
        Assert.Equal("adt", message.Channel);
        Assert.Equal(T0, message.Received);
        Assert.Equal("c1", message.ControlId);
        Assert.Equal(("ADT", "A01"), (message.MessageType, message.TriggerEvent));
        Assert.StartsWith("MSH|", Encoding.UTF8.GetString(message.Raw), StringComparison.Ordinal);
        Assert.Equal("{\"resourceType\":\"Bundle\"}", message.Transformed);
        Assert.Contains("MSA|AA|c1", message.Response, StringComparison.Ordinal);
        Assert.Equal(MessageStates.Queued, message.State);
        Assert.Equal(["record", "copy"], message.Deliveries.Select(d => d.Destination));
        Assert.All(message.Deliveries, d => Assert.Equal((DeliveryStates.Queued, 0), (d.State, d.Attempts)));
    }

    [Fact]
    public async Task raw_bytes_are_kept_exactly_even_when_they_are_not_text()
    {
        byte[] noise = [0x00, 0xFF, 0xFE, 0x0D, 0x80, 0x41];
        var inserted = await Store.InsertAsync(Message("n") with { Raw = noise, DedupKey = null, Processing = ProcessedMessage.Failed("not HL7") }, Ct);

        var message = await Store.GetAsync(inserted.Id, Ct);

        Assert.Equal(noise, message!.Raw);
        Assert.Equal((MessageStates.Error, "not HL7"), (message.State, message.Error));
    }

    [Fact]
    public async Task a_resend_with_the_same_dedup_key_is_a_duplicate_and_writes_nothing()
    {
        var first = await Store.InsertAsync(Message("dup", destinations: ["record"]), Ct);

        var second = await Store.InsertAsync(Message("dup", minute: 5, destinations: ["record"]), Ct);

        Assert.True(second.Duplicate);
        Assert.Equal(first.Id, second.Id);
        Assert.Contains("MSA|AA|dup", second.Response, StringComparison.Ordinal);
        Assert.Single(await Store.SearchAsync(new MessageQuery(), Ct));
    }

    [Fact]
    public async Task concurrent_resends_store_the_message_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Store.InsertAsync(Message("race", destinations: ["record"]), Ct), Ct)));

        Assert.Single(results.Select(r => r.Id).Distinct());
        Assert.Single(results, r => !r.Duplicate);
        Assert.Single(await Store.SearchAsync(new MessageQuery(), Ct));
    }

    [Fact]
    public async Task the_same_control_id_on_another_channel_or_without_a_key_is_not_a_duplicate()
    {
        await Store.InsertAsync(Message("same"), Ct);
        var other = await Store.InsertAsync(Message("same", channel: "oru"), Ct);
        var unkeyed1 = await Store.InsertAsync(Message("same", dedup: false), Ct);
        var unkeyed2 = await Store.InsertAsync(Message("same", dedup: false), Ct);

        Assert.False(other.Duplicate);
        Assert.False(unkeyed1.Duplicate);
        Assert.False(unkeyed2.Duplicate);
        Assert.Equal(4, (await Store.SearchAsync(new MessageQuery(), Ct)).Count);
    }

    [Fact]
    public async Task a_destination_gets_its_queue_in_order_and_each_claim_counts_an_attempt()
    {
        var ids = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await Store.InsertAsync(Message($"o{i}", destinations: ["record"]), Ct)).Id);
        }

        var delivered = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var claim = (await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim;
            Assert.NotNull(claim);
            Assert.Equal(1, claim.Attempt);
            delivered.Add(claim.Message.Id);
            await Store.CompleteAsync(claim, Sent(1), Ct);
        }

        Assert.Equal(ids, delivered);
        Assert.Equal(new ClaimResult(null, null), await Store.ClaimNextAsync("adt", "record", T0, Ct));
        Assert.All(await Store.SearchAsync(new MessageQuery(), Ct), m => Assert.Equal(MessageStates.Sent, m.State));
    }

    [Fact]
    public async Task a_head_waiting_for_its_retry_holds_back_the_messages_behind_it()
    {
        var first = await Store.InsertAsync(Message("h1", destinations: ["mllp"]), Ct);
        await Store.InsertAsync(Message("h2", destinations: ["mllp"]), Ct);
        var claim = (await Store.ClaimNextAsync("adt", "mllp", T0, Ct)).Claim!;
        await Store.CompleteAsync(claim, new DeliveryOutcome(DeliveryStates.Error, T0, T0.AddMinutes(2), "refused", null), Ct);

        var early = await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(1), Ct);
        var due = await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(2), Ct);

        Assert.Null(early.Claim);
        Assert.Equal(T0.AddMinutes(2), early.NextDue);
        Assert.Equal(first.Id, due.Claim!.Message.Id);
        Assert.Equal(2, due.Claim.Attempt);
        await due.Claim.DisposeAsync();
        var stored = await Store.GetAsync(first.Id, Ct);
        Assert.Equal((DeliveryStates.Error, 2, "refused"), (stored!.Deliveries[0].State, stored.Deliveries[0].Attempts, stored.Deliveries[0].LastError));
    }

    [Fact]
    public async Task a_dead_lettered_message_holds_up_its_own_partition_only_and_puts_its_message_in_error()
    {
        var poison = await Store.InsertAsync(Message("p1", partition: "patient-a", destinations: ["mllp"]), Ct);
        var samePatient = await Store.InsertAsync(Message("p2", partition: "patient-a", destinations: ["mllp"]), Ct);
        var otherPatient = await Store.InsertAsync(Message("p3", partition: "patient-b", destinations: ["mllp"]), Ct);
        var claim = (await Store.ClaimNextAsync("adt", "mllp", T0, Ct)).Claim!;
        Assert.Equal(poison.Id, claim.Message.Id);

        await Store.CompleteAsync(claim, new DeliveryOutcome(DeliveryStates.DeadLetter, T0, null, "AR: unsupported", "MSA|AR"), Ct);
        var following = (await Store.ClaimNextAsync("adt", "mllp", T0, Ct)).Claim!;
        await Store.CompleteAsync(following, Sent(1), Ct);
        var afterThat = await Store.ClaimNextAsync("adt", "mllp", T0, Ct);

        Assert.Equal(otherPatient.Id, following.Message.Id);
        Assert.Equal(new ClaimResult(null, null), afterThat);
        Assert.Equal(MessageStates.Queued, (await Store.GetAsync(samePatient.Id, Ct))!.State);
        var stored = await Store.GetAsync(poison.Id, Ct);
        Assert.Equal(MessageStates.Error, stored!.State);
        Assert.Equal("patient-a", stored.PartitionKey);
        Assert.Equal((DeliveryStates.DeadLetter, "AR: unsupported", "MSA|AR"), (stored.Deliveries[0].State, stored.Deliveries[0].LastError, stored.Deliveries[0].Response));
    }

    [Fact]
    public async Task a_message_waiting_for_its_retry_holds_back_its_own_partition_while_other_partitions_go_first()
    {
        var retrying = await Store.InsertAsync(Message("w1", partition: "patient-a", destinations: ["mllp"]), Ct);
        var samePatient = await Store.InsertAsync(Message("w2", partition: "patient-a", destinations: ["mllp"]), Ct);
        var otherPatient = await Store.InsertAsync(Message("w3", partition: "patient-b", destinations: ["mllp"]), Ct);
        var claim = (await Store.ClaimNextAsync("adt", "mllp", T0, Ct)).Claim!;
        await Store.CompleteAsync(claim, new DeliveryOutcome(DeliveryStates.Error, T0, T0.AddMinutes(5), "timeout", null), Ct);

        var next = (await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(1), Ct)).Claim!;
        await Store.CompleteAsync(next, Sent(1), Ct);
        var waiting = await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(1), Ct);
        var due = (await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(5), Ct)).Claim!;
        await Store.CompleteAsync(due, Sent(5), Ct);
        var then = (await Store.ClaimNextAsync("adt", "mllp", T0.AddMinutes(5), Ct)).Claim!;
        await then.DisposeAsync();

        Assert.Equal(otherPatient.Id, next.Message.Id);
        Assert.Equal(new ClaimResult(null, T0.AddMinutes(5)), waiting);
        Assert.Equal((retrying.Id, 2), (due.Message.Id, due.Attempt));
        Assert.Equal(samePatient.Id, then.Message.Id);
    }

    [Fact]
    public async Task setting_a_dead_letter_aside_releases_its_partition_and_keeps_the_message_in_error()
    {
        var poison = await Store.InsertAsync(Message("a1", partition: "patient-a", destinations: ["record"]), Ct);
        var later = await Store.InsertAsync(Message("a2", partition: "patient-a", destinations: ["record"]), Ct);
        Assert.False(await Store.SetAsideAsync(poison.Id, "nothing to set aside yet", T0, Ct));
        await Store.CompleteAsync((await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim!, DeadLetter("412 two patients match"), Ct);
        Assert.Null((await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim);

        Assert.True(await Store.SetAsideAsync(poison.Id, "set aside by int.eng: duplicate patients under review", T0.AddMinutes(1), Ct));
        var released = (await Store.ClaimNextAsync("adt", "record", T0.AddMinutes(1), Ct)).Claim!;
        await released.DisposeAsync();

        Assert.Equal(later.Id, released.Message.Id);
        var stored = await Store.GetAsync(poison.Id, Ct);
        Assert.Equal(MessageStates.Error, stored!.State);
        Assert.Equal((DeliveryStates.SetAside, "set aside by int.eng: duplicate patients under review"), (stored.Deliveries[0].State, stored.Deliveries[0].LastError));
    }

    [Fact]
    public async Task the_same_control_id_with_other_content_is_stored_as_new_data_and_flagged()
    {
        var first = await Store.InsertAsync(Message("reused", content: "first-admission", destinations: ["record"]), Ct);

        var second = await Store.InsertAsync(Message("reused", minute: 5, content: "second-admission", destinations: ["record"]) with { ResendSince = T0 }, Ct);
        var resendOfSecond = await Store.InsertAsync(Message("reused", minute: 6, content: "second-admission", destinations: ["record"]) with { ResendSince = T0 }, Ct);

        Assert.False(second.Duplicate);
        Assert.NotEqual(first.Id, second.Id);
        Assert.True(resendOfSecond.Duplicate);
        Assert.Equal(second.Id, resendOfSecond.Id);
        Assert.Empty((await Store.GetAsync(first.Id, Ct))!.Flags);
        Assert.Equal([MessageFlags.ControlIdReused], (await Store.GetAsync(second.Id, Ct))!.Flags);
        var flagged = Assert.Single(await Store.SearchAsync(new MessageQuery(Flag: MessageFlags.ControlIdReused), Ct));
        Assert.Equal(second.Id, flagged.Id);
        Assert.Equal([MessageFlags.ControlIdReused], flagged.Flags);
        Assert.Equal(2, (await Store.SearchAsync(new MessageQuery(ControlId: "reused"), Ct)).Count);
    }

    [Fact]
    public async Task a_resend_after_the_window_is_processed_again_and_the_key_moves_to_it()
    {
        var original = await Store.InsertAsync(Message("late", destinations: ["record"]), Ct);

        var late = await Store.InsertAsync(Message("late", minute: 60, destinations: ["record"]) with { ResendSince = T0.AddMinutes(30) }, Ct);
        var resendOfLate = await Store.InsertAsync(Message("late", minute: 61, destinations: ["record"]) with { ResendSince = T0.AddMinutes(31) }, Ct);

        Assert.False(late.Duplicate);
        Assert.NotEqual(original.Id, late.Id);
        Assert.Equal((true, late.Id), (resendOfLate.Duplicate, resendOfLate.Id));
        Assert.Empty((await Store.GetAsync(late.Id, Ct))!.Flags);
    }

    [Fact]
    public async Task reprocessing_takes_the_new_partition_and_flags_and_keeps_the_control_id_flag()
    {
        await Store.InsertAsync(Message("rf", content: "one"), Ct);
        var reused = await Store.InsertAsync(Message("rf", content: "two", destinations: ["record"]), Ct);

        await Store.ReprocessAsync(reused.Id, new ProcessedMessage(MessageStates.Queued, "{}", "application/fhir+json", null, ["record"])
        {
            PartitionKey = "patient-z",
            Flags = [MessageFlags.Unmapped],
        }, T0.AddHours(1), Ct);

        var stored = await Store.GetAsync(reused.Id, Ct);
        Assert.Equal("patient-z", stored!.PartitionKey);
        Assert.Equal([MessageFlags.ControlIdReused, MessageFlags.Unmapped], stored.Flags);
    }

    [Fact]
    public async Task a_message_is_sent_only_when_every_destination_has_it()
    {
        var inserted = await Store.InsertAsync(Message("two", destinations: ["a", "b"]), Ct);
        var a = (await Store.ClaimNextAsync("adt", "a", T0, Ct)).Claim!;
        await Store.CompleteAsync(a, Sent(1), Ct);

        Assert.Equal(MessageStates.Queued, (await Store.GetAsync(inserted.Id, Ct))!.State);

        var b = (await Store.ClaimNextAsync("adt", "b", T0, Ct)).Claim!;
        await Store.CompleteAsync(b, Sent(2), Ct);
        Assert.Equal(MessageStates.Sent, (await Store.GetAsync(inserted.Id, Ct))!.State);
    }

    [Fact]
    public async Task a_claimed_queue_cannot_be_claimed_again_until_released()
    {
        await Store.InsertAsync(Message("l1", destinations: ["record"]), Ct);
        await Store.InsertAsync(Message("l2", destinations: ["record"]), Ct);
        var held = (await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim!;

        var second = await Store.ClaimNextAsync("adt", "record", T0, Ct);
        await held.DisposeAsync();
        var after = await Store.ClaimNextAsync("adt", "record", T0, Ct);

        Assert.Null(second.Claim);
        Assert.Equal(held.Message.Id, after.Claim!.Message.Id);
        Assert.Equal(2, after.Claim.Attempt);
        await after.Claim.DisposeAsync();
    }

    [Fact]
    public async Task search_filters_by_channel_state_type_time_and_control_id_newest_first()
    {
        await Store.InsertAsync(Message("s1", minute: 0, destinations: ["record"]), Ct);
        await Store.InsertAsync(Message("s2", minute: 10, type: "ORU", trigger: "R01", destinations: ["record"]), Ct);
        await Store.InsertAsync(Message("s3", minute: 20, channel: "other"), Ct);
        await Store.InsertAsync(Message("s4", minute: 30, trigger: "A08"), Ct);

        Assert.Equal(["s4", "s2", "s1"], (await Store.SearchAsync(new MessageQuery(Channel: "adt"), Ct)).Select(m => m.ControlId));
        Assert.Equal(["s4", "s3"], (await Store.SearchAsync(new MessageQuery(State: MessageStates.Filtered), Ct)).Select(m => m.ControlId));
        Assert.Equal(["s4", "s3", "s1"], (await Store.SearchAsync(new MessageQuery(Type: "ADT"), Ct)).Select(m => m.ControlId));
        Assert.Equal(["s3", "s1"], (await Store.SearchAsync(new MessageQuery(Type: "ADT^A01"), Ct)).Select(m => m.ControlId));
        Assert.Equal(["s3", "s2"], (await Store.SearchAsync(new MessageQuery(From: T0.AddMinutes(10), To: T0.AddMinutes(30)), Ct)).Select(m => m.ControlId));
        Assert.Equal(["s2"], (await Store.SearchAsync(new MessageQuery(ControlId: "s2"), Ct)).Select(m => m.ControlId));
        var page1 = await Store.SearchAsync(new MessageQuery(Count: 2), Ct);
        var page2 = await Store.SearchAsync(new MessageQuery(Count: 2, BeforeId: page1[^1].Id), Ct);
        Assert.Equal(["s4", "s3", "s2", "s1"], page1.Concat(page2).Select(m => m.ControlId));
    }

    [Fact]
    public async Task channel_status_counts_messages_by_state_and_remembers_a_pause()
    {
        await Store.InsertAsync(Message("a", destinations: ["record"]), Ct);
        await Store.InsertAsync(Message("b"), Ct);
        await Store.InsertAsync(Message("c", dedup: false) with { Processing = ProcessedMessage.Failed("bad") }, Ct);
        await Store.SetPausedAsync("adt", true, Ct);
        await Store.SetPausedAsync("idle", true, Ct);
        await Store.SetPausedAsync("idle", false, Ct);

        var status = await Store.ChannelStatusAsync(Ct);

        var adt = Assert.Single(status, s => s.Channel == "adt");
        Assert.True(adt.Paused);
        Assert.Equal((1, 1, 1, 3), (adt.Count(MessageStates.Queued), adt.Count(MessageStates.Filtered), adt.Count(MessageStates.Error), adt.Total));
        Assert.False(Assert.Single(status, s => s.Channel == "idle").Paused);
        Assert.True(await Store.IsPausedAsync("adt", Ct));
        Assert.False(await Store.IsPausedAsync("never-seen", Ct));
    }

    [Fact]
    public async Task reprocessing_replaces_the_processing_and_queues_the_message_again_behind_the_others()
    {
        var failed = await Store.InsertAsync(Message("r1", dedup: false) with { Processing = ProcessedMessage.Failed("mapper bug") }, Ct);
        var later = await Store.InsertAsync(Message("r2", destinations: ["record"]), Ct);

        Assert.True(await Store.ReprocessAsync(failed.Id, new ProcessedMessage(MessageStates.Queued, "{}", "application/fhir+json", null, ["record"]), T0.AddHours(1), Ct));
        Assert.False(await Store.ReprocessAsync(999_999, ProcessedMessage.Filtered(), T0, Ct));

        var stored = await Store.GetAsync(failed.Id, Ct);
        Assert.Equal((MessageStates.Queued, null, "{}"), (stored!.State, stored.Error, stored.Transformed));
        var first = (await Store.ClaimNextAsync("adt", "record", T0.AddHours(1), Ct)).Claim!;
        await Store.CompleteAsync(first, Sent(61), Ct);
        var second = (await Store.ClaimNextAsync("adt", "record", T0.AddHours(1), Ct)).Claim!;
        await second.DisposeAsync();
        Assert.Equal((later.Id, failed.Id), (first.Message.Id, second.Message.Id));
    }

    [Fact]
    public async Task purge_removes_old_messages_in_final_states_only()
    {
        var oldSent = await Store.InsertAsync(Message("old-sent", minute: 0, destinations: ["record"]), Ct);
        var claim = (await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim!;
        await Store.CompleteAsync(claim, Sent(1), Ct);
        var oldFiltered = await Store.InsertAsync(Message("old-filtered", minute: 1), Ct);
        var oldQueued = await Store.InsertAsync(Message("old-queued", minute: 2, destinations: ["mllp"]), Ct);
        var recent = await Store.InsertAsync(Message("recent", minute: 100), Ct);

        var removed = await Store.PurgeAsync(T0.AddMinutes(50), Ct);

        Assert.Equal(2, removed);
        Assert.Null(await Store.GetAsync(oldSent.Id, Ct));
        Assert.Null(await Store.GetAsync(oldFiltered.Id, Ct));
        Assert.NotNull(await Store.GetAsync(oldQueued.Id, Ct));
        Assert.NotNull(await Store.GetAsync(recent.Id, Ct));
    }

    [Fact]
    public async Task the_feed_position_moves_with_its_messages_and_only_from_where_it_was()
    {
        Assert.Equal(0, await Store.GetFeedPositionAsync("out", Ct));

        Assert.True(await Store.AppendFromFeedAsync("out", 0, 7, [Message("f1", channel: "out", destinations: ["mllp"])], Ct));
        Assert.False(await Store.AppendFromFeedAsync("out", 0, 9, [Message("f2", channel: "out", destinations: ["mllp"])], Ct));

        Assert.Equal(7, await Store.GetFeedPositionAsync("out", Ct));
        Assert.Equal(["f1"], (await Store.SearchAsync(new MessageQuery(Channel: "out"), Ct)).Select(m => m.ControlId));
    }

    [Fact]
    public async Task migrating_again_changes_nothing_and_a_newer_schema_is_refused()
    {
        await Store.MigrateAsync(Ct);
        await ExecuteSqlAsync($"INSERT INTO message_schema_version (version, applied) VALUES ({SqlMessageStore.SchemaVersion + 1}, 'future')");

        var e = await Assert.ThrowsAsync<MessageSchemaVersionException>(() => Store.MigrateAsync(Ct));
        Assert.Contains("Upgrade CareHub", e.Message, StringComparison.Ordinal);
    }
}
