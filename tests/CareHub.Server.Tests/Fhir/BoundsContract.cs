using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CareHub.Server.Tests.Fhir;

/// <summary>
/// Bounded work and honest 4xx at the FHIR edge: what any signed-in caller can send (deep, malformed or huge bodies,
/// odd tokens, oversized searches, transactions that break the spec's rules) gets a clear 4xx and leaves the server
/// answering.
/// </summary>
public abstract class BoundsContract(ServerFixture server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpMethod method, string path, HttpContent? content = null, HttpClient? client = null, Action<HttpRequestMessage>? configure = null) =>
        FhirCalls.SendAsync(server, method, path, content, configure, client, None);

    private static string Diagnostics(JsonElement outcome) => FhirCalls.Diagnostics(outcome);

    private static string Expressions(JsonElement outcome) =>
        string.Join(" | ", outcome.GetProperty("issue").EnumerateArray().SelectMany(i => i.TryGetProperty("expression", out var e) ? e.EnumerateArray().Select(x => x.GetString()) : []));

    private async Task AssertStillAnswersAsync()
    {
        var (response, body) = await SendAsync(HttpMethod.Get, "/Patient?_count=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bundle", body.GetProperty("resourceType").GetString());
    }

    private static StringContent Xml(string xml) => new(xml, Encoding.UTF8, "application/fhir+xml");

    private static string NestedExtensionsXml(int depth)
    {
        var builder = new StringBuilder("<Patient xmlns=\"http://hl7.org/fhir\">");
        for (var i = 0; i < depth; i++)
        {
            builder.Append("<extension url=\"http://example.org/x\">");
        }

        for (var i = 0; i < depth; i++)
        {
            builder.Append("</extension>");
        }

        return builder.Append("</Patient>").ToString();
    }

    private static string NestedExtensionsJson(int depth)
    {
        var builder = new StringBuilder("{\"resourceType\":\"Patient\"");
        for (var i = 0; i < depth; i++)
        {
            builder.Append(",\"extension\":[{\"url\":\"http://example.org/x\"");
        }

        for (var i = 0; i < depth; i++)
        {
            builder.Append("}]");
        }

        return builder.Append('}').ToString();
    }

    // ---- nesting depth, before the parser ----------------------------------------------------------------------

    [Theory]
    [InlineData(1_000)]
    [InlineData(10_000)]
    public async Task xml_nested_past_the_limit_is_a_400_naming_the_limit_and_the_server_lives(int depth)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", Xml(NestedExtensionsXml(depth)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("nested more than 100 levels", Diagnostics(body), StringComparison.Ordinal);
        Assert.Contains("CareHub:Fhir:MaxNestingDepth", Diagnostics(body), StringComparison.Ordinal);
        await AssertStillAnswersAsync();
    }

    [Fact]
    public async Task json_nested_past_the_limit_is_a_400_naming_the_limit_and_where()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json(NestedExtensionsJson(10_000)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("nested more than 100 levels", Diagnostics(body), StringComparison.Ordinal);
        Assert.StartsWith("extension[0].extension[0]", Expressions(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task xml_nested_within_the_limit_is_parsed_as_usual()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", Xml(NestedExtensionsXml(3).Replace("<extension url=\"http://example.org/x\"></extension>", "<extension url=\"http://example.org/x\"><valueString value=\"deep\"/></extension>", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task a_caller_who_may_not_write_the_type_is_refused_before_the_body_is_read()
    {
        // "reader" may only read and search Patients: it gets its 403 whatever it sends, and the body is never parsed.
        using var reader = new HttpClient();
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("reader", "reader-secret"));
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\": not JSON at all"), reader);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("scopes do not allow create on Patient", Diagnostics(body), StringComparison.Ordinal);
    }

    // ---- bodies that were 500s or stored damaged ------------------------------------------------------------

    [Fact]
    public async Task a_bare_json_array_is_a_400_saying_a_resource_is_an_object()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("[{\"resourceType\":\"Patient\"}]"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not a JSON array", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_lone_surrogate_escape_is_a_400_naming_the_element()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\\ud800b\"}]}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("unpaired surrogate", Diagnostics(body), StringComparison.Ordinal);
        Assert.Equal("name[0].family", Expressions(body));
    }

    [Theory]
    [InlineData("\\u0000")]
    [InlineData("\\u001b")]
    public async Task a_control_character_in_a_string_is_a_400_naming_the_element(string escape)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json($"{{\"resourceType\":\"Patient\",\"name\":[{{\"family\":\"a{escape}b\"}}]}}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("control character", Diagnostics(body), StringComparison.Ordinal);
        Assert.Equal("name[0].family", Expressions(body));
    }

    [Fact]
    public async Task a_control_character_in_a_json_patch_is_a_400_and_the_record_is_unchanged()
    {
        var (created, patient) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\":\"Patient\",\"gender\":\"female\"}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = patient.GetProperty("id").GetString();
        using var patch = new StringContent("[{\"op\":\"add\",\"path\":\"/name\",\"value\":[{\"family\":\"a\\u0000b\"}]}]", Encoding.UTF8, "application/json-patch+json");
        var (response, body) = await SendAsync(HttpMethod.Patch, $"/Patient/{id}", patch);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("control character", Diagnostics(body), StringComparison.Ordinal);
        var (_, read) = await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        Assert.False(read.TryGetProperty("name", out _));
    }

    [Fact]
    public async Task tabs_and_line_breaks_in_a_string_are_kept()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"a\\tb\\r\\nc\"}]}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("a\tb\r\nc", body.GetProperty("name")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task a_control_character_in_xml_is_a_400()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", Xml("<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"a&#0;b\"/></name></Patient>"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not well-formed XML", Diagnostics(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<Patient xmlns=\"http://hl7.org/fhir\"><gender valuE=\"male\"/></Patient>", "attribute 'valuE' is not FHIR")]
    [InlineData("<Patient xmlns=\"http://hl7.org/fhir\"><gender xmlns=\"http://example.org\" value=\"male\"/></Patient>", "namespace 'http://example.org'")]
    public async Task xml_the_parser_cannot_read_is_a_400_not_a_500(string xml, string expected)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", Xml(xml));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task xml_with_a_narrative_is_accepted()
    {
        var (response, _) = await SendAsync(HttpMethod.Post, "/Patient", Xml("<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">Jo <b>Bloggs</b></p></div></text><gender value=\"male\"/></Patient>"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task a_json_property_with_an_empty_name_is_a_400_not_a_500()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\":\"Patient\",\"name\":[{\"\":\"x\",\"family\":\"Bloggs\"}]}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("empty name", Diagnostics(body), StringComparison.Ordinal);
        Assert.Equal("name[0]", Expressions(body));
    }

    [Fact]
    public async Task invalid_utf8_is_a_400_not_a_stored_replacement_character()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Sm_th\"}]}");
        bytes[Array.IndexOf(bytes, (byte)'_')] = 0xFF;
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid UTF-8 (at byte offset 47)", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_huge_bad_value_is_quoted_as_a_short_excerpt()
    {
        var huge = new string('9', 3 * 1024 * 1024);
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json($"{{\"resourceType\":\"Patient\",\"birthDate\":\"{huge}\"}}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var diagnostics = Diagnostics(body);
        Assert.True(diagnostics.Length < 2_000, $"The outcome quotes {diagnostics.Length} characters.");
        Assert.Contains("\u2026", diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_huge_bad_search_value_is_quoted_as_a_short_excerpt()
    {
        var huge = new string('x', 1024 * 1024);
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/_search", new FormUrlEncodedContent([new("birthdate", huge)]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var diagnostics = Diagnostics(body);
        Assert.True(diagnostics.Length < 2_000, $"The outcome quotes {diagnostics.Length} characters.");
        Assert.Contains("is not a FHIR date", diagnostics, StringComparison.Ordinal);
    }

    // ---- tokens ------------------------------------------------------------------------------------------------

    [Fact]
    public async Task a_five_part_jwe_shaped_token_is_a_401_saying_encrypted_tokens_are_not_accepted()
    {
        using var client = new HttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.x.y.z.w");
        var (response, body) = await SendAsync(HttpMethod.Get, "/Patient", client: client);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Encrypted access tokens (JWE) are not accepted", Diagnostics(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a.b.c.d.e")]
    [InlineData("....")]
    [InlineData("e30.e30.e30.e30.e30")]
    public async Task any_five_part_token_is_a_401(string token)
    {
        using var client = new HttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var (response, _) = await SendAsync(HttpMethod.Get, "/Patient", client: client);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    // ---- search limits -----------------------------------------------------------------------------------------

    [Fact]
    public async Task post_search_with_500_identifier_values_is_a_400_naming_the_limit()
    {
        var values = string.Join(",", Enumerable.Range(0, 500).Select(i => $"https://fhir.nhs.uk/Id/nhs-number|{i:D10}"));
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/_search", new FormUrlEncodedContent([new("identifier", values)]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("500 values", Diagnostics(body), StringComparison.Ordinal);
        Assert.Contains("CareHub:Search:MaxOrValues", Diagnostics(body), StringComparison.Ordinal);
        Assert.Equal("identifier", Expressions(body));
    }

    [Fact]
    public async Task post_search_with_500_identifier_parameters_is_a_400_naming_the_limit()
    {
        var parameters = Enumerable.Range(0, 500).Select(i => new KeyValuePair<string, string>("identifier", $"https://fhir.nhs.uk/Id/nhs-number|{i:D10}"));
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/_search", new FormUrlEncodedContent(parameters));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("CareHub:Search:MaxParameters", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task has_nested_50_deep_is_a_400_naming_the_limit()
    {
        var name = string.Concat(Enumerable.Repeat("_has:Patient:link:", 50)) + "gender";
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/_search", new FormUrlEncodedContent([new(name, "female")]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("nests _has 50 deep", Diagnostics(body), StringComparison.Ordinal);
        Assert.Contains("CareHub:Search:MaxHasDepth", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_chain_30_deep_is_a_400_naming_the_limit()
    {
        var name = "general-practitioner:Organization" + string.Concat(Enumerable.Repeat(".partof", 29)) + ".name";
        var (response, body) = await SendAsync(HttpMethod.Get, $"/Patient?{Uri.EscapeDataString(name)}=x");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("chains 30 links", Diagnostics(body), StringComparison.Ordinal);
        Assert.Contains("CareHub:Search:MaxChainDepth", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task searches_within_the_limits_run()
    {
        var values = string.Join(",", Enumerable.Range(0, 100).Select(i => $"https://fhir.nhs.uk/Id/nhs-number|{i:D10}"));
        var chain = "general-practitioner:Organization.partof.partof.partof.name";
        var has = string.Concat(Enumerable.Repeat("_has:Patient:link:", 4)) + "gender";
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/_search", new FormUrlEncodedContent([new("identifier", values), new(chain, "x"), new(has, "female")]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, body.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task conditional_create_criteria_past_the_limits_are_a_400()
    {
        var values = string.Join(",", Enumerable.Range(0, 101).Select(i => $"{i:D10}"));
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", ServerFixture.Json("{\"resourceType\":\"Patient\",\"gender\":\"male\"}"),
            configure: r => r.Headers.Add("If-None-Exist", $"identifier={values}"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("CareHub:Search:MaxOrValues", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_search_in_a_transaction_past_the_limits_is_a_400()
    {
        var chain = "general-practitioner:Organization" + string.Concat(Enumerable.Repeat(".partof", 9)) + ".name";
        var bundle = $$$"""{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient?{{{chain}}}=x"}}]}""";
        var (response, body) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(bundle));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("CareHub:Search:MaxChainDepth", Diagnostics(body), StringComparison.Ordinal);
    }

    // ---- transaction rules (R4 http.html#transaction) ----------------------------------------------------------

    [Fact]
    public async Task a_transaction_with_a_duplicate_full_url_is_a_400_naming_both_entries()
    {
        const string bundle = """
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","gender":"male"},"request":{"method":"POST","url":"Patient"}},
              {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","gender":"female"},"request":{"method":"POST","url":"Patient"}}]}
            """;
        var (response, body) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(bundle));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Bundle.entry[0] and Bundle.entry[1] have the same fullUrl", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_transaction_that_puts_one_resource_twice_is_a_400_naming_both_entries_and_writes_nothing()
    {
        var id = "twice-" + Guid.NewGuid().ToString("N")[..8];
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Patient","id":"{{{id}}}","gender":"male"},"request":{"method":"PUT","url":"Patient/{{{id}}}"}},
              {"resource":{"resourceType":"Patient","id":"{{{id}}}","gender":"female"},"request":{"method":"PUT","url":"Patient/{{{id}}}"}}]}
            """;
        var (response, body) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(bundle));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Bundle.entry[0] and Bundle.entry[1] both change Patient/" + id, Diagnostics(body), StringComparison.Ordinal);
        var (read, _) = await SendAsync(HttpMethod.Get, $"/Patient/{id}");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    [Fact]
    public async Task a_transaction_that_deletes_and_updates_one_resource_is_a_400()
    {
        var bundle = """
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"request":{"method":"DELETE","url":"Patient/del-and-put"}},
              {"resource":{"resourceType":"Patient","id":"del-and-put"},"request":{"method":"PUT","url":"Patient/del-and-put"}}]}
            """;
        var (response, body) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(bundle));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("both change Patient/del-and-put", Diagnostics(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_batch_may_still_read_and_write_one_resource_in_separate_entries()
    {
        var id = "batch-" + Guid.NewGuid().ToString("N")[..8];
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[
              {"resource":{"resourceType":"Patient","id":"{{{id}}}"},"request":{"method":"PUT","url":"Patient/{{{id}}}"}},
              {"request":{"method":"GET","url":"Patient/{{{id}}}"}}]}
            """;
        var (response, _) = await SendAsync(HttpMethod.Post, "", ServerFixture.Json(bundle));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

public sealed class BoundsOnSqliteTests(SqliteServerFixture server) : BoundsContract(server), IClassFixture<SqliteServerFixture>;

public sealed class BoundsOnPostgresTests(PostgresServerFixture server) : BoundsContract(server), IClassFixture<PostgresServerFixture>;
