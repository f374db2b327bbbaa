using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Identity;

/// <summary>
/// Queued matching (CareHub:Mpi:Matching = Queued): a Patient write commits without being matched, and the queued
/// matcher links it from the change feed afterwards, a batch per transaction.
/// </summary>
public sealed class QueuedMatcherTests : IAsyncLifetime
{
    private static readonly MpiOptions Queued = new() { Matching = MpiMatching.Queued, QueueBatchSize = 3 };

    private MpiFixture mpi = null!;
    private QueuedMatcher queue = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        mpi = await MpiFixture.CreateAsync(Queued);
        queue = new QueuedMatcher(mpi.Records, mpi.Store, mpi.Store, Queued, new PersonMatcher(Queued.ToMatchSettings()), TimeProvider.System, NullLogger<QueuedMatcher>.Instance);
    }

    public async ValueTask DisposeAsync() => await mpi.DisposeAsync();

    private async Task<int> PersonCountAsync() => (await mpi.Store.SearchAsync(new StoreQuery("Person", [], 100) { Scope = QueryScope.Internal("test") }, Ct)).Resources.Count;

    [Fact]
    public async Task a_queued_write_is_linked_when_the_matcher_runs_not_before()
    {
        var gp = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        var pas = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), Ct);

        Assert.Null(await mpi.PersonOfAsync(gp, Ct));
        Assert.Equal(new QueuedMatchStatus(await mpi.Store.GetFeedPositionAsync(QueuedMatcher.FeedName, Ct), 2, false), await queue.StatusAsync(Ct));

        var done = await queue.DrainAsync(Ct);

        Assert.Equal(2, done.Patients);
        Assert.Equal(1, done.Links);
        Assert.Equal(new[] { gp, pas }.Order(StringComparer.Ordinal), await mpi.MembersAsync(gp, Ct));
        Assert.Equal(1, await PersonCountAsync());
        Assert.Equal(0, (await queue.StatusAsync(Ct)).Pending);
        // Nothing is matched twice: a second drain finds nothing to do.
        Assert.Equal(0, (await queue.DrainAsync(Ct)).Patients);
    }

    [Fact]
    public async Task batches_link_records_of_one_person_that_arrive_in_the_same_batch_and_in_later_ones()
    {
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add(await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "sys-" + i), Ct));
        }

        var other = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Ann", family: "Other", birthDate: "1980-02-02", nhs: "4010232137", postcode: "YO1 7HH"), Ct);

        var done = await queue.DrainAsync(Ct);

        Assert.Equal(8, done.Patients);
        Assert.Equal(ids.Order(StringComparer.Ordinal), await mpi.MembersAsync(ids[0], Ct));
        Assert.Equal([other], await mpi.MembersAsync(other, Ct));
        Assert.Equal(2, await PersonCountAsync());
    }

    [Fact]
    public async Task a_record_deleted_before_its_batch_is_passed_over_and_one_changed_since_is_matched_as_it_is_now()
    {
        var gone = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        await mpi.Records.DeleteAsync(MpiFixture.Context, "Patient", gone, null, Ct);
        var first = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Ann", family: "Other", birthDate: "1980-02-02", nhs: "4010232137", postcode: "YO1 7HH"), Ct);
        var changed = await mpi.CreateAsync(MpiFixture.NewPatient(localId: "pas-2"), Ct);
        // Rewritten, before the matcher runs, as the same person as the first.
        var again = MpiFixture.NewPatient(given: "Ann", family: "Other", birthDate: "1980-02-02", nhs: "4010232137", postcode: "YO1 7HH");
        again.Id = changed;
        await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", changed, again, null, Ct);

        await queue.DrainAsync(Ct);

        Assert.Null(await mpi.PersonOfAsync(gone, Ct));
        Assert.Equal(new[] { first, changed }.Order(StringComparer.Ordinal), await mpi.MembersAsync(first, Ct));
        Assert.Equal(1, await PersonCountAsync());
    }

    [Fact]
    public async Task switching_from_inline_to_queued_matches_only_what_is_written_from_then_on()
    {
        var (inline, _) = mpi.OpenWith(new MpiOptions());
        var before = (await inline.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), null, Ct)).Id;
        Assert.NotNull(await mpi.PersonOfAsync(before, Ct));

        // The matcher starts at the end of the feed: the record matched inline is not matched again.
        Assert.Equal(0, (await queue.DrainAsync(Ct)).Patients);

        var after = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), Ct);
        Assert.Equal(1, (await queue.DrainAsync(Ct)).Patients);
        Assert.Equal(new[] { before, after }.Order(StringComparer.Ordinal), await mpi.MembersAsync(before, Ct));
    }

    [Fact]
    public async Task a_write_queued_before_any_matcher_ran_is_still_matched()
    {
        // A record written with the MPI off: the feed does not start empty.
        var (off, _) = mpi.OpenWith(new MpiOptions { Enabled = false });
        await off.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(given: "Ann", family: "Other", birthDate: "1980-02-02", postcode: "YO1 7HH"), null, Ct);
        var end = (await mpi.Store.ReadChangesAsync(0, 100, Ct))[^1].Position;

        // The first queued write started the matcher's position just before itself.
        var id = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        Assert.Equal(end, await mpi.Store.GetFeedPositionAsync(QueuedMatcher.FeedName, Ct));

        Assert.Equal(1, (await queue.DrainAsync(Ct)).Patients);
        Assert.Equal([id], await mpi.MembersAsync(id, Ct));
    }

    [Fact]
    public async Task a_batch_is_one_transaction_audited_as_one_operation()
    {
        await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), Ct);
        var audits = (await mpi.Store.SearchAsync(new StoreQuery("AuditEvent", [], 100) { Scope = QueryScope.Internal("test") }, Ct)).Resources.Count;

        await queue.DrainAsync(Ct);

        var events = (await mpi.Store.SearchAsync(new StoreQuery("AuditEvent", [], 100) { Scope = QueryScope.Internal("test") }, Ct)).Resources
            .Select(r => (AuditEvent)StoredJson.Parse(r.Json!)).ToList();
        Assert.Equal(audits + 1, events.Count);
        var matching = events.Single(e => e.Subtype.Any(c => c.Code == "operation $mpi-queued-matching"));
        Assert.Equal(AuditEvent.AuditEventOutcome.N0, matching.Outcome);
    }

    [Fact]
    public async Task a_second_matcher_cannot_move_the_position_the_first_already_moved()
    {
        await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var from = await mpi.Store.GetFeedPositionAsync(QueuedMatcher.FeedName, Ct);
        await queue.DrainAsync(Ct);

        await using var session = await mpi.Store.BeginWriteAsync(Ct);
        Assert.False(await ((IChangeFeedSession)session).SetFeedPositionAsync(QueuedMatcher.FeedName, from, from + 1, Ct));
    }

    [Fact]
    public async Task the_running_matcher_links_writes_soon_after_they_commit()
    {
        var hook = mpi.Records.WriteHooks.OfType<MpiWriteHook>().Single();
        hook.Queued = queue.Wake;
        using var stop = new CancellationTokenSource();
        using var reader = new ChangeFeedReader(mpi.Store, [queue], TimeProvider.System, NullLogger<ChangeFeedReader>.Instance);
        var running = reader.RunAsync(stop.Token);

        var gp = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        var pas = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), Ct);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await mpi.MembersAsync(gp, Ct)).Count < 2 && DateTime.UtcNow < deadline)
        {
            await System.Threading.Tasks.Task.Yield();
        }

        await stop.CancelAsync();
        await running;
        Assert.Equal(new[] { gp, pas }.Order(StringComparer.Ordinal), await mpi.MembersAsync(gp, Ct));
    }
}
