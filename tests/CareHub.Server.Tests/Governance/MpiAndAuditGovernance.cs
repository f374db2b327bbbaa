using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Governance;

/// <summary>
/// The master person index's Person and review Tasks, and AuditEvents, show a principal only what it may see, on the
/// demo community with real tokens. H is the patient of another practice (A81002) that gp.smith may not see.
/// </summary>
public abstract class MpiAndAuditGovernance(GovernanceServer server)
{
    private const string NhsSystem = "https://fhir.nhs.uk/Id/nhs-number";
    private const string InventedFamily = "Inventedname";

    /// <summary>
    /// A patient of the other practice (A81002) whom gp.smith may not see; each test takes its own, since linking a record
    /// to one changes their Person.
    /// </summary>
    private async Task<PatientRecord> HiddenAsync(int which)
    {
        var hidden = server.Records.Values.Where(r => r.Practices.SequenceEqual(["A81002"])).OrderBy(r => r.Id, StringComparer.Ordinal).ElementAt(which);
        var read = await server.GetAsync("gp.smith", "/Patient/" + hidden.Id);
        Assert.True(read.Status != HttpStatusCode.OK, $"gp.smith may see {hidden.Reference}: {read}");
        return hidden;
    }

    /// <summary>
    /// gp.smith registers a Patient at their own practice with H's NHS Number and birth date, under an invented name: the
    /// matcher links it to H's Person at once. Answers the GP's Patient id and the Person's id.
    /// </summary>
    private async Task<(string Own, string Person)> LinkedToAsync(PatientRecord hidden)
    {
        var h = hidden.Patient;
        var gender = h.TryGetProperty("gender", out var g) ? $",\"gender\":\"{g.GetString()}\"" : "";
        var body = $$"""
            {"resourceType":"Patient","identifier":[{"system":"{{NhsSystem}}","value":"{{hidden.NhsNumber}}"}],
             "name":[{"family":"{{InventedFamily}}","given":["Ivy"]}]{{gender}},"birthDate":"{{h.GetProperty("birthDate").GetString()}}",
             "generalPractitioner":[{"reference":"Organization/A81001"}]}
            """;
        var created = await server.PostAsync("gp.smith", "/Patient", body);
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var own = Json.Id(created.Body);
        var persons = await server.GetAsync("system", $"/Person?link=Patient/{own}");
        var person = Assert.Single(GovernanceServer.Entries(persons.Body));
        // The precondition of the finding: the GP's record joined H's Person.
        Assert.Contains(hidden.Reference, Links(person));
        return (own, Json.Id(person));
    }

    private static List<string> Links(JsonElement person) =>
        person.TryGetProperty("link", out var links) ? links.EnumerateArray().Select(l => l.GetProperty("target").GetProperty("reference").GetString()!).ToList() : [];

    private static string Family(JsonElement person) => person.GetProperty("name")[0].GetProperty("family").GetString()!;

    private static void AssertNothingOf(Reply reply, params string[] hidden)
    {
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        var text = reply.Body.GetRawText();
        foreach (var value in hidden)
        {
            Assert.DoesNotContain(value, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task a_source_that_joins_a_person_later_does_not_overwrite_the_golden_record_and_the_established_source_still_updates_it()
    {
        server.EnsureAvailable();
        var hidden = await HiddenAsync(0);
        var (_, person) = await LinkedToAsync(hidden);
        var golden = await server.GetAsync("system", "/Person/" + person);
        Assert.Equal(Family(hidden.Patient), Family(golden.Body));

        // H's own practice updates H: the golden record follows its authoritative source.
        var updated = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(hidden.Patient.GetRawText())!;
        updated["telecom"] = JsonSerializer.SerializeToElement(new[] { new { system = "phone", value = "01632 960999" } });
        updated.Remove("meta");
        var put = await server.SendAsync("system", HttpMethod.Put, "/Patient/" + hidden.Id, JsonSerializer.Serialize(updated), false, null);
        Assert.True(put.Status == HttpStatusCode.OK, put.ToString());
        golden = await server.GetAsync("system", "/Person/" + person);
        Assert.Equal(Family(hidden.Patient), Family(golden.Body));
        Assert.Contains("01632 960999", golden.Body.GetProperty("telecom").GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_gp_sees_in_a_person_only_the_links_and_demographics_of_patients_they_may_see_on_every_path()
    {
        server.EnsureAvailable();
        var h = await HiddenAsync(1);
        var (own, person) = await LinkedToAsync(h);
        string[] hidden = [h.Id, Family(h.Patient)];

        var read = await server.GetAsync("gp.smith", "/Person/" + person);
        AssertNothingOf(read, hidden);
        Assert.Equal(["Patient/" + own], Links(read.Body));
        Assert.Equal(InventedFamily, Family(read.Body));
        // The link's match score and rule describe a comparison with the hidden record: a record alone has neither.
        Assert.DoesNotContain("mpi-link-score", read.Body.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("mpi-link-rule", read.Body.GetRawText(), StringComparison.Ordinal);

        var search = await server.GetAsync("gp.smith", $"/Person?link=Patient/{own}");
        AssertNothingOf(search, hidden);
        Assert.Equal(["Patient/" + own], Links(Assert.Single(GovernanceServer.Entries(search.Body))));

        var included = await server.GetAsync("gp.smith", $"/Patient?_id={own}&_revinclude=Person:link&_include:iterate=Person:link");
        AssertNothingOf(included, hidden);
        Assert.Single(GovernanceServer.Entries(included.Body, "include"));

        var history = await server.GetAsync("gp.smith", $"/Person/{person}/_history");
        AssertNothingOf(history, hidden);

        var everything = await server.GetAsync("gp.smith", $"/Patient/{own}/$everything");
        AssertNothingOf(everything, hidden);
        Assert.Single(GovernanceServer.Entries(everything.Body, null), r => Json.Type(r) == "Person");

        // Reads inside a transaction are decided and shaped as they are outside it.
        var transaction = await server.PostAsync("gp.smith", "", $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"request":{"method":"GET","url":"Person/{{{person}}}"}},
              {"request":{"method":"GET","url":"Person?link=Patient/{{{own}}}"}}]}
            """);
        AssertNothingOf(transaction, hidden);
        var hiddenRead = await server.PostAsync("gp.smith", "", $$$"""{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient/{{{h.Id}}}"}}]}""");
        Assert.True(hiddenRead.Status != HttpStatusCode.OK, hiddenRead.ToString());
        Assert.DoesNotContain(Family(h.Patient), hiddenRead.Body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_person_search_by_a_hidden_patients_link_answers_as_for_a_patient_that_does_not_exist()
    {
        server.EnsureAvailable();
        var hidden = await HiddenAsync(2);
        var (own, _) = await LinkedToAsync(hidden);
        var unknown = Guid.NewGuid().ToString();
        foreach (var parameter in new[] { "link", "patient", "link:Patient" })
        {
            var byHidden = await server.GetAsync("gp.smith", $"/Person?{parameter}=Patient/{hidden.Id}");
            var byUnknown = await server.GetAsync("gp.smith", $"/Person?{parameter}=Patient/{unknown}");
            Assert.True(byHidden.Status == byUnknown.Status, $"{byHidden} / {byUnknown}");
            Assert.Equal(Normalised(byUnknown.Body, unknown), Normalised(byHidden.Body, hidden.Id));
        }

        // The golden record's demographics may come from hidden sources: searching them is refused, saying why.
        var byName = await server.GetAsync("gp.smith", "/Person?name=" + Uri.EscapeDataString(Family(hidden.Patient)));
        Assert.True(byName.Status == HttpStatusCode.BadRequest, byName.ToString());
        Assert.Contains("link=Patient/", byName.Diagnostics, StringComparison.Ordinal);
        var byNumber = await server.GetAsync("gp.smith", $"/Person?identifier={NhsSystem}|{hidden.NhsNumber}");
        Assert.True(byNumber.Status == HttpStatusCode.BadRequest, byNumber.ToString());

        // Over several types the parameter leaves Person out; the other types still answer.
        var compartment = await server.GetAsync("gp.smith", $"/Patient/{own}/*?_content={InventedFamily}");
        Assert.True(compartment.Status == HttpStatusCode.OK, compartment.ToString());
        Assert.DoesNotContain(GovernanceServer.Entries(compartment.Body), r => Json.Type(r) == "Person");
    }

    /// <summary>A searchset without what differs by nature between two requests: its id, time and the id searched for.</summary>
    private static string Normalised(JsonElement bundle, string searched)
    {
        var copy = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(bundle.GetRawText())!;
        copy.Remove("id");
        copy.Remove("meta");
        return JsonSerializer.Serialize(copy).Replace(searched, "SEARCHED", StringComparison.Ordinal);
    }

    [Fact]
    public async Task mpi_review_tasks_are_for_mpi_reviewers_in_a_task_search_and_in_the_review_queue_alike()
    {
        server.EnsureAvailable();
        // Two records of one person that agree on too little to link: the matcher queues the pair for review.
        var family = "Q" + Guid.NewGuid().ToString("N")[..9];
        var first = await server.PostAsync("system", "/Patient", $$"""{"resourceType":"Patient","identifier":[{"system":"https://example.org/pas","value":"{{family}}"}],"name":[{"family":"{{family}}","given":["Jo"]}],"gender":"female","birthDate":"1961-04-12","address":[{"line":["1 {{family}} Street"],"city":"Leeds","postalCode":"LS1 1AA"}]}""");
        var second = await server.PostAsync("system", "/Patient", $$"""{"resourceType":"Patient","name":[{"family":"{{family}}","given":["Jo"]}],"birthDate":"1961-04-12","address":[{"city":"York"}]}""");
        Assert.True(first.Status == HttpStatusCode.Created && second.Status == HttpStatusCode.Created, $"{first} / {second}");
        var pair = new[] { Json.Id(first.Body), Json.Id(second.Body) };

        var queue = await server.GetAsync("admin", "/Task/$mpi-reviews?_count=500");
        Assert.True(queue.Status == HttpStatusCode.OK, queue.ToString());
        var review = Assert.Single(GovernanceServer.Entries(queue.Body), t => pair.All(p => t.GetRawText().Contains(p, StringComparison.Ordinal)));
        var reviewId = Json.Id(review);
        var asTasks = await server.GetAsync("admin", "/Task?code=https://carehub.local/fhir/CodeSystem/mpi|review&status=requested&_count=1000");
        Assert.Equal(GovernanceServer.Entries(queue.Body).Select(Json.Id).Order(StringComparer.Ordinal), GovernanceServer.Entries(asTasks.Body).Select(Json.Id).Order(StringComparer.Ordinal));

        foreach (var clinician in new[] { "gp.smith", "dr.ahmed", "nurse.jones", "sw.patel" })
        {
            var tasks = await server.GetAsync(clinician, "/Task?_count=1000");
            Assert.True(tasks.Status is HttpStatusCode.OK or HttpStatusCode.Forbidden, tasks.ToString());
            Assert.DoesNotContain("CodeSystem/mpi", tasks.Body.GetRawText(), StringComparison.Ordinal);
            var one = await server.GetAsync(clinician, "/Task/" + reviewId);
            Assert.True(one.Status != HttpStatusCode.OK, one.ToString());
            Assert.DoesNotContain(pair[0], one.Body.GetRawText(), StringComparison.Ordinal);
            var theirQueue = await server.GetAsync(clinician, "/Task/$mpi-reviews");
            Assert.True(theirQueue.Status is HttpStatusCode.OK or HttpStatusCode.Forbidden, theirQueue.ToString());
            Assert.Empty(GovernanceServer.Entries(theirQueue.Body));
            var accept = await server.PostAsync(clinician, $"/Task/{reviewId}/$mpi-accept", "{}");
            Assert.True(accept.Status is HttpStatusCode.NotFound or HttpStatusCode.Forbidden, accept.ToString());
        }

        var decided = await server.PostAsync("admin", $"/Task/{reviewId}/$mpi-reject", "{}");
        Assert.True(decided.Status == HttpStatusCode.OK, decided.ToString());
        Assert.Equal("rejected", decided.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task a_citizen_sees_the_audit_events_about_their_record_without_other_patients_or_the_query()
    {
        server.EnsureAvailable();
        var citizen = server.Citizen;
        // A GP's search that matches the citizen and many other patients of the practice.
        var search = await server.GetAsync("gp.smith", "/Patient?_count=100&birthdate=le2100");
        Assert.True(search.Status == HttpStatusCode.OK, search.ToString());
        var matched = GovernanceServer.Entries(search.Body).Select(Json.Id).ToList();
        Assert.Contains(citizen.Id, matched);
        Assert.True(matched.Count > 2, $"The search matched {matched.Count} patients.");
        var asStored = Assert.Single(await server.AuditOfAsync(search.RequestId));
        Assert.Contains(AuditChecks.Entities(asStored), e => e.StartsWith("Patient/", StringComparison.Ordinal) && e != citizen.Reference);

        var log = await server.GetAsync(TestUsers.Citizen, $"/AuditEvent?patient={citizen.Reference}&_count=1000");
        Assert.True(log.Status == HttpStatusCode.OK, log.ToString());
        var theirs = Assert.Single(GovernanceServer.Entries(log.Body), a => AuditChecks.Policies(a).Contains(search.RequestId));
        Assert.Equal([citizen.Reference], AuditChecks.Entities(theirs).Distinct());
        Assert.All(matched.Where(m => m != citizen.Id), other => Assert.DoesNotContain(other, theirs.GetRawText(), StringComparison.Ordinal));
        Assert.DoesNotContain("\"query\"", theirs.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("birthdate", theirs.GetRawText(), StringComparison.Ordinal);
        // Who accessed the record is what the log is for.
        var requestor = theirs.GetProperty("agent").EnumerateArray().Single(a => a.GetProperty("requestor").GetBoolean());
        Assert.Equal("Practitioner/gp-smith", requestor.GetProperty("who").GetProperty("reference").GetString());

        var read = await server.GetAsync(TestUsers.Citizen, "/AuditEvent/" + Json.Id(theirs));
        Assert.True(read.Status == HttpStatusCode.OK, read.ToString());
        Assert.Equal([citizen.Reference], AuditChecks.Entities(read.Body).Distinct());

        // Events cannot be selected by what else they name; another patient finds what an unknown one finds.
        var other = matched.First(m => m != citizen.Id);
        var byEntity = await server.GetAsync(TestUsers.Citizen, $"/AuditEvent?patient={citizen.Reference}&entity=Patient/{other}");
        Assert.True(byEntity.Status == HttpStatusCode.BadRequest, byEntity.ToString());
        var byOther = await server.GetAsync(TestUsers.Citizen, $"/AuditEvent?patient={citizen.Reference},Patient/{other}");
        var unknown = Guid.NewGuid().ToString();
        var byUnknown = await server.GetAsync(TestUsers.Citizen, $"/AuditEvent?patient={citizen.Reference},Patient/{unknown}");
        Assert.Equal(Normalised(byUnknown.Body, unknown), Normalised(byOther.Body, other));
    }

    [Fact]
    public async Task the_administrator_role_may_administer_the_mpi_and_a_clinician_may_not()
    {
        server.EnsureAvailable();

        var administrator = await server.GetAsync("admin", "/Patient/$mpi-status");
        Assert.True(administrator.Status == HttpStatusCode.OK, administrator.ToString());

        var clinician = await server.GetAsync("gp.smith", "/Patient/$mpi-status");
        Assert.Equal(HttpStatusCode.Forbidden, clinician.Status);
        Assert.Equal("OperationOutcome", clinician.Body.GetProperty("resourceType").GetString());
    }
}

/// <summary>
/// Governance servers of their own (xunit makes one fixture per collection): these tests link a GP's record to a patient
/// of another practice and open review Tasks, which must not change what the policy matrix of the shared servers expects.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SqliteMpiGovernanceCollection : ICollectionFixture<SqliteGovernanceServer>
{
    public const string Name = "MPI and audit governance on SQLite";
}

[CollectionDefinition(Name)]
public sealed class PostgresMpiGovernanceCollection : ICollectionFixture<PostgresGovernanceServer>
{
    public const string Name = "MPI and audit governance on PostgreSQL";
}

[Collection(SqliteMpiGovernanceCollection.Name)]
public sealed class MpiAndAuditGovernanceOnSqliteTests(SqliteGovernanceServer server) : MpiAndAuditGovernance(server);

[Collection(PostgresMpiGovernanceCollection.Name)]
public sealed class MpiAndAuditGovernanceOnPostgresTests(PostgresGovernanceServer server) : MpiAndAuditGovernance(server);
