using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CareHub.Identity;

namespace CareHub.Server.Tests.Identity;

/// <summary>The master person index's operations end to end over HTTP, on each store.</summary>
public abstract class MpiApiContract(ServerFixture server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private const string Pas = "https://example.org/pas";
    private const string Gp = "https://example.org/gp";

    /// <summary>A person no other test shares: random letters for the family name, a valid number of the synthetic range.</summary>
    private sealed record Someone(string Family, string Nhs, string BirthDate, string Postcode)
    {
        public static Someone New()
        {
            var family = new string(Enumerable.Range(0, 9).Select(_ => (char)('a' + Random.Shared.Next(26))).ToArray());
            string nhs;
            do
            {
                var stem = (999_000_000 + Random.Shared.Next(1_000_000)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var check = NhsNumber.CalculateChecksum(stem);
                nhs = check is >= 0 and <= 9 ? stem + check : string.Empty;
            }
            while (nhs.Length == 0);

            var birth = new DateOnly(1940, 1, 1).AddDays(Random.Shared.Next(25_000));
            var postcode = $"LS{Random.Shared.Next(1, 29)} {Random.Shared.Next(1, 9)}{(char)('A' + Random.Shared.Next(26))}{(char)('A' + Random.Shared.Next(26))}";
            return new Someone("Q" + family, nhs, birth.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), postcode);
        }

        public string Json(string? system = null, string? local = null, bool nhs = true, string? gender = "female", string? city = "Leeds", bool postcode = true)
        {
            var identifiers = new List<string>();
            if (nhs)
            {
                identifiers.Add($$"""{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{{Nhs}}"}""");
            }

            if (system is not null)
            {
                identifiers.Add($$"""{"system":"{{system}}","value":"{{local}}"}""");
            }

            // Without a postcode the street line goes too, so only the town is compared.
            var address = city is null ? "" : !postcode
                ? $$""","address":[{"city":"{{city}}"}]"""
                : $$""","address":[{"line":["1 {{Family}} Street"],"city":"{{city}}","postalCode":"{{Postcode}}"}]""";
            var sex = gender is null ? "" : $",\"gender\":\"{gender}\"";
            var ids = identifiers.Count == 0 ? "" : $"\"identifier\":[{string.Join(",", identifiers)}],";
            return $$"""{"resourceType":"Patient",{{ids}}"name":[{"family":"{{Family}}","given":["Jo"]}]{{sex}},"birthDate":"{{BirthDate}}"{{address}}}""";
        }
    }

    private async Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json = null, HttpClient? client = null)
    {
        if (server.Unavailable is { } why)
        {
            Assert.Skip(why);
        }

        using var request = new HttpRequestMessage(method, server.FhirUrl + path) { Content = json is null ? null : ServerFixture.Json(json) };
        var response = await (client ?? server.Client).SendAsync(request, None);
        var text = await response.Content.ReadAsStringAsync(None);
        var body = text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response, body);
    }

    private async Task<string> CreateAsync(string json)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", json);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("id").GetString()!;
    }

    private static string Diagnostics(JsonElement outcome) =>
        string.Join(" | ", outcome.GetProperty("issue").EnumerateArray().Select(i => i.TryGetProperty("diagnostics", out var d) ? d.GetString() : ""));

    private static string Pair(string name, string a, string b, string type = "valueReference") =>
        $$"""{"resourceType":"Parameters","parameter":[{"name":"{{name}}","{{type}}":{{(type == "valueReference" ? $"{{\"reference\":\"Patient/{a}\"}}" : $"\"{a}\"")}}},{"name":"{{(name == "source-patient" ? "target-patient" : "target")}}","{{type}}":{{(type == "valueReference" ? $"{{\"reference\":\"Patient/{b}\"}}" : $"\"{b}\"")}}}]}""";

    private static List<string> Targets(JsonElement parameters) =>
        parameters.TryGetProperty("parameter", out var list)
            ? list.EnumerateArray().Where(p => p.GetProperty("name").GetString() == "targetId").Select(p => p.GetProperty("valueReference").GetProperty("reference").GetString()!).Order(StringComparer.Ordinal).ToList()
            : [];

    private static List<string> TargetIdentifiers(JsonElement parameters) =>
        parameters.TryGetProperty("parameter", out var list)
            ? list.EnumerateArray().Where(p => p.GetProperty("name").GetString() == "targetIdentifier")
                .Select(p => p.GetProperty("valueIdentifier").GetProperty("system").GetString() + "|" + p.GetProperty("valueIdentifier").GetProperty("value").GetString()).Order(StringComparer.Ordinal).ToList()
            : [];

    // ---- bad input -----------------------------------------------------------------------------------------------

    [Fact]
    public async Task a_patient_with_a_bad_nhs_number_or_an_impossible_birth_date_is_422_and_nothing_is_stored()
    {
        var someone = Someone.New();
        var bad = someone with { Nhs = someone.Nhs[..9] + (char)('0' + ((someone.Nhs[9] - '0' + 1) % 10)) };
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient", bad.Json(Pas, "bad-1"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("not a valid NHS Number", Diagnostics(body), StringComparison.Ordinal);
        Assert.Equal("Patient.identifier[0].value", body.GetProperty("issue")[0].GetProperty("expression")[0].GetString());

        (response, body) = await SendAsync(HttpMethod.Post, "/Patient", (someone with { BirthDate = "2999-01-01" }).Json(Pas, "bad-1"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("birthDate is in the future", Diagnostics(body), StringComparison.Ordinal);

        // Not a calendar date: the FHIR parser refuses it before the MPI sees it.
        (response, body) = await SendAsync(HttpMethod.Post, "/Patient", (someone with { BirthDate = "1980-02-30" }).Json(Pas, "bad-1"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());

        var (search, found) = await SendAsync(HttpMethod.Get, $"/Patient?identifier={Uri.EscapeDataString(Pas + "|bad-1")}");
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.False(found.TryGetProperty("entry", out _));
    }

    // ---- $match ----------------------------------------------------------------------------------------------------

    [Fact]
    public async Task match_answers_a_searchset_best_first_with_scores_and_match_grades()
    {
        var someone = Someone.New();
        var certain = await CreateAsync(someone.Json(Pas, "m-" + someone.Family));
        var probe = someone.Json(nhs: false);

        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$match", $$"""{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{{probe}}}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("searchset", body.GetProperty("type").GetString());
        var first = body.GetProperty("entry")[0];
        Assert.EndsWith("/Patient/" + certain, first.GetProperty("fullUrl").GetString(), StringComparison.Ordinal);
        var search = first.GetProperty("search");
        Assert.Equal("match", search.GetProperty("mode").GetString());
        Assert.InRange(search.GetProperty("score").GetDecimal(), 0.9m, 1m);
        var grade = search.GetProperty("extension").EnumerateArray().Single(e => e.GetProperty("url").GetString() == MpiCodes.MatchGrade);
        Assert.Equal("certain", grade.GetProperty("valueCode").GetString());

        // Without sex and town the same name and birth date is only probable: onlyCertainMatches leaves it out.
        var weaker = someone.Json(nhs: false, gender: null, city: null);
        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$match",
            $$"""{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{{weaker}}},{"name":"count","valueInteger":1}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("probable", body.GetProperty("entry")[0].GetProperty("search").GetProperty("extension")[0].GetProperty("valueCode").GetString());
        Assert.Equal(1, body.GetProperty("entry").GetArrayLength());
        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$match",
            $$"""{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{{weaker}}},{"name":"onlyCertainMatches","valueBoolean":true}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(body.TryGetProperty("entry", out _));
    }

    [Fact]
    public async Task match_without_a_patient_is_400_saying_so()
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$match", """{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("'resource'", Diagnostics(body), StringComparison.Ordinal);

        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$match", """{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Observation", Diagnostics(body), StringComparison.Ordinal);

        (response, _) = await SendAsync(HttpMethod.Post, "/Patient/$match", Someone.New().Json());
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    // ---- $ihe-pix --------------------------------------------------------------------------------------------------

    [Fact]
    public async Task ihe_pix_cross_references_the_identifiers_and_records_of_one_person()
    {
        var someone = Someone.New();
        var local = "pix-" + someone.Family;
        await CreateAsync(someone.Json(Pas, local));
        var gp = await CreateAsync(someone.Json(Gp, local + "-gp", postcode: false));

        var (response, body) = await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|" + local)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Parameters", body.GetProperty("resourceType").GetString());
        Assert.Equal(["Patient/" + gp], Targets(body));
        Assert.Equal([Gp + "|" + local + "-gp", NhsNumber.IdentifierSystem + "|" + someone.Nhs], TargetIdentifiers(body));

        (response, body) = await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|" + local)}&targetSystem={Uri.EscapeDataString(Gp)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([Gp + "|" + local + "-gp"], TargetIdentifiers(body));

        (response, body) = await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|no-such-" + local)}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());

        (response, _) = await SendAsync(HttpMethod.Get, "/Patient/$ihe-pix?sourceIdentifier=only-a-value");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    // ---- link, unlink, merge ---------------------------------------------------------------------------------------

    [Fact]
    public async Task link_and_unlink_through_the_api_and_a_record_cannot_be_linked_to_itself()
    {
        var one = Someone.New();
        var two = Someone.New();
        var a = await CreateAsync(one.Json(Pas, "l-" + one.Family));
        var b = await CreateAsync(two.Json(Pas, "l-" + two.Family));

        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-link", Pair("source", a, b));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Person", body.GetProperty("resourceType").GetString());
        Assert.Equal(["Patient/" + b], Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|l-" + one.Family)}")).Body));

        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-unlink", Pair("source", a, b));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, body.GetProperty("link").GetArrayLength());
        Assert.Empty(Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|l-" + one.Family)}")).Body));

        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-link", Pair("source", a, a));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("itself", Diagnostics(body), StringComparison.Ordinal);

        (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-unlink", Pair("source", a, b));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("not linked", Diagnostics(body), StringComparison.Ordinal);

        (response, _) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-link", """{"resourceType":"Parameters","parameter":[{"name":"source","valueString":"Patient/x"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task a_client_that_may_only_read_patients_cannot_link_or_merge()
    {
        var someone = Someone.New();
        var a = await CreateAsync(someone.Json(Pas, "r-" + someone.Family));
        var b = await CreateAsync(Someone.New().Json());
        using var reader = new HttpClient();
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("reader", "reader-secret"));

        var (response, _) = await SendAsync(HttpMethod.Post, "/Patient/$mpi-link", Pair("source", a, b), reader);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        (response, _) = await SendAsync(HttpMethod.Post, "/Patient/$merge", Pair("source-patient", a, b), reader);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|r-" + someone.Family)}")).Body));
    }

    [Fact]
    public async Task merge_marks_replaced_by_and_replaces_and_refuses_self_and_already_merged_records()
    {
        var old = Someone.New();
        var survivor = Someone.New();
        var third = Someone.New();
        var source = await CreateAsync(old.Json(Pas, "s-" + old.Family));
        var target = await CreateAsync(survivor.Json(Pas, "t-" + survivor.Family));
        var other = await CreateAsync(third.Json());

        var (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$merge", Pair("source-patient", source, target));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = body.GetProperty("parameter").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "result").GetProperty("resource");
        Assert.Contains(result.GetProperty("link").EnumerateArray(), l => l.GetProperty("type").GetString() == "replaces" && l.GetProperty("other").GetProperty("reference").GetString() == "Patient/" + source);

        var (read, merged) = await SendAsync(HttpMethod.Get, "/Patient/" + source);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.False(merged.GetProperty("active").GetBoolean());
        Assert.Contains(merged.GetProperty("link").EnumerateArray(), l => l.GetProperty("type").GetString() == "replaced-by" && l.GetProperty("other").GetProperty("reference").GetString() == "Patient/" + target);
        Assert.Equal(["Patient/" + source], Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|t-" + survivor.Family)}")).Body));

        var version = merged.GetProperty("meta").GetProperty("versionId").GetString();
        foreach (var (from, into, why) in new[] { (other, other, "itself"), (source, other, "already merged"), (other, source, "merged into another") })
        {
            (response, body) = await SendAsync(HttpMethod.Post, "/Patient/$merge", Pair("source-patient", from, into));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            Assert.Contains(why, Diagnostics(body), StringComparison.Ordinal);
        }

        (read, merged) = await SendAsync(HttpMethod.Get, "/Patient/" + source);
        Assert.Equal(version, merged.GetProperty("meta").GetProperty("versionId").GetString());
    }

    // ---- $everything across linked records ---------------------------------------------------------------------------

    private async Task<string> ObservationAsync(string patientId)
    {
        var (response, body) = await SendAsync(HttpMethod.Post, "/Observation",
            $$$"""{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/{{{patientId}}}"}}""");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return "Observation/" + body.GetProperty("id").GetString();
    }

    private async Task<List<string>> EverythingAsync(string path)
    {
        var found = new List<string>();
        string? next = path;
        while (next is not null)
        {
            var (response, body) = await SendAsync(HttpMethod.Get, next);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (body.TryGetProperty("entry", out var entries))
            {
                found.AddRange(entries.EnumerateArray().Select(e => e.GetProperty("resource")).Select(r => r.GetProperty("resourceType").GetString() + "/" + r.GetProperty("id").GetString()));
            }

            var link = body.GetProperty("link").EnumerateArray().FirstOrDefault(l => l.GetProperty("relation").GetString() == "next");
            next = link.ValueKind == JsonValueKind.Undefined ? null : link.GetProperty("url").GetString()![server.FhirUrl.Length..];
        }

        return found;
    }

    [Fact]
    public async Task everything_includes_the_linked_records_compartments_only_when_asked_for_the_person()
    {
        var someone = Someone.New();
        var a = await CreateAsync(someone.Json(Pas, "pas-" + someone.Family));
        var b = await CreateAsync(someone.Json(Gp, "gp-" + someone.Family));
        var c = await CreateAsync(Someone.New().Json(Pas, "other"));
        var ofA = await ObservationAsync(a);
        var ofB = await ObservationAsync(b);
        var ofC = await ObservationAsync(c);

        // Off by default: the record's compartment, not the person's. (The MPI Person is in the record's compartment, and
        // $everything adds what it refers to, so the other Patient resource itself comes along, but nothing of its own.)
        var record = await EverythingAsync($"/Patient/{a}/$everything");
        Assert.Contains("Patient/" + a, record);
        Assert.Contains(ofA, record);
        Assert.DoesNotContain(ofB, record);

        // One resource a page, so the paging links must carry the parameter for the later pages to stay the person's.
        var person = await EverythingAsync($"/Patient/{a}/$everything?{MpiCodes.EverythingParam}=true&_count=1");
        Assert.Equal(new[] { "Patient/" + a, "Patient/" + b, ofA, ofB }.Order(StringComparer.Ordinal),
            person.Where(r => !r.StartsWith("Person/", StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal));
        Assert.DoesNotContain(ofC, person);
        Assert.DoesNotContain("Patient/" + c, person);

        var (response, body) = await SendAsync(HttpMethod.Get, $"/Patient/{a}/$everything?{MpiCodes.EverythingParam}=yes");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(MpiCodes.EverythingParam, Diagnostics(body), StringComparison.Ordinal);
    }

    // ---- the review queue ------------------------------------------------------------------------------------------

    [Fact]
    public async Task the_review_queue_lists_uncertain_pairs_with_scores_and_fields_and_accept_or_reject_decides_them()
    {
        var someone = Someone.New();
        var twin = Someone.New();
        var a = await CreateAsync(someone.Json(Pas, "q-" + someone.Family, nhs: false));
        var b = await CreateAsync(someone.Json(nhs: false, gender: null, city: "York", postcode: false));
        var c = await CreateAsync(twin.Json(Pas, "q-" + twin.Family, nhs: false));
        var d = await CreateAsync(twin.Json(nhs: false, gender: null, city: "York", postcode: false));

        var (response, body) = await SendAsync(HttpMethod.Get, "/Task/$mpi-reviews?_count=500");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement Review(string x, string y) => body.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Single(t => new[] { t.GetProperty("focus").GetProperty("reference").GetString(), t.GetProperty("for").GetProperty("reference").GetString() }.Order(StringComparer.Ordinal)
                .SequenceEqual(new[] { "Patient/" + x, "Patient/" + y }.Order(StringComparer.Ordinal)));
        var first = Review(a, b);
        var second = Review(c, d);
        Assert.Equal("requested", first.GetProperty("status").GetString());
        var inputs = first.GetProperty("input").EnumerateArray().Select(i => i.GetProperty("type").GetProperty("coding")[0].GetProperty("code").GetString()).ToList();
        Assert.Contains(ReviewTasks.InputWeight, inputs);
        Assert.Contains(ReviewTasks.InputAgrees, inputs);
        Assert.Contains(ReviewTasks.InputDiffers, inputs);

        (response, body) = await SendAsync(HttpMethod.Post, $"/Task/{first.GetProperty("id").GetString()}/$mpi-accept");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(["Patient/" + b], Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|q-" + someone.Family)}")).Body));

        (response, body) = await SendAsync(HttpMethod.Post, $"/Task/{second.GetProperty("id").GetString()}/$mpi-reject");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("rejected", body.GetProperty("status").GetString());
        Assert.Empty(Targets((await SendAsync(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString(Pas + "|q-" + twin.Family)}")).Body));

        (response, body) = await SendAsync(HttpMethod.Post, $"/Task/{second.GetProperty("id").GetString()}/$mpi-accept");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("already decided", Diagnostics(body), StringComparison.Ordinal);
        (response, _) = await SendAsync(HttpMethod.Post, "/Task/no-such-task/$mpi-accept");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task the_status_says_how_writes_are_matched()
    {
        var (response, body) = await SendAsync(HttpMethod.Get, "/Patient/$mpi-status");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var parameters = body.GetProperty("parameter").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p);
        Assert.True(parameters["enabled"].GetProperty("valueBoolean").GetBoolean());
        Assert.Equal("inline", parameters["matching"].GetProperty("valueCode").GetString());
        Assert.False(parameters.ContainsKey("pending"));
    }
}

public sealed class MpiApiOnSqliteTests(SqliteServerFixture server) : MpiApiContract(server), IClassFixture<SqliteServerFixture>;

public sealed class MpiApiOnPostgresTests(PostgresServerFixture server) : MpiApiContract(server), IClassFixture<PostgresServerFixture>;
