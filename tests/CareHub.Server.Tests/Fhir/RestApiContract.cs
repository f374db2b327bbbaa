using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Records;

namespace CareHub.Server.Tests.Fhir;

/// <summary>The FHIR REST API end to end on a real Kestrel, run on each store.</summary>
public abstract class RestApiContract(ServerFixture server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static string PatientJson(string? id = null, string family = "Smith", string nhs = "9000000009") =>
        $$"""{"resourceType":"Patient",{{(id is null ? "" : $"\"id\":\"{id}\",")}}"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{{nhs}}"}],"name":[{"family":"{{family}}","given":["Jo"]}],"gender":"female","birthDate":"1970-01-01"}""";

    private Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpMethod method, string path, HttpContent? content = null, Action<HttpRequestMessage>? configure = null, HttpClient? client = null) =>
        FhirCalls.SendAsync(server, method, path, content, configure, client, None);

    private static string Diagnostics(JsonElement outcome) => FhirCalls.Diagnostics(outcome);

    private async Task<string> CreatePatientAsync(string nhs = "9000000009")
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson(nhs: nhs)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task metadata_is_public_and_describes_what_is_supported()
    {
        var (response, body) = await SendAsync(HttpMethod.Get, "/metadata", client: server.Anonymous);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("CapabilityStatement", body.GetProperty("resourceType").GetString());
        var patient = body.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "Patient");
        var interactions = patient.GetProperty("interaction").EnumerateArray().Select(i => i.GetProperty("code").GetString()).ToList();
        Assert.Contains("patch", interactions);
        Assert.Contains("history-instance", interactions);
        Assert.Contains(patient.GetProperty("searchParam").EnumerateArray(), p => p.GetProperty("name").GetString() == "identifier" && p.GetProperty("type").GetString() == "token");
    }

    [Fact]
    public async Task health_says_the_store_answers()
    {
        var (response, body) = await SendAsync(HttpMethod.Get, server.BaseUrl + "/health", client: server.Anonymous);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Equal(0, body.GetProperty("statistics").GetProperty("failures").GetInt64());
        if (body.GetProperty("store").GetString() == "sqlite")
        {
            Assert.Equal(0, body.GetProperty("checkpoints").GetProperty("failures").GetInt64());
        }
    }

    [Fact]
    public async Task Given_no_token_When_reading_Then_401_with_an_outcome_and_a_challenge()
    {
        var (response, body) = await SendAsync(HttpMethod.Get, "/Patient", client: server.Anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_forged_token_is_refused()
    {
        var token = await server.TokenAsync("test-system", "test-secret");
        var parts = token.Split('.');
        var forged = parts[0] + "." + parts[1] + "." + new string('A', parts[2].Length);
        var (response, _) = await SendAsync(HttpMethod.Get, "/Patient", configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", forged), client: server.Anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task a_scope_that_only_reads_patients_cannot_create_them()
    {
        var token = await server.TokenAsync("reader", "reader-secret");
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson()), r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token), server.Anonymous);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("scopes", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task create_read_update_delete_and_history_follow_the_versioning_rules()
    {
        var (created, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson()));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = body.GetProperty("id").GetString()!;
        Assert.Equal("W/\"1\"", created.Headers.ETag!.ToString());
        Assert.EndsWith($"/fhir/Patient/{id}/_history/1", created.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal("1", body.GetProperty("meta").GetProperty("versionId").GetString());

        var (read, _) = await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.NotNull(read.Content.Headers.LastModified);

        var (notModified, _) = await SendAsync(HttpMethod.Get, $"/Patient/{id}", configure: r => r.Headers.TryAddWithoutValidation("If-None-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        var (updated, updatedBody) = await SendAsync(HttpMethod.Put, $"/Patient/{id}", ServerFixture.Json(PatientJson(id, "Jones")), r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal("2", updatedBody.GetProperty("meta").GetProperty("versionId").GetString());

        var (stale, staleBody) = await SendAsync(HttpMethod.Put, $"/Patient/{id}", ServerFixture.Json(PatientJson(id, "Brown")), r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        Assert.Contains("current version is 2", Diagnostics(staleBody), StringComparison.Ordinal);

        var (vread, vreadBody) = await SendAsync(HttpMethod.Get, $"/Patient/{id}/_history/1");
        Assert.Equal(HttpStatusCode.OK, vread.StatusCode);
        Assert.Equal("Smith", vreadBody.GetProperty("name")[0].GetProperty("family").GetString());

        var (deleted, _) = await SendAsync(HttpMethod.Delete, $"/Patient/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var (gone, goneBody) = await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        Assert.Equal("OperationOutcome", goneBody.GetProperty("resourceType").GetString());

        var (history, historyBody) = await SendAsync(HttpMethod.Get, $"/Patient/{id}/_history");
        Assert.Equal(HttpStatusCode.OK, history.StatusCode);
        Assert.Equal(3, historyBody.GetProperty("total").GetInt32());
        var methods = historyBody.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("request").GetProperty("method").GetString()).ToList();
        Assert.Equal(new[] { "DELETE", "PUT", "POST" }, methods);
    }

    [Fact]
    public async Task update_as_create_uses_the_clients_id()
    {
        var id = "client-chosen-" + Guid.NewGuid().ToString("N")[..8];
        var (response, _) = await SendAsync(HttpMethod.Put, $"/Patient/{id}", ServerFixture.Json(PatientJson(id)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var (read, _) = await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Theory]
    [InlineData("{\"resourceType\":\"Patient\",", "application/fhir+json", HttpStatusCode.BadRequest)]
    [InlineData("{\"resourceType\":\"Patient\",\"birthDate\":\"not-a-date\"}", "application/fhir+json", HttpStatusCode.BadRequest)]
    [InlineData("{\"resourceType\":\"Patient\",\"unknownElement\":1}", "application/fhir+json", HttpStatusCode.BadRequest)]
    [InlineData("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"}}", "application/fhir+json", HttpStatusCode.BadRequest)]
    [InlineData("{\"resourceType\":\"Patient\"}", "text/plain", HttpStatusCode.UnsupportedMediaType)]
    public async Task bad_bodies_are_refused_with_an_outcome_and_nothing_is_stored(string body, string contentType, HttpStatusCode expected)
    {
        var (before, beforeBody) = await SendAsync(HttpMethod.Get, "/Patient?_summary=count");
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        var (response, outcome) = await SendAsync(HttpMethod.Post, "/Patient", new StringContent(body, Encoding.UTF8, contentType));
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        var (_, afterBody) = await SendAsync(HttpMethod.Get, "/Patient?_summary=count");
        Assert.Equal(beforeBody.GetProperty("total").GetInt32(), afterBody.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task a_missing_required_element_is_named()
    {
        var (response, outcome) = await SendAsync(HttpMethod.Post, "/Observation", ServerFixture.Json("{\"resourceType\":\"Observation\",\"code\":{\"text\":\"x\"}}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("status", outcome.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task unknown_types_bad_ids_and_wrong_methods_get_precise_statuses()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/Spaceship/1")).Response.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Put, "/Patient/bad_id!", ServerFixture.Json(PatientJson("bad_id!")))).Response.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Put, "/Patient/abc", ServerFixture.Json(PatientJson("xyz")))).Response.StatusCode);
        var (notAllowed, body) = await SendAsync(HttpMethod.Post, "/Patient/abc", ServerFixture.Json(PatientJson()));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, notAllowed.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/Patient/does-not-exist")).Response.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await SendAsync(HttpMethod.Post, "/AuditEvent", ServerFixture.Json("{\"resourceType\":\"AuditEvent\"}"))).Response.StatusCode);
    }

    [Fact]
    public async Task an_oversized_body_is_413()
    {
        var big = "{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"" + new string('x', (int)ServerFixture.MaxBodyBytes + 10) + "\"}]}";
        // Expect: 100-continue lets the server refuse before the client sends the body, as real clients do.
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(big), r => r.Headers.ExpectContinue = true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task xml_in_and_out()
    {
        const string xml = "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"male\"/></Patient>";
        var (created, _) = await SendAsync(HttpMethod.Post, "/Patient", new StringContent(xml, Encoding.UTF8, "application/fhir+xml"), r => r.Headers.Accept.ParseAdd("application/fhir+xml"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("application/fhir+xml", created.Content.Headers.ContentType!.MediaType);
        var location = created.Headers.Location!.ToString();
        var id = location.Split('/')[^3];
        var (read, _) = await SendAsync(HttpMethod.Get, $"/Patient/{id}?_format=xml");
        Assert.Contains("<gender value=\"male\"", await read.Content.ReadAsStringAsync(None), StringComparison.Ordinal);
        var (search, _) = await SendAsync(HttpMethod.Get, $"/Patient?_id={id}&_format=application/fhir%2Bxml");
        Assert.Contains("<Bundle xmlns=\"http://hl7.org/fhir\"", await search.Content.ReadAsStringAsync(None), StringComparison.Ordinal);
        var (notAcceptable, outcome) = await SendAsync(HttpMethod.Get, $"/Patient/{id}?_format=text/csv");
        Assert.Equal(HttpStatusCode.NotAcceptable, notAcceptable.StatusCode);
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task prefer_return_minimal_and_operation_outcome()
    {
        var (minimal, _) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson()), r => r.Headers.TryAddWithoutValidation("Prefer", "return=minimal"));
        Assert.Equal(HttpStatusCode.Created, minimal.StatusCode);
        Assert.Empty(await minimal.Content.ReadAsByteArrayAsync(None));
        var (outcome, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson()), r => r.Headers.TryAddWithoutValidation("Prefer", "return=OperationOutcome"));
        Assert.Equal(HttpStatusCode.Created, outcome.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task conditional_create_update_and_delete()
    {
        // A valid number: the MPI rejects writes whose NHS Number fails the Modulus 11 check.
        string nhs;
        do
        {
            nhs = "9" + Random.Shared.NextInt64(100000000, 999999999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        while (!CareHub.Identity.NhsNumber.IsValid(nhs));

        var criteria = $"identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}";
        var (first, firstBody) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson(nhs: nhs)), r => r.Headers.TryAddWithoutValidation("If-None-Exist", criteria));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var (second, secondBody) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(PatientJson(nhs: nhs)), r => r.Headers.TryAddWithoutValidation("If-None-Exist", criteria));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(firstBody.GetProperty("id").GetString(), secondBody.GetProperty("id").GetString());

        var (update, updateBody) = await SendAsync(HttpMethod.Put, $"/Patient?{criteria}", ServerFixture.Json(PatientJson(family: "Conditional", nhs: nhs)));
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.Equal(firstBody.GetProperty("id").GetString(), updateBody.GetProperty("id").GetString());

        var (delete, _) = await SendAsync(HttpMethod.Delete, $"/Patient?{criteria}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        var (search, searchBody) = await SendAsync(HttpMethod.Get, $"/Patient?{criteria}");
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.Equal(0, searchBody.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task concurrent_conditional_creates_on_the_same_criteria_create_once()
    {
        var value = Guid.NewGuid().ToString("N");
        var criteria = $"identifier=urn:test:race|{value}";
        var json = $$"""{"resourceType":"Patient","identifier":[{"system":"urn:test:race","value":"{{value}}"}]}""";
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(json), r => r.Headers.TryAddWithoutValidation("If-None-Exist", criteria))));
        Assert.Single(responses, r => r.Response.StatusCode == HttpStatusCode.Created);
        Assert.All(responses, r => Assert.True(r.Response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, r.Response.StatusCode.ToString()));
        Assert.Single(responses.Select(r => r.Body.GetProperty("id").GetString()).Distinct());
    }

    [Fact]
    public async Task search_by_identifier_pages_with_next_links()
    {
        var system = "urn:test:" + Guid.NewGuid().ToString("N");
        for (var i = 0; i < 5; i++)
        {
            var json = $$"""{"resourceType":"Patient","identifier":[{"system":"{{system}}","value":"v{{i}}"}]}""";
            Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(json))).Response.StatusCode);
        }

        var seen = new List<string>();
        var next = $"/Patient?identifier={Uri.EscapeDataString(system + "|")}&_count=2&_total=accurate";
        while (next is not null)
        {
            var (response, body) = await SendAsync(HttpMethod.Get, next);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(5, body.GetProperty("total").GetInt32());
            seen.AddRange(body.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!));
            next = body.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next").Select(l => l.GetProperty("url").GetString()).FirstOrDefault();
        }

        Assert.Equal(5, seen.Distinct().Count());
        var (strict, _) = await SendAsync(HttpMethod.Get, "/Patient?nonsense=1", configure: r => r.Headers.TryAddWithoutValidation("Prefer", "handling=strict"));
        Assert.Equal(HttpStatusCode.BadRequest, strict.StatusCode);
        var (lenient, lenientBody) = await SendAsync(HttpMethod.Get, "/Patient?nonsense=1&_count=1");
        Assert.Equal(HttpStatusCode.OK, lenient.StatusCode);
        Assert.Contains(lenientBody.GetProperty("entry").EnumerateArray(), e => e.GetProperty("search").GetProperty("mode").GetString() == "outcome");
    }

    [Fact]
    public async Task json_patch_and_fhirpath_patch()
    {
        var id = await CreatePatientAsync();
        var (patched, body) = await SendAsync(HttpMethod.Patch, $"/Patient/{id}",
            new StringContent("""[{"op":"replace","path":"/gender","value":"male"}]""", Encoding.UTF8, "application/json-patch+json"));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("male", body.GetProperty("gender").GetString());
        Assert.Equal("2", body.GetProperty("meta").GetProperty("versionId").GetString());

        const string fhirPathPatch = """{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1980-02-03"}]}]}""";
        var (second, secondBody) = await SendAsync(HttpMethod.Patch, $"/Patient/{id}", ServerFixture.Json(fhirPathPatch));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("1980-02-03", secondBody.GetProperty("birthDate").GetString());

        var (bad, _) = await SendAsync(HttpMethod.Patch, $"/Patient/{id}",
            new StringContent("""[{"op":"replace","path":"/birthDate","value":"not a date"}]""", Encoding.UTF8, "application/json-patch+json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
    }

    [Fact]
    public async Task a_transaction_rewrites_urn_uuid_references_and_is_all_or_nothing()
    {
        const string transaction = """
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient","gender":"female"},"request":{"method":"POST","url":"Patient"}},
              {"fullUrl":"urn:uuid:22222222-2222-2222-2222-222222222222","resource":{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"}},"request":{"method":"POST","url":"Observation"}}
            ]}
            """;
        var (response, body) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(transaction));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("transaction-response", body.GetProperty("type").GetString());
        var locations = body.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("location").GetString()!).ToList();
        Assert.All(body.GetProperty("entry").EnumerateArray(), e => Assert.Equal("201 Created", e.GetProperty("response").GetProperty("status").GetString()));
        var patientId = locations[0].Split('/')[1];
        var (observation, observationBody) = await SendAsync(HttpMethod.Get, "/" + string.Join('/', locations[1].Split('/')[..2]));
        Assert.Equal(HttpStatusCode.OK, observation.StatusCode);
        Assert.Equal($"Patient/{patientId}", observationBody.GetProperty("subject").GetProperty("reference").GetString());

        var dangling = transaction.Replace("\"reference\":\"urn:uuid:11111111", "\"reference\":\"urn:uuid:99999999", StringComparison.Ordinal)
            .Replace("\"gender\":\"female\"", "\"gender\":\"other\"", StringComparison.Ordinal);
        var (before, beforeBody) = await SendAsync(HttpMethod.Get, "/Patient?_summary=count");
        var (failed, failedBody) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(dangling));
        Assert.Equal(HttpStatusCode.BadRequest, failed.StatusCode);
        Assert.Contains("urn:uuid:99999999", Diagnostics(failedBody), StringComparison.Ordinal);
        var (_, afterBody) = await SendAsync(HttpMethod.Get, "/Patient?_summary=count");
        Assert.Equal(beforeBody.GetProperty("total").GetInt32(), afterBody.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task every_interaction_leaves_an_audit_event_readable_through_the_api()
    {
        var id = await CreatePatientAsync();
        await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        await server.Service<AuditTrail>().FlushAsync(None);
        var (response, body) = await SendAsync(HttpMethod.Get, "/AuditEvent?_count=1000");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var mentions = body.GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("resource"))
            .Where(a => a.TryGetProperty("entity", out var entities) && entities.EnumerateArray().Any(x => x.TryGetProperty("what", out var what) && what.GetProperty("reference").GetString() == $"Patient/{id}"))
            .Select(a => a.GetProperty("subtype")[0].GetProperty("code").GetString())
            .ToList();
        Assert.Contains("create", mentions);
        Assert.Contains("read", mentions);
    }
}

public sealed class RestApiOnSqliteTests(SqliteServerFixture server) : RestApiContract(server), IClassFixture<SqliteServerFixture>;

public sealed class RestApiOnPostgresTests(PostgresServerFixture server) : RestApiContract(server), IClassFixture<PostgresServerFixture>;
