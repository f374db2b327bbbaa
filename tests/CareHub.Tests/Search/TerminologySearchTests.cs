using System.Net;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>The token modifiers :in, :not-in, :below and :above over stored ValueSets and CodeSystems (R4 search.html#token).</summary>
public sealed class TerminologySearchTests : IAsyncLifetime
{
    private const string Findings = "http://example.org/CodeSystem/findings";
    private const string Loinc = "http://loinc.org";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RequestContext context = RecordsFixture.System();
    private RecordsFixture? fixture;

    private RecordService Records => fixture!.Records;

    public async ValueTask InitializeAsync()
    {
        fixture = await RecordsFixture.CreateAsync();

        // A is the root; B and C are under it, D under B by nesting, E under C by the "parent" property.
        await PutAsync(new CodeSystem
        {
            Id = "findings",
            Url = Findings,
            Status = PublicationStatus.Active,
            Content = CodeSystemContentMode.Complete,
            HierarchyMeaning = CodeSystem.CodeSystemHierarchyMeaning.IsA,
            Concept =
            [
                new CodeSystem.ConceptDefinitionComponent
                {
                    Code = "A",
                    Concept =
                    [
                        new CodeSystem.ConceptDefinitionComponent { Code = "B", Concept = [new CodeSystem.ConceptDefinitionComponent { Code = "D" }] },
                        new CodeSystem.ConceptDefinitionComponent { Code = "C" },
                    ],
                },
                new CodeSystem.ConceptDefinitionComponent { Code = "E", Property = [new CodeSystem.ConceptPropertyComponent { Code = "parent", Value = new Code("C") }] },
            ],
        });
        await PutAsync(ValueSet("listed", new ValueSet.ConceptSetComponent { System = Loinc, Concept = [new ValueSet.ConceptReferenceComponent { Code = "8480-6" }] }));
        await PutAsync(ValueSet("is-a-b", Filtered(FilterOperator.IsA, "B")));
        await PutAsync(ValueSet("under-a", Filtered(FilterOperator.DescendentOf, "A")));
        var whole = ValueSet("whole-but-c", new ValueSet.ConceptSetComponent { System = Findings });
        whole.Compose!.Exclude.Add(new ValueSet.ConceptSetComponent { System = Findings, Concept = [new ValueSet.ConceptReferenceComponent { Code = "C" }] });
        await PutAsync(whole);
        await PutAsync(ValueSet("nested", new ValueSet.ConceptSetComponent { ValueSet = ["http://example.org/ValueSet/listed"] }));
        await PutAsync(ValueSet("unknown-system", new ValueSet.ConceptSetComponent { System = "http://snomed.info/sct" }));
        await PutAsync(new ValueSet
        {
            Id = "expanded",
            Url = "http://example.org/ValueSet/expanded",
            Status = PublicationStatus.Active,
            Expansion = new ValueSet.ExpansionComponent
            {
                Timestamp = "2024-01-01",
                Contains = [new ValueSet.ContainsComponent { System = Loinc, Code = "LP-group", Abstract = true, Contains = [new ValueSet.ContainsComponent { System = Loinc, Code = "8462-4" }] }],
            },
        });

        await PutAsync(new Patient { Id = "t1" });
        await PutAsync(new Patient { Id = "t2" });
        foreach (var code in (string[])["A", "B", "C", "D", "E"])
        {
            await PutAsync(Observation($"o-{code}", Findings, code, "t1"));
        }

        await PutAsync(Observation("o-l1", Loinc, "8480-6", "t1"));
        await PutAsync(Observation("o-l2", Loinc, "8462-4", "t2"));
    }

    public async ValueTask DisposeAsync()
    {
        if (fixture is not null)
        {
            await fixture.DisposeAsync();
        }
    }

    private Task PutAsync(Resource resource) => Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);

    private static ValueSet ValueSet(string id, ValueSet.ConceptSetComponent include) => new()
    {
        Id = id,
        Url = $"http://example.org/ValueSet/{id}",
        Status = PublicationStatus.Active,
        Compose = new ValueSet.ComposeComponent { Include = [include] },
    };

    private static ValueSet.ConceptSetComponent Filtered(FilterOperator op, string value) => new()
    {
        System = Findings,
        Filter = [new ValueSet.FilterComponent { Property = "concept", Op = op, Value = value }],
    };

    private static Observation Observation(string id, string system, string code, string patient) => new()
    {
        Id = id,
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(system, code),
        Subject = new ResourceReference($"Patient/{patient}"),
    };

    private async Task<List<string>> SearchAsync(string type, string query)
    {
        var bundle = await Records.SearchAsync(context, type, QueryString.Parse(query), Ct);
        return bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id!).Order(StringComparer.Ordinal).ToList();
    }

    [Theory]
    [InlineData("http://example.org/ValueSet/listed", "o-l1")]
    [InlineData("http://example.org/ValueSet/is-a-b", "o-B,o-D")]
    [InlineData("http://example.org/ValueSet/under-a", "o-B,o-C,o-D,o-E")]
    [InlineData("http://example.org/ValueSet/whole-but-c", "o-A,o-B,o-D,o-E")]
    [InlineData("http://example.org/ValueSet/nested", "o-l1")]
    [InlineData("http://example.org/ValueSet/expanded", "o-l2")]
    [InlineData("ValueSet/is-a-b", "o-B,o-D")]
    [InlineData("http://example.org/ValueSet/listed,http://example.org/ValueSet/expanded", "o-l1,o-l2")]
    public async Task in_matches_the_codes_of_the_stored_value_set(string valueSet, string expected)
    {
        Assert.Equal(expected.Split(','), await SearchAsync("Observation", $"code:in={Uri.EscapeDataString(valueSet)}"));
    }

    [Fact]
    public async Task not_in_matches_what_has_no_code_of_the_value_set()
    {
        Assert.Equal(["o-A", "o-C", "o-E", "o-l1"], await SearchAsync("Observation", "subject=Patient/t1&code:not-in=http://example.org/ValueSet/is-a-b"));
    }

    [Theory]
    [InlineData("below", "B", "o-B,o-D")]
    [InlineData("below", "C", "o-C,o-E")]
    [InlineData("below", "A", "o-A,o-B,o-C,o-D,o-E")]
    [InlineData("above", "D", "o-A,o-B,o-D")]
    [InlineData("above", "E", "o-A,o-C,o-E")]
    public async Task below_and_above_follow_the_stored_code_system_hierarchy(string modifier, string code, string expected)
    {
        Assert.Equal(expected.Split(','), await SearchAsync("Observation", $"code:{modifier}={Findings}|{code}"));
    }

    [Fact]
    public async Task modifiers_work_inside_reverse_chains()
    {
        Assert.Equal(["t1"], await SearchAsync("Patient", "_has:Observation:subject:code:in=http://example.org/ValueSet/is-a-b"));
    }

    [Theory]
    [InlineData("code:in=http://example.org/ValueSet/missing", "is not known")]
    [InlineData("code:below=http://snomed.info/sct|22298006", "hierarchy of the code system 'http://snomed.info/sct' is unknown")]
    [InlineData("code:in=http://example.org/ValueSet/unknown-system", "does not hold")]
    [InlineData("code:below=B", "takes system|code")]
    [InlineData("code:above=http://example.org/CodeSystem/findings|Z", "is not a code")]
    public async Task what_the_record_cannot_answer_is_a_400_naming_the_parameter(string query, string message)
    {
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => SearchAsync("Observation", query));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(query[..query.IndexOf('=', StringComparison.Ordinal)], error.Issues[0].Expression);
    }

    [Fact]
    public void without_loaded_terminology_the_modifiers_are_refused()
    {
        var error = Assert.ThrowsAny<FhirException>(() => SearchRequest.Parse("Observation", QueryString.Parse("code:in=http://example.org/ValueSet/listed"), strict: true));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
    }
}
