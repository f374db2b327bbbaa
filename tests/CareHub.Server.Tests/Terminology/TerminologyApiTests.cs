using System.Net;
using System.Text.Json;
using CareHub.Terminology.Snomed;

namespace CareHub.Server.Tests.Terminology;

/// <summary>
/// The terminology operations over HTTP: routed under /fhir with its authentication, GET and POST, errors as
/// OperationOutcomes, listed in the CapabilityStatement, and a SNOMED CT :below search end to end.
/// </summary>
public sealed class TerminologyApiTests(SqliteServerFixture server) : IClassFixture<SqliteServerFixture>, IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string release = Path.Combine(Path.GetTempPath(), "carehub-sct-api-" + Guid.NewGuid().ToString("N"));

    public async ValueTask InitializeAsync()
    {
        SyntheticRelease.Write(release);
        await server.Service<SnomedStore>().LoadAsync(Rf2Release.Find(release), null, Ct);
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(release, recursive: true);
        return ValueTask.CompletedTask;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, server.FhirUrl + path);
        if (body is not null)
        {
            request.Content = ServerFixture.Json(body);
        }

        using var response = await client.SendAsync(request, Ct);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone());
    }

    [Fact]
    public async Task expands_an_ecl_value_set_by_get_and_needs_a_token()
    {
        const string path = "/ValueSet/$expand?url=http%3A%2F%2Fsnomed.info%2Fsct%3Ffhir_vs%3Decl%2F%253C%253C73211009&count=10";

        var (status, body) = await SendAsync(server.Client, HttpMethod.Get, path);
        var (anonymous, _) = await SendAsync(server.Anonymous, HttpMethod.Get, path);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, body.GetProperty("expansion").GetProperty("total").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous);
    }

    [Fact]
    public async Task looks_up_by_post_and_refuses_bad_ecl_with_its_position()
    {
        var (status, body) = await SendAsync(server.Client, HttpMethod.Post, "/CodeSystem/$lookup",
            """{"resourceType":"Parameters","parameter":[{"name":"coding","valueCoding":{"system":"http://snomed.info/sct","code":"44054006"}}]}""");
        var (bad, outcome) = await SendAsync(server.Client, HttpMethod.Get, "/ValueSet/$expand?url=http%3A%2F%2Fsnomed.info%2Fsct%3Ffhir_vs%3Decl%2F%253C%253C%2520AND");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(body.GetProperty("parameter").EnumerateArray(), p => p.GetProperty("name").GetString() == "display" && p.GetProperty("valueString").GetString() == "Type 2 diabetes mellitus");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        Assert.Contains("position 4", outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task finds_a_sub_concept_recorded_with_below()
    {
        var id = "t2-" + Guid.NewGuid().ToString("N")[..8];
        await SendAsync(server.Client, HttpMethod.Put, $"/Condition/{id}",
            $$$"""{"resourceType":"Condition","id":"{{{id}}}","subject":{"reference":"Patient/{{{id}}}"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"313436004"}]}}""");

        var (status, bundle) = await SendAsync(server.Client, HttpMethod.Get, $"/Condition?subject=Patient/{id}&code:below=http://snomed.info/sct%7C73211009");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, bundle.GetProperty("entry")[0].GetProperty("resource").GetProperty("id").GetString());
    }

    [Fact]
    public async Task the_capability_statement_lists_the_operations()
    {
        var (_, metadata) = await SendAsync(server.Anonymous, HttpMethod.Get, "/metadata");

        var operations = metadata.GetProperty("rest")[0].GetProperty("resource").EnumerateArray()
            .Where(r => r.TryGetProperty("operation", out _))
            .SelectMany(r => r.GetProperty("operation").EnumerateArray().Select(o => $"{r.GetProperty("type").GetString()}/${o.GetProperty("name").GetString()}"))
            .ToHashSet();
        Assert.Superset(new HashSet<string> { "CodeSystem/$lookup", "CodeSystem/$subsumes", "CodeSystem/$validate-code", "ValueSet/$expand", "ValueSet/$validate-code", "ConceptMap/$translate" }, operations);
    }
}
