using CareHub.Governance;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity;

/// <summary>
/// A Patient create compares its candidates before its transaction starts (PersonLinker.PreMatchAsync); inside the
/// transaction only what changed since is read again. These tests commit another write between the two, the window a
/// concurrent writer has, and check the transaction sees it.
/// </summary>
public sealed class MpiPreMatchTests : IAsyncLifetime
{
    private MpiFixture mpi = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => mpi = await MpiFixture.CreateAsync();

    public async ValueTask DisposeAsync() => await mpi.DisposeAsync();

    /// <summary>The one door with the MPI hook, then a hook that commits <paramref name="between"/> once, after the MPI's pre-match.</summary>
    private RecordService DoorWithWriteBetween(Func<Task> between)
    {
        var options = new MpiOptions();
        return new RecordService(mpi.Store, new ScopeAccessPolicy(), mpi.Audit, TimeProvider.System, writeHooks: [new MpiWriteHook(options, mpi.Store, new PersonMatcher(options.ToMatchSettings()), TimeProvider.System), new Between(between)]);
    }

    [Fact]
    public async Task a_record_of_the_same_person_committed_after_the_pre_match_is_still_linked()
    {
        string? other = null;
        var door = DoorWithWriteBetween(async () => other = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct));

        var id = (await door.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), null, Ct)).Id;

        Assert.NotNull(other);
        Assert.Equal(new[] { id, other }.Order(StringComparer.Ordinal), await mpi.MembersAsync(id, Ct));
        // One Person: the new record found nobody before its transaction, and its Person is written inside it.
        Assert.Single((await mpi.Store.SearchAsync(new StoreQuery("Person", [], 10) { Scope = QueryScope.Internal("test") }, Ct)).Resources);
    }

    [Fact]
    public async Task a_new_record_that_is_nobodys_match_gets_one_person_written_once()
    {
        var id = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);

        var person = (await mpi.PersonOfAsync(id, Ct))!;
        Assert.Equal("1", person.Meta!.VersionId);
        Assert.Equal("Smith", person.Name.Single().Family);
        Assert.Contains(person.Identifier, i => i.Value == "gp-1");
        Assert.Equal(Person.IdentityAssuranceLevel.Level3, person.Link.Single().Assurance);
    }

    [Fact]
    public async Task a_candidate_stored_without_a_person_joins_the_person_written_for_the_new_record()
    {
        // As a load with matching off leaves it: blocking keys, no Person.
        var options = new MpiOptions();
        var keysOnly = new RecordService(mpi.Store, new ScopeAccessPolicy(), mpi.Audit, TimeProvider.System, writeHooks: [new KeysOnly(new MpiWriteHook(options, mpi.Store, new PersonMatcher(options.ToMatchSettings()), TimeProvider.System))]);
        var loaded = (await keysOnly.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919"), null, Ct)).Id;
        Assert.Null(await mpi.PersonOfAsync(loaded, Ct));

        var id = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);

        Assert.Equal(new[] { id, loaded }.Order(StringComparer.Ordinal), await mpi.MembersAsync(id, Ct));
        var person = (await mpi.PersonOfAsync(id, Ct))!;
        Assert.Equal("SameNhsNumberAndBirthDate", ((Code)person.Link.Single(l => l.Target.Reference == "Patient/" + id).GetExtension(MpiCodes.LinkRule)!.Value!).Value);
        Assert.Single((await mpi.Store.SearchAsync(new StoreQuery("Person", [], 10) { Scope = QueryScope.Internal("test") }, Ct)).Resources);
    }

    /// <summary>The MPI's index rows and checks without its matching.</summary>
    private sealed class KeysOnly(MpiWriteHook mpi) : IWriteHook
    {
        public IEnumerable<TokenIndexRow> IndexRows(Resource resource) => mpi.IndexRows(resource);

        public Task BeforeWriteAsync(WriteHookContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AfterWriteAsync(WriteHookContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task a_candidate_updated_after_the_pre_match_is_compared_as_it_is_now()
    {
        // Shares the birth date and postcode (so it is a candidate) but not the name: no link when the pre-match reads it.
        var candidate = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Zebedee", family: "Okonkwo-Blackwood"), Ct);
        var door = DoorWithWriteBetween(async () =>
        {
            var now = (Patient)StoredJson.Parse((await mpi.Store.ReadAsync("Patient", candidate, null, Ct))!.Json!);
            now.Name = [new HumanName { Family = "Smith", Given = ["Jo"] }];
            await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", candidate, now, null, Ct);
        });

        var id = (await door.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(), null, Ct)).Id;

        Assert.Equal(new[] { id, candidate }.Order(StringComparer.Ordinal), await mpi.MembersAsync(id, Ct));
    }

    [Fact]
    public async Task a_candidate_deleted_after_the_pre_match_is_not_linked()
    {
        var candidate = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var door = DoorWithWriteBetween(() => mpi.Records.DeleteAsync(MpiFixture.Context, "Patient", candidate, null, Ct));

        var id = (await door.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919"), null, Ct)).Id;

        Assert.Equal([id], await mpi.MembersAsync(id, Ct));
        Assert.Null(await mpi.PersonOfAsync(candidate, Ct));
    }

    [Fact]
    public async Task a_candidate_purged_after_the_pre_match_is_not_linked()
    {
        // A purge removes a record and its change events: the transaction still finds the candidate gone.
        var candidate = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var door = DoorWithWriteBetween(async () =>
        {
            await mpi.Store.PurgeAsync("Patient", candidate, 1, _ => new VersionWrite("AuditEvent", "purge-" + candidate, 1, DateTimeOffset.UtcNow, "POST",
                $$"""{"resourceType":"AuditEvent","id":"purge-{{candidate}}","recorded":"2024-01-01T00:00:00Z","outcome":"0"}""", null, [], ChangeEvent: false), Ct);
        });

        var id = (await door.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919"), null, Ct)).Id;

        Assert.Null(await mpi.Store.ReadAsync("Patient", candidate, null, Ct));
        Assert.Equal([id], await mpi.MembersAsync(id, Ct));
    }

    [Fact]
    public async Task a_record_of_the_same_person_among_more_writes_than_the_recheck_reads_is_still_linked()
    {
        // More Patients written since the pre-match than PersonLinker looks at one by one (256): the blocks are read again.
        string? other = null;
        var door = DoorWithWriteBetween(async () =>
        {
            for (var n = 0; n < 260; n++)
            {
                await mpi.CreateAsync(MpiFixture.NewPatient(given: $"Given{n}", family: $"Family{n}", birthDate: $"19{n % 90 + 10}-02-03", postcode: null), Ct);
            }

            other = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        });

        var id = (await door.CreateAsync(MpiFixture.Context, MpiFixture.NewPatient(nhs: "9434765919", localId: "pas-1"), null, Ct)).Id;

        Assert.NotNull(other);
        Assert.Equal(new[] { id, other }.Order(StringComparer.Ordinal), await mpi.MembersAsync(id, Ct));
    }

    /// <summary>Runs a write of its own, committed, the first time a client's Patient reaches it (after the MPI's pre-match).</summary>
    private sealed class Between(Func<Task> write) : IWriteHook
    {
        private int done;

        public IEnumerable<TokenIndexRow> IndexRows(Resource resource) => [];

        public async Task BeforeWriteAsync(WriteHookContext context, CancellationToken cancellationToken)
        {
            if (!context.Internal && context.Resource is Patient && Interlocked.Exchange(ref done, 1) == 0)
            {
                await write();
            }
        }

        public Task AfterWriteAsync(WriteHookContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
