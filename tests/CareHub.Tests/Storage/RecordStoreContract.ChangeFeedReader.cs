using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Storage;

/// <summary>
/// The change-feed reader's contract over each store: every change is handed to every consumer in order; a consumer's
/// position moves only with its committed work; a failing consumer backs off and is handed the same batch again, holding
/// up no other consumer; status and lag say where each one is.
/// </summary>
public abstract partial class RecordStoreContract
{
    private static readonly ChangeFeedBackoff QuickBackoff = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(40));

    [Fact]
    public async Task the_reader_hands_a_consumer_each_change_once_and_moves_its_position_with_its_work()
    {
        await using var door = OpenDoor();
        var patients = await door.PatientsAsync(5);
        var consumer = new RecordingConsumer("first", door.Records, Feed);
        using var reader = Reader(consumer);
        using var stop = new CancellationTokenSource();
        var running = reader.RunAsync(stop.Token);

        await UntilCaughtUpAsync(reader, consumer.Name);
        await stop.CancelAsync();
        await running;

        Assert.Equal(patients.Order(), await door.SeenAsync(consumer.Name));
        Assert.Equal((await Feed.LagAsync(0, Ct)).End, await Feed.GetFeedPositionAsync(consumer.Name, Ct));
        // Batches follow one another: each starts where the one before it ended.
        var handed = consumer.Handed.ToList();
        Assert.All(handed.Zip(handed.Skip(1)), pair => Assert.Equal(pair.First.Last, pair.Second.From));
        Assert.Equal(ChangeFeedState.Stopped, Status(reader, consumer.Name).State);
    }

    [Fact]
    public async Task a_failing_consumer_keeps_its_position_and_is_handed_the_same_batch_until_it_succeeds()
    {
        await using var door = OpenDoor();
        var patients = await door.PatientsAsync(3);
        var consumer = new RecordingConsumer("flaky", door.Records, Feed) { Failing = true };
        using var reader = Reader(consumer);
        using var stop = new CancellationTokenSource();
        var running = reader.RunAsync(stop.Token);

        await UntilAsync(() => Status(reader, consumer.Name).ConsecutiveFailures >= 3, "three failures in a row");
        // The work of the failed batches rolled back with the position: nothing is seen, nothing moved.
        Assert.Equal(0, await Feed.GetFeedPositionAsync(consumer.Name, Ct));
        Assert.Empty(await door.SeenAsync(consumer.Name));
        var failing = Status(reader, consumer.Name);
        Assert.Equal((ChangeFeedState.BackingOff, nameof(InvalidOperationException)), (failing.State, failing.LastError));
        Assert.NotNull(failing.LastErrorAt);
        Assert.Single(consumer.Handed.Distinct());

        consumer.Failing = false;
        await UntilCaughtUpAsync(reader, consumer.Name);
        await stop.CancelAsync();
        await running;

        // Resumed from the failed batch: every change seen once, none lost, none twice.
        Assert.Equal(patients.Order(), await door.SeenAsync(consumer.Name));
        Assert.Equal(0, Status(reader, consumer.Name).ConsecutiveFailures);
        Assert.NotNull(Status(reader, consumer.Name).LastSuccess);
    }

    [Fact]
    public async Task one_consumer_failing_holds_up_no_other_and_each_reports_its_own_lag()
    {
        await using var door = OpenDoor();
        var patients = await door.PatientsAsync(4);
        var broken = new RecordingConsumer("broken-" + Guid.NewGuid().ToString("N")[..8], door.Records, Feed) { Failing = true };
        var healthy = new RecordingConsumer("healthy", door.Records, Feed);
        using var reader = Reader(broken, healthy);
        var lags = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        using var listener = LagListener(lags);
        using var stop = new CancellationTokenSource();
        var running = reader.RunAsync(stop.Token);

        await UntilCaughtUpAsync(reader, healthy.Name);
        Assert.Equal(patients.Order(), await door.SeenAsync(healthy.Name));
        Assert.Equal(0, await Feed.GetFeedPositionAsync(broken.Name, Ct));

        // The healthy one wrote what it saw, so the feed is longer now; the broken one's lag counts all of it.
        var behind = await Feed.LagAsync(0, Ct);
        await UntilAsync(() => Status(reader, broken.Name).Lag == behind.Events, "the broken consumer's lag is measured after a failure");
        var status = Status(reader, broken.Name);
        Assert.Equal((0L, behind.End), (status.Position, status.FeedEnd));
        Assert.Equal(0, Status(reader, healthy.Name).Lag);
        listener.RecordObservableInstruments();
        Assert.Equal(behind.Events, lags[broken.Name]);

        broken.Failing = false;
        await UntilCaughtUpAsync(reader, broken.Name);
        await stop.CancelAsync();
        await running;
        Assert.Equal(patients.Order(), await door.SeenAsync(broken.Name));
        Assert.Equal(patients.Order(), await door.SeenAsync(healthy.Name));
    }

    [Fact]
    public async Task a_consumer_backing_off_stops_when_the_reader_is_stopped()
    {
        await using var door = OpenDoor();
        await door.PatientsAsync(1);
        var consumer = new RecordingConsumer("stuck", door.Records, Feed) { Failing = true };
        using var reader = new ChangeFeedReader(Feed, [consumer], TimeProvider.System, NullLogger<ChangeFeedReader>.Instance,
            new ChangeFeedBackoff(TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        using var stop = new CancellationTokenSource();
        var running = reader.RunAsync(stop.Token);
        await UntilAsync(() => Status(reader, consumer.Name).ConsecutiveFailures == 1, "the first failure");

        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(ChangeFeedState.Stopped, Status(reader, consumer.Name).State);
    }

    private ChangeFeedReader Reader(params IChangeFeedConsumer[] consumers) =>
        new(Feed, consumers, TimeProvider.System, NullLogger<ChangeFeedReader>.Instance, QuickBackoff);

    private static ChangeFeedStatus Status(ChangeFeedReader reader, string name) => reader.Status.Single(s => s.Name == name);

    private async Task UntilCaughtUpAsync(ChangeFeedReader reader, string name) =>
        await UntilAsync(async () => Status(reader, name) is { State: ChangeFeedState.CaughtUp, Lag: 0 } status
            && status.Position == (await Feed.LagAsync(0, Ct)).End, $"{name} reads to the end of the feed");

    private static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "within 30 s: " + what);
            await System.Threading.Tasks.Task.Delay(10, Ct);
        }
    }

    /// <summary>Collects the <c>carehub.feed.lag</c> gauge by consumer, each time the listener is asked to observe.</summary>
    private static MeterListener LagListener(ConcurrentDictionary<string, long> lags)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ChangeFeedReader.MeterName && instrument.Name == "carehub.feed.lag")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "consumer" && tag.Value is string consumer)
                {
                    lags[consumer] = value;
                }
            }
        });
        listener.Start();
        return listener;
    }

    private Door OpenDoor()
    {
        var audit = new AuditTrail(Store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        return new Door(new RecordService(Store, new ScopeAccessPolicy(), audit, TimeProvider.System), audit, Store);
    }

    /// <summary>The one door over the test's store: writes Patients, and reads back what a consumer saw.</summary>
    private sealed class Door(RecordService records, AuditTrail audit, IRecordStore store) : IAsyncDisposable
    {
        public RecordService Records => records;

        /// <summary>Writes Patients; answers the feed positions of their change events.</summary>
        public async Task<IReadOnlyList<long>> PatientsAsync(int count)
        {
            var feed = (IChangeFeed)store;
            var from = (await feed.LagAsync(0, Ct)).End;
            for (var i = 0; i < count; i++)
            {
                await records.CreateAsync(RecordsFixture.System(), new Patient { Gender = AdministrativeGender.Unknown }, null, Ct);
            }

            return (await feed.ReadChangesAsync(from, 1000, Ct)).Where(c => c.Type == "Patient").Select(c => c.Position).ToList();
        }

        /// <summary>The positions a consumer recorded as seen, in order; a change seen twice would show as a second version.</summary>
        public async Task<IReadOnlyList<long>> SeenAsync(string consumer)
        {
            var found = await store.SearchAsync(new StoreQuery("Basic", [], 1000) { Scope = QueryScope.Internal("test") }, Ct);
            var mine = found.Resources.Where(r => r.Id.StartsWith(consumer + "-", StringComparison.Ordinal)).ToList();
            Assert.All(mine, r => Assert.Equal(1, r.Version));
            return mine.Select(r => long.Parse(r.Id[(consumer.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        }

        public async ValueTask DisposeAsync() => await audit.DisposeAsync();
    }

    /// <summary>
    /// A consumer whose work goes to the record: a Basic per Patient change, written in the same transaction that moves its
    /// position. While <see cref="Failing"/>, its work throws after writing, before the position moves.
    /// </summary>
    private sealed class RecordingConsumer(string name, RecordService records, IChangeFeed feed) : IChangeFeedConsumer
    {
        private static readonly RequestContext Context = RecordsFixture.System();

        private volatile bool failing;

        public bool Failing
        {
            get => failing;
            set => failing = value;
        }

        /// <summary>Every batch handed over, failed ones included.</summary>
        public ConcurrentQueue<(long From, long First, long Last)> Handed { get; } = new();

        public string Name => name;

        public int BatchSize => 2;

        public TimeSpan Idle => TimeSpan.FromMilliseconds(20);

        public ChangeFeedWake Wake { get; } = new();

        public Task<long> PositionAsync(CancellationToken cancellationToken) => feed.GetFeedPositionAsync(name, cancellationToken);

        public async Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken)
        {
            Handed.Enqueue((batch.From, batch.Events[0].Position, batch.Events[^1].Position));
            var to = batch.Events[^1].Position;
            await records.WriteOperationAsync(Context, "operation $feed-test", "Basic", FhirInteraction.Update, async writer =>
            {
                foreach (var change in batch.Events.Where(e => e.Type == "Patient"))
                {
                    await writer.WriteAsync(new Basic { Id = $"{name}-{change.Position}", Code = new CodeableConcept("urn:test", "seen") }, cancellationToken);
                }

                if (Failing)
                {
                    throw new InvalidOperationException("The consumer's work failed.");
                }

                return await writer.SetFeedPositionAsync(name, batch.From, to, cancellationToken) ? true : throw new InvalidOperationException("Moved by another reader.");
            }, cancellationToken);
            return new FeedProgress(to, true);
        }
    }
}

/// <summary>The back-off of a failing change-feed consumer.</summary>
public sealed class ChangeFeedBackoffTests
{
    [Fact]
    public void the_wait_doubles_with_each_failure_in_a_row_up_to_the_cap()
    {
        var backoff = new ChangeFeedBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

        Assert.Equal([1, 2, 4, 8, 10, 10], new[] { 1, 2, 3, 4, 5, 6 }.Select(n => backoff.After(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(10), backoff.After(int.MaxValue));
    }
}
