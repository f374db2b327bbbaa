// Firely's model marks every element nullable; an absent one fails these assertions with a NullReferenceException anyway.
#nullable disable warnings
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Terminology;
using CareHub.Terminology.Snomed;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Terminology;

/// <summary>
/// The terminology operations and the SNOMED CT search modifiers over the synthetic release, through the one door, on
/// either SNOMED CT store; the expected answers come from <see cref="SyntheticRelease"/>'s fixed hierarchy.
/// </summary>
public abstract class TerminologyServiceTests : IAsyncLifetime
{
    private const string Local = "http://example.org/CodeSystem/local";
    private const string ReadV2 = "http://read.info/readv2";

    private static readonly Lazy<string> Release = new(() =>
    {
        var folder = Path.Combine(Path.GetTempPath(), "carehub-sct-release-" + Guid.NewGuid().ToString("N"));
        SyntheticRelease.Write(folder);
        return folder;
    });

    private readonly RequestContext context = RecordsFixture.System();
    private RecordsFixture? fixture;
    private SnomedStore? snomed;
    private RecordService? records;
    private TerminologyService? terminology;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract ValueTask<SnomedStore> CreateStoreAsync();

    protected abstract ValueTask DropAsync();

    private TerminologyService Terminology => terminology!;

    private RecordService Records => records!;

    private TerminologyOptions options = new() { MapTargets = new(StringComparer.Ordinal) { ["447562003"] = "http://hl7.org/fhir/sid/icd-10", ["992000000000100"] = ReadV2 } };

    public async ValueTask InitializeAsync()
    {
        fixture = await RecordsFixture.CreateAsync();
        snomed = await CreateStoreAsync();
        await snomed.MigrateAsync(Ct);
        await snomed.LoadAsync(Rf2Release.Find(Release.Value), null, Ct);
        records = new RecordService(fixture.Store, new ScopeAccessPolicy(), fixture.Audit, TimeProvider.System, terminology: new SnomedSearchTerminology(snomed));
        terminology = new TerminologyService(records, snomed, options);
        await PutAsync(new CodeSystem
        {
            Id = "local",
            Url = Local,
            Name = "Local",
            Status = PublicationStatus.Active,
            Content = CodeSystemContentMode.Complete,
            Concept =
            [
                new CodeSystem.ConceptDefinitionComponent
                {
                    Code = "DM",
                    Display = "Diabetes",
                    Designation = [new CodeSystem.DesignationComponent { Language = "en", Value = "Sugar diabetes" }],
                    Concept = [new CodeSystem.ConceptDefinitionComponent { Code = "DM1", Display = "Diabetes type 1" }, new CodeSystem.ConceptDefinitionComponent { Code = "DM2", Display = "Diabetes type 2" }],
                },
                new CodeSystem.ConceptDefinitionComponent { Code = "HT", Display = "Hypertension" },
            ],
        });
    }

    public async ValueTask DisposeAsync()
    {
        await snomed!.DisposeAsync();
        await DropAsync();
        await fixture!.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    private async System.Threading.Tasks.Task PutAsync(Resource resource) =>
        await Records.UpdateAsync(context, resource.TypeName, resource.Id, resource, null, Ct);

    private static Parameters Input(params (string Name, string Value)[] values)
    {
        var parameters = new Parameters();
        foreach (var (name, value) in values)
        {
            parameters.Add(name, new FhirString(value));
        }

        return parameters;
    }

    private static IEnumerable<string> Properties(Parameters output, string code) => output.Parameter
        .Where(p => p.Name == "property" && p.Part.Any(x => x.Name == "code" && x.Value.ToString() == code))
        .Select(p => p.Part.Single(x => x.Name == "value").Value.ToString()!);

    private Task<ValueSet> ExpandAsync(params (string, string)[] values) => Terminology.ExpandAsync(context, null, Input(values), Ct);

    private static string[] Codes(ValueSet expansion) => [.. expansion.Expansion.Contains.Select(c => c.Code).Order(StringComparer.Ordinal)];

    [Fact]
    public async System.Threading.Tasks.Task looks_up_a_snomed_concept_with_its_designations_and_properties()
    {
        var output = await Terminology.LookupAsync(context, Input(("system", Snomed.System), ("code", "73211009")), Ct);

        Assert.Equal("Diabetes mellitus", output.GetSingleValue<FhirString>("display").Value);
        Assert.Contains(output.Parameter, p => p.Name == "designation" && p.Part.Any(x => x.Value is FhirString { Value: "Diabetes mellitus (disorder)" }));
        Assert.Equal(["362969004"], Properties(output, "parent"));
        Assert.Equal(["11687002", "44054006", "46635009"], Properties(output, "child").Order(StringComparer.Ordinal));
        Assert.Equal(["113331007"], Properties(output, "363698007"));
        Assert.Equal(["false"], Properties(output, "inactive"));
        var inactive = await Terminology.LookupAsync(context, Input(("system", Snomed.System), ("code", "190330002"), ("property", "inactive")), Ct);
        Assert.Equal(["true"], Properties(inactive, "inactive"));
        Assert.Single(inactive.Parameter, p => p.Name == "property");
        await Assert.ThrowsAsync<ResourceNotFoundException>(() => Terminology.LookupAsync(context, Input(("system", Snomed.System), ("code", "1234567")), Ct));
    }

    [Fact]
    public async System.Threading.Tasks.Task looks_up_a_code_of_a_stored_code_system()
    {
        var output = await Terminology.LookupAsync(context, Input(("system", Local), ("code", "DM")), Ct);

        Assert.Equal("Diabetes", output.GetSingleValue<FhirString>("display").Value);
        Assert.Equal(["DM1", "DM2"], Properties(output, "child"));
        Assert.Contains(output.Parameter, p => p.Name == "designation" && p.Part.Any(x => x.Value is FhirString { Value: "Sugar diabetes" }));
    }

    [Theory]
    [InlineData("73211009", "313436004", "subsumes")]
    [InlineData("313436004", "73211009", "subsumed-by")]
    [InlineData("46635009", "44054006", "not-subsumed")]
    [InlineData("73211009", "73211009", "equivalent")]
    public async System.Threading.Tasks.Task tells_subsumption_from_the_closure(string a, string b, string outcome)
    {
        var output = await Terminology.SubsumesAsync(context, Input(("system", Snomed.System), ("codeA", a), ("codeB", b)), Ct);
        Assert.Equal(outcome, output.GetSingleValue<Code>("outcome").Value);
    }

    [Fact]
    public async System.Threading.Tasks.Task subsumption_in_a_stored_code_system()
    {
        var output = await Terminology.SubsumesAsync(context, Input(("system", Local), ("codeA", "DM"), ("codeB", "DM2")), Ct);
        Assert.Equal("subsumes", output.GetSingleValue<Code>("outcome").Value);
    }

    [Theory]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/73211009", "11687002 313436004 44054006 46635009 73211009")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/%3C%3C73211009%20MINUS%20%3C%3C44054006", "11687002 46635009 73211009")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/%3C73211009", "11687002 313436004 44054006 46635009")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/%3C!73211009", "11687002 44054006 46635009")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/%3E!313436004", "44054006")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/<< 404684003 : 363698007 = 80891009", "22298006")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/<< 64572001 : 363698007 = << 123037004 MINUS << 73211009", "22298006")]
    [InlineData("http://snomed.info/sct?fhir_vs=refset/991000000000100", "313436004 44054006 46635009 73211009")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/^ 991000000000100 AND << 44054006", "313436004 44054006")]
    public async System.Threading.Tasks.Task expands_implicit_snomed_value_sets(string url, string expected)
    {
        var expansion = await ExpandAsync(("url", url));

        Assert.Equal(expected.Split(' ').Order(StringComparer.Ordinal), Codes(expansion));
        Assert.Equal(expected.Split(' ').Length, expansion.Expansion.Total);
    }

    [Fact]
    public async System.Threading.Tasks.Task expands_with_a_text_filter_and_pages()
    {
        var filtered = await ExpandAsync(("url", "http://snomed.info/sct?fhir_vs=isa/73211009"), ("filter", "TYPE 2"));
        var page = await ExpandAsync(("url", "http://snomed.info/sct?fhir_vs=isa/73211009"), ("offset", "1"), ("count", "2"));

        Assert.Equal(["313436004", "44054006"], Codes(filtered));
        Assert.Equal(5, page.Expansion.Total);
        Assert.Equal(1, page.Expansion.Offset);
        Assert.Equal(["44054006", "46635009"], Codes(page));
        Assert.Contains(page.Expansion.Contains, c => c.Display == "Type 2 diabetes mellitus");
    }

    [Fact]
    public async System.Threading.Tasks.Task an_unbounded_expansion_without_a_filter_is_refused_as_too_costly()
    {
        options = options with { MaxExpansion = 10 };
        terminology = new TerminologyService(Records, snomed!, options);

        var error = await Assert.ThrowsAsync<TooCostlyException>(() => ExpandAsync(("url", "http://snomed.info/sct?fhir_vs")));
        var paged = await ExpandAsync(("url", "http://snomed.info/sct?fhir_vs"), ("count", "3"));
        var filtered = await ExpandAsync(("url", "http://snomed.info/sct?fhir_vs"), ("filter", "diabetes"));

        Assert.Contains("more than the 10", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, paged.Expansion.Contains.Count);
        Assert.True(paged.Expansion.Total > 10);
        // The five diabetes concepts and the diabetes register refset.
        Assert.Equal(6, filtered.Expansion.Total);
    }

    [Fact]
    public async System.Threading.Tasks.Task an_ecl_syntax_error_is_a_400_naming_the_position()
    {
        var error = await Assert.ThrowsAsync<InvalidInputException>(() => ExpandAsync(("url", "http://snomed.info/sct?fhir_vs=ecl/<< 73211009 AND")));
        Assert.Contains("position 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task expands_stored_value_sets_and_refreshes_the_cache_when_one_changes()
    {
        await PutAsync(SnomedValueSet("dm", FilterOperator.IsA, "73211009"));
        await PutAsync(new ValueSet
        {
            Id = "mixed",
            Url = "http://example.org/ValueSet/mixed",
            Status = PublicationStatus.Active,
            Compose = new ValueSet.ComposeComponent
            {
                Include =
                [
                    new ValueSet.ConceptSetComponent { System = Local, Filter = [new ValueSet.FilterComponent { Property = "concept", Op = FilterOperator.IsA, Value = "DM" }] },
                    new ValueSet.ConceptSetComponent { ValueSet = ["http://snomed.info/sct?fhir_vs=isa/44054006"] },
                    new ValueSet.ConceptSetComponent { System = Local, Filter = [new ValueSet.FilterComponent { Property = "code", Op = FilterOperator.Regex, Value = "H." }] },
                ],
                Exclude = [new ValueSet.ConceptSetComponent { System = Local, Concept = [new ValueSet.ConceptReferenceComponent { Code = "DM1" }] }],
            },
        });

        var first = await ExpandAsync(("url", "http://example.org/ValueSet/dm"));
        var again = await ExpandAsync(("url", "http://example.org/ValueSet/dm"));
        await PutAsync(SnomedValueSet("dm", FilterOperator.DescendentOf, "44054006"));
        var changed = await ExpandAsync(("url", "http://example.org/ValueSet/dm"));
        var mixed = await ExpandAsync(("url", "http://example.org/ValueSet/mixed"));

        Assert.Equal(5, first.Expansion.Total);
        Assert.Same(first, again);
        Assert.Equal(["313436004"], Codes(changed));
        Assert.Equal(["313436004", "44054006", "DM", "DM2", "HT"], Codes(mixed));
    }

    private static ValueSet SnomedValueSet(string id, FilterOperator op, string value) => new()
    {
        Id = id,
        Url = $"http://example.org/ValueSet/{id}",
        Status = PublicationStatus.Active,
        Compose = new ValueSet.ComposeComponent
        {
            Include = [new ValueSet.ConceptSetComponent { System = Snomed.System, Filter = [new ValueSet.FilterComponent { Property = "concept", Op = op, Value = value }] }],
        },
    };

    [Theory]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/73211009", "313436004", null, true)]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/44054006", "46635009", null, false)]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/73211009", "46635009", "Insulin dependent diabetes mellitus", true)]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/73211009", "46635009", "Type 2 diabetes mellitus", false)]
    public async System.Threading.Tasks.Task validates_a_code_against_a_value_set(string url, string code, string? display, bool valid)
    {
        var input = Input(("url", url), ("system", Snomed.System), ("code", code));
        if (display is not null)
        {
            input.Add("display", new FhirString(display));
        }

        var output = await Terminology.ValidateInValueSetAsync(context, null, input, Ct);

        Assert.Equal(valid, output.GetSingleValue<FhirBoolean>("result").Value);
    }

    [Fact]
    public async System.Threading.Tasks.Task validates_a_code_against_a_code_system()
    {
        var snomedCode = await Terminology.ValidateInCodeSystemAsync(context, Input(("url", Snomed.System), ("code", "190330002")), Ct);
        var local = await Terminology.ValidateInCodeSystemAsync(context, Input(("url", Local), ("code", "XX")), Ct);

        Assert.True(snomedCode.GetSingleValue<FhirBoolean>("result").Value);
        Assert.Contains("inactive", snomedCode.GetSingleValue<FhirString>("message").Value, StringComparison.Ordinal);
        Assert.False(local.GetSingleValue<FhirBoolean>("result").Value);
    }

    [Fact]
    public async System.Threading.Tasks.Task translates_through_map_refsets_and_stored_concept_maps()
    {
        await PutAsync(new ConceptMap
        {
            Id = "local-to-snomed",
            Url = "http://example.org/ConceptMap/local-to-snomed",
            Status = PublicationStatus.Active,
            Group =
            [
                new ConceptMap.GroupComponent
                {
                    Source = Local,
                    Target = Snomed.System,
                    Element = [new ConceptMap.SourceElementComponent { Code = "DM2", Target = [new ConceptMap.TargetElementComponent { Code = "44054006", Equivalence = ConceptMapEquivalence.Equivalent }] }],
                },
            ],
        });

        var forward = await Terminology.TranslateAsync(context, Input(("system", Snomed.System), ("code", "46635009")), Ct);
        var reverse = await Terminology.TranslateAsync(context, Input(("system", "http://hl7.org/fhir/sid/icd-10"), ("code", "E11.9"), ("reverse", "true")), Ct);
        var stored = await Terminology.TranslateAsync(context, Input(("system", Local), ("code", "DM2"), ("targetsystem", Snomed.System)), Ct);
        var none = await Terminology.TranslateAsync(context, Input(("system", Local), ("code", "HT")), Ct);

        var targets = forward.Parameter.Where(p => p.Name == "match").Select(p => (Coding)p.Part.Single(x => x.Name == "concept").Value).Select(c => $"{c.System}|{c.Code}");
        Assert.Equal(["http://hl7.org/fhir/sid/icd-10|E10.9", $"{ReadV2}|C10E."], targets.Order(StringComparer.Ordinal));
        Assert.Equal("44054006", ((Coding)reverse.Parameter.Single(p => p.Name == "match").Part.Single(x => x.Name == "concept").Value).Code);
        Assert.Equal("44054006", ((Coding)stored.Parameter.Single(p => p.Name == "match").Part.Single(x => x.Name == "concept").Value).Code);
        Assert.False(none.GetSingleValue<FhirBoolean>("result").Value);
    }

    [Fact]
    public async System.Threading.Tasks.Task search_below_above_and_in_answer_from_snomed()
    {
        await PutAsync(new Condition { Id = "t2", Subject = new ResourceReference("Patient/p"), Code = new CodeableConcept(Snomed.System, "313436004") });
        await PutAsync(new Condition { Id = "mi", Subject = new ResourceReference("Patient/p"), Code = new CodeableConcept(Snomed.System, "22298006") });

        async Task<string[]> Ids(string name, string value) =>
            [.. (await Records.SearchAsync(context, "Condition", [new(name, value)], Ct)).Entry.Select(e => e.Resource.Id).Order(StringComparer.Ordinal)];

        Assert.Equal(["t2"], await Ids("code:below", "http://snomed.info/sct|73211009"));
        Assert.Empty(await Ids("code:below", "http://snomed.info/sct|46635009"));
        Assert.Equal(["mi"], await Ids("code:above", "http://snomed.info/sct|22298006"));
        Assert.Equal(["mi", "t2"], await Ids("code:below", "http://snomed.info/sct|64572001"));
        Assert.Equal(["t2"], await Ids("code:in", "http://snomed.info/sct?fhir_vs=isa/44054006"));
        Assert.Equal(["mi"], await Ids("code:in", "http://snomed.info/sct?fhir_vs=ecl/<< 404684003 : 363698007 = 80891009"));
        Assert.Equal(["mi"], await Ids("code:not-in", "http://snomed.info/sct?fhir_vs=refset/991000000000100"));
        var error = await Assert.ThrowsAsync<InvalidInputException>(() => Ids("code:in", "http://snomed.info/sct?fhir_vs=ecl/<< 73211009 OR"));
        Assert.Contains("position 15", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidInputException>(() => Ids("code:below", "http://snomed.info/sct|1234567"));
    }
}

/// <summary>The terminology operations with SNOMED CT on SQLite.</summary>
public sealed class SqliteTerminologyServiceTests : TerminologyServiceTests
{
    private readonly string path = SnomedTestStores.SqlitePath();

    protected override ValueTask<SnomedStore> CreateStoreAsync() => ValueTask.FromResult<SnomedStore>(new SqliteSnomedStore(path));

    protected override ValueTask DropAsync()
    {
        SnomedTestStores.DeleteSqlite(path);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The terminology operations with SNOMED CT on PostgreSQL (CAREHUB_TEST_POSTGRES), in a schema of its own.</summary>
public sealed class PostgresTerminologyServiceTests : TerminologyServiceTests
{
    private readonly string schema = SnomedTestStores.PostgresSchema();

    protected override ValueTask<SnomedStore> CreateStoreAsync() =>
        ValueTask.FromResult<SnomedStore>(new PostgresSnomedStore(SnomedTestStores.PostgresConnectionString(), schema));

    protected override ValueTask DropAsync() => SnomedTestStores.DropPostgresAsync(schema);
}
