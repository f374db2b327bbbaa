using CareHub.Records;
using CareHub.Tests.Directories;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>
/// Codes of a case-insensitive code system (LOINC, R4 loinc.html) match whatever their case; other systems' codes match
/// only as written. On each store.
/// </summary>
public abstract class CaseInsensitiveCodeTests : IAsyncLifetime
{
    private const string Loinc = "http://loinc.org";
    private const string Local = "http://example.org/CodeSystem/local";
    private readonly RequestContext context = RecordsFixture.System();
    private DirectoryStores? stores;

    protected abstract bool Postgres { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        stores = await DirectoryStores.CreateAsync(Postgres, Ct);
        await PutAsync(Observation("upper", Loinc, "LP14355-9"));
        await PutAsync(Observation("lower", Loinc, "la6576-8"));
        await PutAsync(Observation("local", Local, "Ab1"));
    }

    public async ValueTask DisposeAsync()
    {
        if (stores is not null)
        {
            await stores.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData("http://loinc.org|lp14355-9", "upper")]
    [InlineData("http://loinc.org|LP14355-9", "upper")]
    [InlineData("http://loinc.org|LA6576-8", "lower")]
    [InlineData("http://loinc.org|La6576-8", "lower")]
    [InlineData("http://loinc.org|lp14355-9,http://loinc.org|LA6576-8,http://loinc.org|x1,http://loinc.org|x2", "lower,upper")]
    [InlineData("http://example.org/CodeSystem/local|Ab1", "local")]
    [InlineData("http://example.org/CodeSystem/local|ab1", "")]
    public async Task a_loinc_code_matches_in_any_case_and_a_case_sensitive_one_only_as_written(string code, string expected)
    {
        var bundle = await stores!.Records.SearchAsync(context, "Observation", [new("code", code)], Ct);

        Assert.Equal(expected, string.Join(',', bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task not_leaves_out_a_loinc_code_in_any_case()
    {
        var bundle = await stores!.Records.SearchAsync(context, "Observation", [new("code:not", "http://loinc.org|lp14355-9")], Ct);

        Assert.Equal(["local", "lower"], bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id).Order(StringComparer.Ordinal));
    }

    private static Observation Observation(string id, string system, string code) => new()
    {
        Id = id,
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(system, code),
    };

    private Task PutAsync(Resource resource) => stores!.Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);
}

/// <summary>Case-insensitive codes on the embedded store.</summary>
public sealed class SqliteCaseInsensitiveCodeTests : CaseInsensitiveCodeTests
{
    protected override bool Postgres => false;
}

/// <summary>Case-insensitive codes on PostgreSQL.</summary>
public sealed class PostgresCaseInsensitiveCodeTests : CaseInsensitiveCodeTests
{
    protected override bool Postgres => true;
}
