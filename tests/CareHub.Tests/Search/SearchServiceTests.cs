using System.Net;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Search;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>Search through the one door: result parameters, includes, compartments, $everything and conditional writes.</summary>
public sealed class SearchServiceTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RequestContext context = RecordsFixture.System();
    private RecordsFixture? fixture;

    private RecordService Records => fixture!.Records;

    public async ValueTask InitializeAsync()
    {
        fixture = await RecordsFixture.CreateAsync();
        var patient = new Patient { Id = "p1", Name = [new HumanName { Family = "Smith", Given = ["Jo"] }], ManagingOrganization = new ResourceReference("Organization/org"), BirthDate = "1970-01-01", Gender = AdministrativeGender.Female };
        await PutAsync(new Organization { Id = "org", Name = "Leeds General" });
        await PutAsync(patient);
        await PutAsync(new Patient { Id = "p2", Name = [new HumanName { Family = "Jones" }] });
        await PutAsync(new Practitioner { Id = "dr", Name = [new HumanName { Family = "Who" }] });
        await PutAsync(new Encounter { Id = "e1", Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference("Patient/p1"), Participant = [new Encounter.ParticipantComponent { Individual = new ResourceReference("Practitioner/dr") }] });
        for (var i = 0; i < 5; i++)
        {
            await PutAsync(new Observation
            {
                Id = $"o{i}",
                Status = ObservationStatus.Final,
                Code = new CodeableConcept("http://loinc.org", i % 2 == 0 ? "8480-6" : "8462-4"),
                Subject = new ResourceReference("Patient/p1"),
                Encounter = new ResourceReference("Encounter/e1"),
                Value = new Quantity(100 + i, "mm[Hg]"),
            });
        }

        await PutAsync(new Observation { Id = "other", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8480-6"), Subject = new ResourceReference("Patient/p2") });
        await PutAsync(new Provenance { Id = "prov", Recorded = DateTimeOffset.UnixEpoch, Target = [new ResourceReference("Observation/o0")], Agent = [new Provenance.AgentComponent { Who = new ResourceReference("Practitioner/dr") }] });
    }

    public async ValueTask DisposeAsync()
    {
        if (fixture is not null)
        {
            await fixture.DisposeAsync();
        }
    }

    private Task PutAsync(Resource resource) => Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);

    private static IReadOnlyList<KeyValuePair<string, string>> Query(string query) => QueryString.Parse(query);

    private static List<string> Matches(Bundle bundle) =>
        bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => $"{e.Resource!.TypeName}/{e.Resource.Id}").ToList();

    private static List<string> Included(Bundle bundle) =>
        bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Include).Select(e => $"{e.Resource!.TypeName}/{e.Resource.Id}").Order(StringComparer.Ordinal).ToList();

    private static string? Link(Bundle bundle, string relation) => bundle.Link.FirstOrDefault(l => l.Relation == relation)?.Url;

    [Fact]
    public async Task include_and_revinclude_add_referenced_and_referring_resources()
    {
        var bundle = await Records.SearchAsync(context, "Observation", Query("_id=o0&_include=Observation:subject&_include=Observation:encounter&_revinclude=Provenance:target"), Ct);

        Assert.Equal(["Observation/o0"], Matches(bundle));
        Assert.Equal(["Encounter/e1", "Patient/p1", "Provenance/prov"], Included(bundle));
    }

    [Fact]
    public async Task include_iterate_follows_included_resources_and_star_takes_every_reference()
    {
        var once = await Records.SearchAsync(context, "Observation", Query("_id=o1&_include=Observation:*"), Ct);
        var iterated = await Records.SearchAsync(context, "Observation", Query("_id=o1&_include=Observation:subject&_include:iterate=Patient:organization&_include:iterate=Encounter:participant"), Ct);

        Assert.Equal(["Encounter/e1", "Patient/p1"], Included(once));
        Assert.Equal(["Organization/org", "Patient/p1"], Included(iterated));
    }

    [Fact]
    public async Task sorted_search_pages_through_next_and_previous_links()
    {
        var first = await Records.SearchAsync(context, "Observation", Query("subject=Patient/p1&_sort=-value-quantity&_count=2"), Ct);
        Assert.Equal(["Observation/o4", "Observation/o3"], Matches(first));
        Assert.Equal(5, first.Total);
        Assert.Null(Link(first, "previous"));

        var second = await Records.SearchAsync(context, "Observation", Query(new Uri(Link(first, "next")!).Query), Ct);
        Assert.Equal(["Observation/o2", "Observation/o1"], Matches(second));
        var back = await Records.SearchAsync(context, "Observation", Query(new Uri(Link(second, "previous")!).Query), Ct);
        Assert.Equal(["Observation/o4", "Observation/o3"], Matches(back));
        Assert.DoesNotContain("_cursor", Link(first, "self"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task summary_and_elements_return_marked_subsets()
    {
        var count = await Records.SearchAsync(context, "Observation", Query("code=8480-6&_summary=count"), Ct);
        var elements = await Records.SearchAsync(context, "Patient", Query("_id=p1&_elements=birthDate"), Ct);
        var summary = await Records.SearchAsync(context, "Patient", Query("_id=p1&_summary=true"), Ct);

        Assert.Equal(4, count.Total);
        Assert.Empty(count.Entry);
        var subset = Assert.IsType<Patient>(Assert.Single(elements.Entry).Resource);
        Assert.Equal("1970-01-01", subset.BirthDate);
        Assert.Empty(subset.Name);
        Assert.Contains(subset.Meta!.Tag, t => t.Code == "SUBSETTED");
        var summarised = Assert.IsType<Patient>(Assert.Single(summary.Entry).Resource);
        Assert.Equal("Smith", summarised.Name[0].Family);
        Assert.Contains(summarised.Meta!.Tag, t => t.Code == "SUBSETTED");
    }

    [Fact]
    public async Task lenient_searches_report_what_they_ignored_and_the_self_link_shows_what_applied()
    {
        var bundle = await Records.SearchAsync(context, "Patient", Query("family=smith&unknown=1"), Ct);

        Assert.Equal(["Patient/p1"], Matches(bundle));
        Assert.Contains(bundle.Entry, e => e.Search?.Mode == Bundle.SearchEntryMode.Outcome);
        Assert.Equal("http://localhost/fhir/Patient?family=smith", Link(bundle, "self"));
        var strict = context with { StrictHandling = true };
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => Records.SearchAsync(strict, "Patient", Query("family=smith&unknown=1"), Ct));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
    }

    [Fact]
    public async Task system_search_spans_the_types_listed()
    {
        var bundle = await Records.SearchSystemAsync(context, Query("_type=Patient,Practitioner&_id=p2,dr"), Ct);

        Assert.Equal(["Patient/p2", "Practitioner/dr"], Matches(bundle));
        Assert.StartsWith("http://localhost/fhir?_type=Patient%2CPractitioner", Link(bundle, "self"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task compartment_search_finds_only_the_patients_resources()
    {
        var observations = await Records.SearchCompartmentAsync(context, "Patient", "p1", "Observation", Query("code=8480-6"), Ct);
        var everything = await Records.SearchCompartmentAsync(context, "Patient", "p2", null, [], Ct);

        Assert.Equal(["Observation/o0", "Observation/o2", "Observation/o4"], Matches(observations));
        Assert.Equal(["Observation/other", "Patient/p2"], Matches(everything));
        await Assert.ThrowsAnyAsync<FhirException>(() => Records.SearchCompartmentAsync(context, "Patient", "p1", "Organization", [], Ct));
    }

    [Fact]
    public async Task everything_returns_the_compartment_and_what_it_refers_to_in_pages()
    {
        var all = new List<string>();
        var included = new HashSet<string>(StringComparer.Ordinal);
        var page = await Records.EverythingAsync(context, "p1", Query("_count=3"), Ct);
        all.AddRange(Matches(page));
        included.UnionWith(Included(page));
        while (Link(page, "next") is { } next)
        {
            page = await Records.EverythingAsync(context, "p1", Query(new Uri(next).Query), Ct);
            all.AddRange(Matches(page));
            included.UnionWith(Included(page));
        }

        Assert.Equal(["Encounter/e1", "Observation/o0", "Observation/o1", "Observation/o2", "Observation/o3", "Observation/o4", "Patient/p1"], all);
        Assert.Contains("Organization/org", included);
        Assert.Contains("Practitioner/dr", included);

        var observations = await Records.EverythingAsync(context, "p1", Query("_type=Observation&_since=2000-01-01&_count=4"), Ct);
        Assert.Equal(4, Matches(observations).Count);
        var rest = await Records.EverythingAsync(context, "p1", Query(new Uri(Link(observations, "next")!).Query), Ct);
        Assert.Equal(["Observation/o4"], Matches(rest));
        var since = await Records.EverythingAsync(context, "p1", Query("_since=2999-01-01"), Ct);
        Assert.Empty(Matches(since));
        await Assert.ThrowsAnyAsync<FhirException>(() => Records.EverythingAsync(context, "nobody", [], Ct));
    }

    [Fact]
    public async Task conditional_writes_accept_any_search_criteria()
    {
        var created = await Records.CreateAsync(context, new Patient { Name = [new HumanName { Family = "Smith" }] }, "family=smith&birthdate=1970", Ct);
        Assert.Equal(HttpStatusCode.OK, created.Status);
        Assert.Equal("p1", created.Id);

        var error = await Assert.ThrowsAnyAsync<FhirException>(() => Records.ConditionalDeleteAsync(context, "Observation", "subject:Patient.family=smith", Ct));
        Assert.Equal(HttpStatusCode.PreconditionFailed, FhirStatus.Of(error));
        var deleted = await Records.ConditionalDeleteAsync(context, "Observation", "subject:Patient.family=jones", Ct);
        Assert.Equal("other", deleted.Id);
    }

    [Fact]
    public async Task reindex_indexes_resources_written_without_index_rows()
    {
        // As a database upgraded from schema 1 holds them: current versions with no search rows but identifiers.
        var json = FhirSerialization.ToJson(new Patient { Id = "old", Meta = new Meta { VersionId = "1" }, Name = [new HumanName { Family = "Before" }] });
        await fixture!.Store.AppendAsync([new CareHub.Storage.VersionWrite("Patient", "old", 1, DateTimeOffset.UtcNow, "POST", json, 0, [])], Ct);
        Assert.Empty(Matches(await Records.SearchAsync(context, "Patient", Query("family=before"), Ct)));

        var count = await Records.ReindexAsync(Ct);

        Assert.Equal(13, count);
        Assert.Equal(["Patient/old"], Matches(await Records.SearchAsync(context, "Patient", Query("family=before"), Ct)));
        Assert.Equal(["Patient/p1"], Matches(await Records.SearchAsync(context, "Patient", Query("family=smith"), Ct)));
    }

    [Fact]
    public void the_patient_compartment_parameters_all_exist_in_the_sdk()
    {
        foreach (var (type, parameters) in PatientCompartment.ParamsByType)
        {
            Assert.Equal(parameters, PatientCompartment.Searchable([type])[type]);
        }
    }
}
