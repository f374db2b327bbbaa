using CareHub.Identity;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity;

/// <summary>The bulk rematch: a store loaded with the MPI off gets the Persons and reviews the incremental path makes.</summary>
public sealed class MpiRematchTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A small community: a pair with one NHS Number (a link), a pair by demographics alone (a link), a pair that differs
    /// in sex and town (a review), and two people on their own. Each carries a local number to compare stores by.
    /// </summary>
    private static IEnumerable<Patient> Community()
    {
        yield return MpiFixture.NewPatient(nhs: "9434765919", localId: "n1");
        yield return MpiFixture.NewPatient(given: "Joanne", family: "Smyth", nhs: "9434765919", postcode: null, localId: "n2");
        yield return MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", postcode: "M1 1AA", gender: AdministrativeGender.Male, localId: "d1");
        yield return MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", postcode: "M1 1AA", gender: AdministrativeGender.Male, localId: "d2");
        yield return MpiFixture.NewPatient(given: "Priya", family: "Patel", birthDate: "1975-03-02", postcode: "B1 1AA", localId: "r1");
        var uncertain = MpiFixture.NewPatient(given: "Priya", family: "Patel", birthDate: "1975-03-02", postcode: null, gender: null, localId: "r2");
        uncertain.Address.Add(new Address { City = "York" });
        yield return uncertain;
        yield return MpiFixture.NewPatient(given: "Tom", family: "Jones", birthDate: "1950-12-24", postcode: "CF10 1AA", gender: AdministrativeGender.Male, localId: "s1");
        yield return MpiFixture.NewPatient(given: "Ewa", family: "Nowak", birthDate: "2001-05-30", postcode: "G1 1AA", localId: "s2");
    }

    private static async Task<Dictionary<string, string>> LoadAsync(MpiFixture fixture, CareHub.Records.RecordService records)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var patient in Community())
        {
            ids[patient.Identifier.Single(i => i.System == "https://example.org/pas").Value!] = (await records.CreateAsync(MpiFixture.Context, patient, null, Ct)).Id;
        }

        return ids;
    }

    /// <summary>Each Person as its members' local numbers, so two stores with different ids compare.</summary>
    private static async Task<IReadOnlyList<string>> PersonsAsync(MpiFixture fixture, Dictionary<string, string> ids)
    {
        var local = ids.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);
        var persons = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var id in ids.Values)
        {
            var members = await fixture.MembersAsync(id, Ct);
            persons.Add(string.Join("+", members.Select(m => local[m]).Order(StringComparer.Ordinal)));
        }

        return persons.ToList();
    }

    private static async Task<IReadOnlyList<string>> ReviewPairsAsync(MpiFixture fixture, Dictionary<string, string> ids)
    {
        var local = ids.ToDictionary(p => "Patient/" + p.Value, p => p.Key, StringComparer.Ordinal);
        return (await fixture.ReviewsAsync(Ct))
            .Select(t => string.Join("+", new[] { local[t.Focus!.Reference!], local[t.For!.Reference!] }.Order(StringComparer.Ordinal)))
            .Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task a_store_loaded_with_the_mpi_off_then_rematched_has_the_persons_and_reviews_of_the_incremental_path()
    {
        await using var incremental = await MpiFixture.CreateAsync();
        var incrementalIds = await LoadAsync(incremental, incremental.Records);

        await using var bulk = await MpiFixture.CreateAsync(new MpiOptions { Enabled = false });
        var bulkIds = await LoadAsync(bulk, bulk.Records);
        Assert.Null(await bulk.PersonOfAsync(bulkIds["n1"], Ct));

        var (_, mpi) = bulk.OpenWith(new MpiOptions());
        var reports = new List<RematchSummary>();
        var summary = await mpi.RematchAsync(MpiFixture.Context, new Collect(reports), Ct);

        Assert.Equal(["d1+d2", "n1+n2", "r1", "r2", "s1", "s2"], await PersonsAsync(incremental, incrementalIds));
        Assert.Equal(await PersonsAsync(incremental, incrementalIds), await PersonsAsync(bulk, bulkIds));
        Assert.Equal(["r1+r2"], await ReviewPairsAsync(incremental, incrementalIds));
        Assert.Equal(await ReviewPairsAsync(incremental, incrementalIds), await ReviewPairsAsync(bulk, bulkIds));
        Assert.Equal(new RematchSummary(8, 2, 1), summary);
        Assert.Equal(summary, reports[^1]);
    }

    [Fact]
    public async Task rematching_again_changes_nothing_and_keeps_an_unlink_and_a_manual_link()
    {
        await using var fixture = await MpiFixture.CreateAsync();
        var ids = await LoadAsync(fixture, fixture.Records);
        await fixture.Mpi.UnlinkAsync(MpiFixture.Context, ids["n2"], ids["n1"], Ct);
        await fixture.Mpi.LinkAsync(MpiFixture.Context, ids["s1"], ids["s2"], Ct);
        var before = await PersonsAsync(fixture, ids);

        var summary = await fixture.Mpi.RematchAsync(MpiFixture.Context, null, Ct);

        Assert.Equal(["d1+d2", "n1", "n2", "r1", "r2", "s1+s2"], await PersonsAsync(fixture, ids));
        Assert.Equal(before, await PersonsAsync(fixture, ids));
        Assert.Equal(new RematchSummary(8, 0, 0), summary);
        Assert.Equal(["r1+r2"], await ReviewPairsAsync(fixture, ids));
    }

    [Fact]
    public async Task rematch_refuses_to_run_with_the_mpi_off()
    {
        await using var fixture = await MpiFixture.CreateAsync(new MpiOptions { Enabled = false });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.Mpi.RematchAsync(MpiFixture.Context, null, Ct));
        Assert.Contains("CareHub:Mpi:Enabled", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task reindex_keeps_the_mpi_index_rows()
    {
        await using var fixture = await MpiFixture.CreateAsync();
        var ids = await LoadAsync(fixture, fixture.Records);

        await fixture.Records.ReindexAsync(Ct);

        Assert.Equal(["d1+d2", "n1+n2", "r1", "r2", "s1", "s2"], await PersonsAsync(fixture, ids));
        Assert.Single(await fixture.ReviewsAsync(Ct));
    }

    private sealed class Collect(List<RematchSummary> reports) : IProgress<RematchSummary>
    {
        public void Report(RematchSummary value) => reports.Add(value);
    }
}
