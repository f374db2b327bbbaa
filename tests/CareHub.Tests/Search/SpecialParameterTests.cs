using System.Net;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Search;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>The special parameters near (Location), _text and _content, and _filter, which is not supported.</summary>
public sealed class SpecialParameterTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RecordsFixture? fixture;

    public async ValueTask InitializeAsync()
    {
        fixture = await RecordsFixture.CreateAsync();
        // Leeds General Infirmary, St James's (Leeds, 2.5 km away), York Hospital (36 km), and one in Fiji near the antimeridian.
        await PutAsync(Location("lgi", 53.8017, -1.5516));
        await PutAsync(Location("sjuh", 53.8066, -1.5203));
        await PutAsync(Location("york", 53.9690, -1.0880));
        await PutAsync(Location("suva", -18.1416, 178.4419));
        await PutAsync(new Location { Id = "nowhere", Name = "No position" });

        await PutAsync(new Condition
        {
            Id = "hf",
            Subject = new ResourceReference("Patient/x"),
            Code = new CodeableConcept { Text = "Heart failure with reduced ejection fraction" },
            Note = [new Annotation { Text = "Réviewed in clinic" }],
            Text = new Narrative { Status = Narrative.NarrativeStatus.Generated, Div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Chronic <b>cardiac</b> failure &amp; oedema</p></div>" },
        });
        await PutAsync(new Condition { Id = "asthma", Subject = new ResourceReference("Patient/x"), Code = new CodeableConcept { Text = "Asthma" } });
    }

    public async ValueTask DisposeAsync()
    {
        if (fixture is not null)
        {
            await fixture.DisposeAsync();
        }
    }

    private static Location Location(string id, double latitude, double longitude) => new()
    {
        Id = id,
        Name = id,
        Position = new Location.PositionComponent { Latitude = (decimal)latitude, Longitude = (decimal)longitude },
    };

    private Task PutAsync(Resource resource) => fixture!.Records.UpdateAsync(RecordsFixture.System(), resource.TypeName, resource.Id!, resource, null, Ct);

    private async Task<List<string>> FindAsync(string type, string query, bool strict = false)
    {
        var context = RecordsFixture.System() with { StrictHandling = strict };
        var bundle = await fixture!.Records.SearchAsync(context, type, QueryString.Parse(query), Ct);
        return bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id!).Order(StringComparer.Ordinal).ToList();
    }

    [Theory]
    [InlineData("53.8017|-1.5516|1|km", "lgi")]
    [InlineData("53.8017|-1.5516|3|km", "lgi,sjuh")]
    [InlineData("53.8017|-1.5516|3000|m", "lgi,sjuh")]
    [InlineData("53.8017|-1.5516|25|mi", "lgi,sjuh,york")]
    [InlineData("53.8017|-1.5516", "lgi,sjuh")]
    [InlineData("-18.0|-179.9|200|km", "suva")]
    [InlineData("53.9690|-1.0880|1|km,53.8066|-1.5203|1|km", "sjuh,york")]
    public async Task near_finds_locations_within_the_distance(string value, string expected)
    {
        Assert.Equal(expected.Split(','), await FindAsync("Location", "near=" + Uri.EscapeDataString(value)));
    }

    [Theory]
    [InlineData("53.8|-1.55|3|furlongs")]
    [InlineData("91|0")]
    [InlineData("north|south")]
    public async Task a_malformed_near_is_a_400_naming_it(string value)
    {
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => FindAsync("Location", "near=" + Uri.EscapeDataString(value)));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
        Assert.Equal("near", error.Issues[0].Expression);
    }

    [Fact]
    public void the_haversine_distance_of_leeds_to_york_is_about_36_km()
    {
        Assert.InRange(SearchLookups.Haversine(53.8017, -1.5516, 53.9690, -1.0880), 35, 37);
    }

    // _content reads the narrative and the strings the index holds (names, addresses, displays, code texts), not every
    // element: the note's "Réviewed" is in no search parameter.
    [Theory]
    [InlineData("_text=cardiac", "hf")]
    [InlineData("_text=CHRON fail", "hf")]
    [InlineData("_text=heart", "")]
    [InlineData("_text=oedema", "hf")]
    [InlineData("_content=heart fail", "hf")]
    [InlineData("_content=leeds", "")]
    [InlineData("_content=cardiac", "hf")]
    [InlineData("_content=asthma,ejection", "asthma,hf")]
    [InlineData("_content=heart asthma", "")]
    [InlineData("_content=reviewed", "")]
    public async Task text_and_content_match_words_of_the_narrative_and_of_the_indexed_strings(string query, string expected)
    {
        Assert.Equal(expected.Length == 0 ? [] : expected.Split(','), await FindAsync("Condition", query));
    }

    [Fact]
    public async Task filter_is_refused_under_strict_handling_and_reported_as_ignored_otherwise()
    {
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => FindAsync("Condition", "_filter=code eq asthma", strict: true));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
        Assert.Contains("not supported", error.Message, StringComparison.Ordinal);

        var bundle = await fixture!.Records.SearchAsync(RecordsFixture.System(), "Condition", QueryString.Parse("_filter=code eq asthma"), Ct);
        var outcome = Assert.IsType<OperationOutcome>(Assert.Single(bundle.Entry, e => e.Search?.Mode == Bundle.SearchEntryMode.Outcome).Resource);
        Assert.Contains("_filter", outcome.Issue[0].Diagnostics, StringComparison.Ordinal);
        Assert.DoesNotContain("_filter", bundle.Link.Single(l => l.Relation == "self").Url, StringComparison.Ordinal);
    }
}
