using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Fhir;

/// <summary>Search over HTTP, end to end (FHIR R4 search.html, http.html#search).</summary>
public sealed class SearchApiTests(SqliteServerFixture server) : IClassFixture<SqliteServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path, string? prefer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path.StartsWith("http", StringComparison.Ordinal) ? path : server.FhirUrl + path);
        if (prefer is not null)
        {
            request.Headers.TryAddWithoutValidation("Prefer", prefer);
        }

        using var response = await server.Client.SendAsync(request, Ct);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone());
    }

    private async Task PutAsync(string type, string id, string json)
    {
        using var response = await server.Client.PutAsync($"{server.FhirUrl}/{type}/{id}", ServerFixture.Json(json), Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    private static List<string> Ids(JsonElement bundle, string mode = "match") =>
        bundle.TryGetProperty("entry", out var entries)
            ? entries.EnumerateArray().Where(e => e.GetProperty("search").GetProperty("mode").GetString() == mode)
                .Select(e => e.GetProperty("resource").GetProperty("resourceType").GetString() + "/" + e.GetProperty("resource").GetProperty("id").GetString()).ToList()
            : [];

    private static string? Link(JsonElement bundle, string relation) =>
        bundle.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == relation).Select(l => l.GetProperty("url").GetString()).FirstOrDefault();

    /// <summary>A patient with observations whose ids are unique to the calling test.</summary>
    private async Task<string> SeedAsync(string prefix, int observations)
    {
        var patient = $"{prefix}-p";
        await PutAsync("Patient", patient, $$"""{"resourceType":"Patient","id":"{{patient}}","name":[{"family":"{{prefix}}","given":["Jo"]}],"birthDate":"1980-05-01"}""");
        for (var i = 0; i < observations; i++)
        {
            await PutAsync("Observation", $"{prefix}-o{i}",
                $$$"""{"resourceType":"Observation","id":"{{{prefix}}}-o{{{i}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/{{{patient}}}"},"valueQuantity":{"value":{{{100 + i}}},"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}""");
        }

        return patient;
    }

    [Fact]
    public async Task chained_search_with_include_and_sorted_paging()
    {
        var prefix = "chain" + Guid.NewGuid().ToString("N")[..8];
        var patient = await SeedAsync(prefix, 5);

        var next = $"/Observation?subject:Patient.family={prefix}&value-quantity=gt101&_sort=-value-quantity&_count=2&_include=Observation:subject";
        var seen = new List<string>();
        while (next is not null)
        {
            var (status, body) = await GetAsync(next);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(3, body.GetProperty("total").GetInt32());
            Assert.Equal([$"Patient/{patient}"], Ids(body, "include"));
            seen.AddRange(Ids(body));
            next = Link(body, "next");
        }

        Assert.Equal([$"Observation/{prefix}-o4", $"Observation/{prefix}-o3", $"Observation/{prefix}-o2"], seen);
    }

    [Fact]
    public async Task compartment_everything_and_system_search_routes()
    {
        var prefix = "comp" + Guid.NewGuid().ToString("N")[..8];
        var patient = await SeedAsync(prefix, 2);

        var (compartment, compartmentBody) = await GetAsync($"/Patient/{patient}/Observation?code=8480-6");
        Assert.Equal(HttpStatusCode.OK, compartment);
        Assert.Equal([$"Observation/{prefix}-o0", $"Observation/{prefix}-o1"], Ids(compartmentBody));

        var (everything, everythingBody) = await GetAsync($"/Patient/{patient}/$everything");
        Assert.Equal(HttpStatusCode.OK, everything);
        // The person index's Person links the patient, and Person is in the R4 Patient compartment (Person.link), so it is
        // part of everything too.
        var everythingIds = Ids(everythingBody);
        Assert.Equal([$"Observation/{prefix}-o0", $"Observation/{prefix}-o1", $"Patient/{patient}"], everythingIds.Where(i => !i.StartsWith("Person/", StringComparison.Ordinal)));
        Assert.Single(everythingIds, i => i.StartsWith("Person/", StringComparison.Ordinal));

        var (system, systemBody) = await GetAsync($"?_type=Patient,Observation&_id={patient},{prefix}-o1");
        Assert.Equal(HttpStatusCode.OK, system);
        Assert.Equal([$"Observation/{prefix}-o1", $"Patient/{patient}"], Ids(systemBody));

        using var post = await server.Client.PostAsync($"{server.FhirUrl}/Observation/_search",
            new FormUrlEncodedContent([new("_has:Observation:patient:code", "8480-6"), new("subject", $"Patient/{patient}")]), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, post.StatusCode);
        using var good = await server.Client.PostAsync($"{server.FhirUrl}/Patient/_search",
            new FormUrlEncodedContent([new("_has:Observation:patient:code", "8480-6"), new("family", prefix)]), Ct);
        using var goodBody = JsonDocument.Parse(await good.Content.ReadAsStringAsync(Ct));
        Assert.Equal([$"Patient/{patient}"], Ids(goodBody.RootElement));
    }

    [Fact]
    public async Task unknown_parameters_and_modifiers()
    {
        var (strict, _) = await GetAsync("/Patient?nonsense=1", "handling=strict");
        Assert.Equal(HttpStatusCode.BadRequest, strict);

        var (lenient, lenientBody) = await GetAsync("/Patient?nonsense=1&_count=1");
        Assert.Equal(HttpStatusCode.OK, lenient);
        Assert.DoesNotContain("nonsense", Link(lenientBody, "self"), StringComparison.Ordinal);
        Assert.Contains(lenientBody.GetProperty("entry").EnumerateArray(), e => e.GetProperty("search").GetProperty("mode").GetString() == "outcome");

        var (modifier, modifierBody) = await GetAsync("/Patient?family:sounds-like=smith");
        Assert.Equal(HttpStatusCode.BadRequest, modifier);
        Assert.Equal("OperationOutcome", modifierBody.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task the_capability_statement_lists_each_types_search_parameters()
    {
        var (status, body) = await GetAsync("/metadata");

        Assert.Equal(HttpStatusCode.OK, status);
        var observation = body.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "Observation");
        var parameters = observation.GetProperty("searchParam").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("type").GetString());
        Assert.Equal("token", parameters["code"]);
        Assert.Equal("reference", parameters["subject"]);
        Assert.Equal("quantity", parameters["value-quantity"]);
        Assert.Equal("composite", parameters["code-value-quantity"]);
        Assert.Equal("date", parameters["_lastUpdated"]);
        Assert.Contains(observation.GetProperty("searchInclude").EnumerateArray(), i => i.GetString() == "Observation:subject");
        Assert.Contains(body.GetProperty("rest")[0].GetProperty("interaction").EnumerateArray(), i => i.GetProperty("code").GetString() == "search-system");
    }
}
