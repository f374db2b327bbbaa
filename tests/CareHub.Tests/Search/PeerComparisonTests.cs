using CareHub.Fhir;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>
/// Search behaviours a comparison with a peer server found missing: <c>_id:not</c>, and an <c>_include</c> whose source
/// type is not the searched type, which R4 search.html#include asks a server to process as <c>:iterate</c>.
/// </summary>
public sealed class PeerComparisonTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RequestContext context = RecordsFixture.System();
    private RecordsFixture? fixture;

    private RecordService Records => fixture!.Records;

    public async ValueTask InitializeAsync()
    {
        fixture = await RecordsFixture.CreateAsync();
        await PutAsync(new Organization { Id = "org", Name = "The practice" });
        await PutAsync(new Practitioner { Id = "doc" });
        await PutAsync(new Patient { Id = "p1", ManagingOrganization = new ResourceReference("Organization/org") });
        await PutAsync(new Patient { Id = "p2" });
        await PutAsync(new Patient { Id = "p3" });
        await PutAsync(new Encounter
        {
            Id = "e1",
            Status = Encounter.EncounterStatus.Finished,
            Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"),
            Subject = new ResourceReference("Patient/p1"),
            Participant = [new Encounter.ParticipantComponent { Individual = new ResourceReference("Practitioner/doc") }],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (fixture is not null)
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task id_not_leaves_out_the_ids_given()
    {
        var bundle = await Records.SearchAsync(context, "Patient", [new("_id:not", "p1,p3")], Ct);

        Assert.Equal(["p2"], Matches(bundle));
    }

    [Fact]
    public async Task an_include_from_another_type_is_processed_as_iterate_with_a_warning()
    {
        var bundle = await Records.SearchAsync(context, "Encounter",
            [new("_id", "e1"), new("_include", "Encounter:subject"), new("_include", "Patient:organization")], Ct);

        Assert.Equal(["e1"], Matches(bundle));
        Assert.Equal(["Organization/org", "Patient/p1"], bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Include)
            .Select(e => $"{e.Resource!.TypeName}/{e.Resource.Id}").Order(StringComparer.Ordinal));
        var outcome = Assert.IsType<OperationOutcome>(Assert.Single(bundle.Entry, e => e.Search?.Mode == Bundle.SearchEntryMode.Outcome).Resource);
        var issue = Assert.Single(outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Warning, issue.Severity);
        Assert.Contains("_include=Patient:organization", issue.Diagnostics, StringComparison.Ordinal);
        Assert.Contains(":iterate", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task an_include_from_another_type_is_refused_under_strict_handling()
    {
        var strict = context with { StrictHandling = true };

        var error = await Assert.ThrowsAnyAsync<FhirException>(() => Records.SearchAsync(strict, "Encounter", [new("_include", "Patient:organization")], Ct));

        Assert.Contains("_include:iterate", error.Message, StringComparison.Ordinal);
    }

    private static List<string> Matches(Bundle bundle) =>
        [.. bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id!).Order(StringComparer.Ordinal)];

    private Task PutAsync(Resource resource) => Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);
}
