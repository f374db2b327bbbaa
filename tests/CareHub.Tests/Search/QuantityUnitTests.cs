using CareHub.Records;
using CareHub.Search;
using CareHub.Storage;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>UCUM canonical units for quantity search (R4 search.html#quantity).</summary>
public sealed class QuantityUnitTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly RequestContext context = RecordsFixture.System();
    private RecordsFixture? fixture;

    public async ValueTask InitializeAsync() => fixture = await RecordsFixture.CreateAsync();

    public async ValueTask DisposeAsync()
    {
        if (fixture is not null)
        {
            await fixture.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("mg", 1e-3, "g")]
    [InlineData("kg", 1e3, "g")]
    [InlineData("ug", 1e-6, "g")]
    [InlineData("cm", 1e-2, "m")]
    [InlineData("mm", 1e-3, "m")]
    [InlineData("mL", 1e-6, "m3")]
    [InlineData("dL", 1e-4, "m3")]
    [InlineData("L", 1e-3, "m3")]
    [InlineData("min", 60, "s")]
    [InlineData("h", 3600, "s")]
    [InlineData("d", 86400, "s")]
    [InlineData("wk", 604800, "s")]
    [InlineData("/min", 1.0 / 60, "s-1")]
    [InlineData("{beats}/min", 1.0 / 60, "s-1")]
    [InlineData("mmol/L", 1, "m-3.mol")]
    [InlineData("mol/L", 1e3, "m-3.mol")]
    [InlineData("mg/dL", 10, "g.m-3")]
    [InlineData("g/L", 1000, "g.m-3")]
    [InlineData("kg/m2", 1e3, "g.m-2")]
    [InlineData("mm[Hg]", 133322.387415, "g.m-1.s-2")]
    [InlineData("kPa", 1e6, "g.m-1.s-2")]
    [InlineData("10*9/L", 1e12, "m-3")]
    [InlineData("[IU]/L", 1e3, "[IU].m-3")]
    [InlineData("mL/min/{1.73_m2}", 1e-6 / 60, "m3.s-1")]
    public void ucum_codes_have_a_factor_and_a_canonical_code(string code, double factor, string canonical)
    {
        var result = Ucum.Canonical(code);
        Assert.NotNull(result);
        Assert.Equal(canonical, result.Value.Code);
        Assert.Equal(factor, result.Value.Factor, factor * 1e-9);
    }

    [Theory]
    [InlineData("Cel")]
    [InlineData("[degF]")]
    [InlineData("mcg")]
    [InlineData("kg/(m.s)")]
    [InlineData("")]
    [InlineData("beats per minute")]
    [InlineData("%")]
    [InlineData("{score}")]
    [InlineData("1")]
    [InlineData("{cells}/{cells}")]
    public void what_is_not_a_known_ratio_unit_or_is_dimensionless_has_no_canonical_form(string code)
    {
        Assert.Null(Ucum.Canonical(code));
    }

    private Task PutAsync(Resource resource) => fixture!.Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);

    private static Observation Measured(string id, decimal value, string code) => new()
    {
        Id = id,
        Status = ObservationStatus.Final,
        Code = new CodeableConcept("http://loinc.org", "2345-7"),
        Value = new Quantity { Value = value, System = Ucum.System, Code = code, Unit = code },
    };

    private async Task<List<string>> FindAsync(string query)
    {
        var bundle = await fixture!.Records.SearchAsync(context, "Observation", QueryString.Parse(query), Ct);
        return bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id!).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task a_ucum_search_compares_in_canonical_units()
    {
        await PutAsync(Measured("g-dl", 1.2m, "g/dL"));
        await PutAsync(Measured("mg-dl", 1200m, "mg/dL"));
        await PutAsync(Measured("g-l", 15m, "g/L"));
        await PutAsync(Measured("mmhg", 120m, "mm[Hg]"));
        await PutAsync(new Observation { Id = "unitless", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "2345-7"), Value = new Quantity { Value = 12m, Unit = "g/L" } });

        Assert.Equal(["g-dl", "mg-dl"], await FindAsync("value-quantity=12|http://unitsofmeasure.org|g/L"));
        Assert.Equal(["g-dl", "mg-dl"], await FindAsync("value-quantity=1200|http://unitsofmeasure.org|mg/dL"));
        Assert.Equal(["g-l"], await FindAsync("value-quantity=gt1.3|http://unitsofmeasure.org|g/dL"));
        Assert.Equal(["mmhg"], await FindAsync("value-quantity=ap16|http://unitsofmeasure.org|kPa"));
        // Without a system the code is compared as written (search.html#quantity), and so is a unit with no canonical form.
        Assert.Equal(["unitless"], await FindAsync("value-quantity=12||g/L"));
    }

    [Fact]
    public async Task rows_written_before_the_canonical_columns_match_as_written_until_a_reindex_fills_them()
    {
        var observation = Measured("old", 1.2m, "g/dL");
        observation.Meta = new Meta { VersionId = "1", LastUpdated = DateTimeOffset.UtcNow };
        // As a schema-2 database holds it: the quantity row without canonical columns.
        await using (var session = await fixture!.Store.BeginWriteAsync(Ct))
        {
            await session.WriteAsync(new VersionWrite("Observation", "old", 1, DateTimeOffset.UtcNow, "PUT", CareHub.Fhir.FhirSerialization.ToJson(observation), 0,
                [new QuantityIndexRow("value-quantity", Ucum.System, "g/dL", "g/dL", 1.2, 1.15, 1.25)]), Ct);
            await session.CommitAsync(Ct);
        }

        Assert.Equal(["old"], await FindAsync("value-quantity=1.2|http://unitsofmeasure.org|g/dL"));
        Assert.Empty(await FindAsync("value-quantity=12|http://unitsofmeasure.org|g/L"));

        await fixture.Records.ReindexAsync(Ct);

        Assert.Equal(["old"], await FindAsync("value-quantity=12|http://unitsofmeasure.org|g/L"));
        Assert.Equal(["old"], await FindAsync("value-quantity=1.2|http://unitsofmeasure.org|g/dL"));
    }
}
