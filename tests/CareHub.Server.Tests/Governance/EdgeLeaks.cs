using System.Net;

namespace CareHub.Server.Tests.Governance;

/// <summary>
/// The edges of the policy: conditional interactions, bundles, conditional references, chains and <c>_has</c> are
/// evaluated over what the caller may see, so a record the caller may not see and one that does not exist give the same
/// answer. The hidden patient is registered at the other practice (A81002), which gp.smith has no relationship with.
/// </summary>
public abstract class EdgeLeaks(GovernanceServer server)
{
    private const string NhsSystem = "https://fhir.nhs.uk/Id/nhs-number";
    private const string Psy = PatientRecord.ActCode + "|PSY";

    private PatientRecord Hidden => server.Patients[PatientKind.OtherPractice];

    private PatientRecord Own => server.Patients[PatientKind.RegisteredOnly];

    private static string OwnPatientJson(string family) =>
        $$$"""{"resourceType":"Patient","name":[{"family":"{{{family}}}","given":["Edge"]}],"gender":"unknown","generalPractitioner":[{"reference":"Organization/A81001"}]}""";

    private static string HiddenFamily(PatientRecord patient) =>
        patient.Patient.GetProperty("name")[0].GetProperty("family").GetString()!;

    /// <summary>A valid NHS Number (Modulus 11) that no loaded patient has.</summary>
    private string UnusedNhsNumber()
    {
        var used = server.Records.Values.Select(r => r.NhsNumber).ToHashSet(StringComparer.Ordinal);
        for (var n = 999_123_400; ; n++)
        {
            var nine = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var sum = nine.Select((c, i) => (c - '0') * (10 - i)).Sum();
            var check = 11 - (sum % 11);
            if (check == 10)
            {
                continue;
            }

            var number = nine + (check == 11 ? 0 : check).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!used.Contains(number))
            {
                return number;
            }
        }
    }

    private static int Total(Reply reply) => reply.Body.GetProperty("total").GetInt32();

    /// <summary>The diagnostics without the request id, which differs from request to request.</summary>
    private static string Said(Reply reply) => System.Text.RegularExpressions.Regex.Replace(reply.Diagnostics, @"request id \S+", "request id X");

    private static Dictionary<string, string> Header(string name, string value) => new(StringComparer.Ordinal) { [name] = value };

    [Fact]
    public async Task a_clinical_task_about_a_patient_is_governed_as_that_patients_record_is()
    {
        // Task is outside the R4 Patient compartment, but a clinical Task names its patient (Task.for): the relationship,
        // consent and citizen rules follow that patient.
        server.EnsureAvailable();
        static string TaskFor(string patient) =>
            $$$"""{"resourceType":"Task","status":"requested","intent":"order","code":{"text":"Review medication"},"for":{"reference":"{{{patient}}}"}}""";
        var hiddenTask = Json.Id((await server.PostAsync("system", "/Task", TaskFor(Hidden.Reference))).Body);
        var ownTask = Json.Id((await server.PostAsync("system", "/Task", TaskFor(Own.Reference))).Body);
        var citizensTask = Json.Id((await server.PostAsync("system", "/Task", TaskFor(server.Citizen.Reference))).Body);
        var all = $"/Task?_id={hiddenTask},{ownTask},{citizensTask}";

        Assert.Equal(HttpStatusCode.OK, (await server.GetAsync("gp.smith", "/Task/" + ownTask)).Status);
        var refused = await server.GetAsync("gp.smith", "/Task/" + hiddenTask);
        Assert.NotEqual(HttpStatusCode.OK, refused.Status);
        Assert.DoesNotContain(Hidden.Id, refused.Body.GetRawText(), StringComparison.Ordinal);
        var found = (await server.GetAsync("gp.smith", all)).Body.GetProperty("entry").EnumerateArray().Select(e => Json.Id(e.GetProperty("resource"))).ToList();
        Assert.Contains(ownTask, found);
        Assert.DoesNotContain(hiddenTask, found);

        Assert.Equal(HttpStatusCode.OK, (await server.GetAsync(TestUsers.Citizen, "/Task/" + citizensTask)).Status);
        Assert.NotEqual(HttpStatusCode.OK, (await server.GetAsync(TestUsers.Citizen, "/Task/" + hiddenTask)).Status);
        var citizenFound = await server.GetAsync(TestUsers.Citizen, all);
        Assert.Equal([citizensTask], citizenFound.Body.GetProperty("entry").EnumerateArray().Select(e => Json.Id(e.GetProperty("resource"))));
    }

    [Fact]
    public async Task a_conditional_create_does_not_answer_with_a_patient_the_caller_may_not_see()
    {
        server.EnsureAvailable();
        var hidden = await server.SendAsync("gp.smith", HttpMethod.Post, "/Patient", OwnPatientJson("EdgeHidden"), false, null,
            Header("If-None-Exist", $"identifier={NhsSystem}|{Hidden.NhsNumber}"));
        var absent = await server.SendAsync("gp.smith", HttpMethod.Post, "/Patient", OwnPatientJson("EdgeAbsent"), false, null,
            Header("If-None-Exist", $"identifier={NhsSystem}|{UnusedNhsNumber()}"));

        Assert.Equal(HttpStatusCode.Created, absent.Status);
        Assert.True(hidden.Status == absent.Status, $"hidden: {hidden}; absent: {absent}");
        Assert.NotEqual(Hidden.Id, Json.Id(hidden.Body));
        Assert.DoesNotContain(HiddenFamily(Hidden), hidden.Body.GetRawText(), StringComparison.Ordinal);
        await server.DeleteAsync("system", "/Patient/" + Json.Id(hidden.Body));
        await server.DeleteAsync("system", "/Patient/" + Json.Id(absent.Body));
    }

    [Fact]
    public async Task an_if_none_exist_on_a_hidden_patients_records_creates_as_for_an_unknown_patient()
    {
        server.EnsureAvailable();
        Assert.NotEmpty(Hidden.OfType("Condition"));
        var condition = $$$"""{"resourceType":"Condition","subject":{"reference":"{{{Own.Reference}}}"},"code":{"text":"edge case"}}""";
        var hidden = await server.SendAsync("gp.smith", HttpMethod.Post, "/Condition", condition, false, null, Header("If-None-Exist", "patient=" + Hidden.Reference));
        var absent = await server.SendAsync("gp.smith", HttpMethod.Post, "/Condition", condition, false, null, Header("If-None-Exist", "patient=Patient/" + Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.Created, absent.Status);
        Assert.True(hidden.Status == absent.Status, $"hidden: {hidden}; absent: {absent}");
        Assert.Equal(Own.Reference, Json.References(hidden.Body, "subject").Single());
        await server.DeleteAsync("system", "/Condition/" + Json.Id(hidden.Body));
        await server.DeleteAsync("system", "/Condition/" + Json.Id(absent.Body));
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("transaction")]
    public async Task if_none_exist_in_a_bundle_does_not_answer_with_a_hidden_patient(string type)
    {
        server.EnsureAvailable();
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"{{{type}}}","entry":[
              {"fullUrl":"urn:uuid:{{{Guid.NewGuid()}}}","resource":{{{OwnPatientJson("EdgeBundle")}}},
               "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier={{{NhsSystem}}}|{{{Hidden.NhsNumber}}}"}}]}
            """;
        var reply = await server.PostAsync("gp.smith", "", bundle);

        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        var entry = reply.Body.GetProperty("entry")[0];
        Assert.Equal("201 Created", entry.GetProperty("response").GetProperty("status").GetString());
        Assert.DoesNotContain(Hidden.Id, reply.Body.GetRawText(), StringComparison.Ordinal);
        var created = entry.GetProperty("response").GetProperty("location").GetString()!.Split('/')[1];
        await server.DeleteAsync("system", "/Patient/" + created);
    }

    [Fact]
    public async Task a_transactions_reads_are_decided_as_reads_outside_one()
    {
        server.EnsureAvailable();
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"request":{"method":"GET","url":"Patient/{{{Hidden.Id}}}"}}]}
            """;
        var read = await server.PostAsync("gp.smith", "", bundle);
        var direct = await server.GetAsync("gp.smith", "/Patient/" + Hidden.Id);

        Assert.NotEqual(HttpStatusCode.OK, direct.Status);
        Assert.True(read.Status == direct.Status, $"in a transaction: {read}; direct: {direct}");
        Assert.DoesNotContain(HiddenFamily(Hidden), read.Body.GetRawText(), StringComparison.Ordinal);

        var search = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"request":{"method":"GET","url":"Patient?identifier={{{NhsSystem}}}|{{{Hidden.NhsNumber}}}"}}]}
            """;
        var found = await server.PostAsync("gp.smith", "", search);
        Assert.True(found.Status == HttpStatusCode.OK, found.ToString());
        Assert.Equal(0, found.Body.GetProperty("entry")[0].GetProperty("resource").GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task a_conditional_reference_to_a_hidden_patient_answers_as_for_an_unknown_one()
    {
        server.EnsureAvailable();
        async Task<Reply> Refer(string criteria) => await server.PostAsync("gp.smith", "", $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:{{{Guid.NewGuid()}}}","resource":{"resourceType":"Observation","status":"final","code":{"text":"edge"},
                "subject":{"reference":"Patient?{{{criteria}}}"}},"request":{"method":"POST","url":"Observation"}}]}
            """);
        var unknown = Guid.NewGuid().ToString();
        var hidden = await Refer("_id=" + Hidden.Id);
        var absent = await Refer("_id=" + unknown);

        Assert.True(hidden.Status == absent.Status, $"hidden: {hidden}; absent: {absent}");
        Assert.Equal(Said(absent).Replace(unknown, "ID", StringComparison.Ordinal), Said(hidden).Replace(Hidden.Id, "ID", StringComparison.Ordinal));
    }

    [Fact]
    public async Task a_conditional_update_does_not_write_over_a_hidden_patient()
    {
        server.EnsureAvailable();
        var before = await server.GetAsync("system", "/Patient/" + Hidden.Id);
        var hidden = await server.SendAsync("gp.smith", HttpMethod.Put, $"/Patient?identifier={NhsSystem}|{Hidden.NhsNumber}", OwnPatientJson("EdgeUpdate"), false, null);
        var absent = await server.SendAsync("gp.smith", HttpMethod.Put, $"/Patient?identifier={NhsSystem}|{UnusedNhsNumber()}", OwnPatientJson("EdgeUpdate"), false, null);
        var after = await server.GetAsync("system", "/Patient/" + Hidden.Id);

        Assert.True(hidden.Status == absent.Status, $"hidden: {hidden}; absent: {absent}");
        Assert.Equal(before.Body.GetProperty("meta").GetProperty("versionId").GetString(), after.Body.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.NotEqual(Hidden.Id, Json.Id(hidden.Body));
        await server.DeleteAsync("system", "/Patient/" + Json.Id(hidden.Body));
        await server.DeleteAsync("system", "/Patient/" + Json.Id(absent.Body));
    }

    [Fact]
    public async Task a_conditional_delete_of_a_hidden_patients_records_deletes_nothing_and_says_so_as_for_an_unknown_patient()
    {
        server.EnsureAvailable();
        var count = $"/Condition?patient={Hidden.Reference}&_summary=count";
        var before = Total(await server.GetAsync("system", count));
        Assert.True(before > 0, "the hidden patient has no Condition, so nothing is tested");
        var hidden = await server.DeleteAsync("gp.smith", "/Condition?patient=" + Hidden.Reference);
        var absent = await server.DeleteAsync("gp.smith", "/Condition?patient=Patient/" + Guid.NewGuid());

        Assert.True(hidden.Status == absent.Status, $"hidden: {hidden}; absent: {absent}");
        Assert.Equal(before, Total(await server.GetAsync("system", count)));
    }

    [Fact]
    public async Task has_does_not_find_an_organisation_through_a_hidden_patient()
    {
        server.EnsureAvailable();
        string Query(string number) => $"/Organization?_has:Patient:general-practitioner:identifier={NhsSystem}|{number}&_summary=count";
        Assert.Equal(1, Total(await server.GetAsync("system", Query(Hidden.NhsNumber))));

        var hidden = await server.GetAsync("gp.smith", Query(Hidden.NhsNumber));
        var absent = await server.GetAsync("gp.smith", Query(UnusedNhsNumber()));
        Assert.True(hidden.Status == HttpStatusCode.OK && absent.Status == HttpStatusCode.OK, $"hidden: {hidden}; absent: {absent}");
        Assert.Equal(Total(absent), Total(hidden));
        Assert.Equal(0, Total(hidden));

        // Roles that may see no Patient at all are told so, whatever the number.
        foreach (var user in new[] { "ig.lead", "admin" })
        {
            var refused = await server.GetAsync(user, Query(Hidden.NhsNumber));
            var refusedAbsent = await server.GetAsync(user, Query(UnusedNhsNumber()));
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.Equal(Said(refusedAbsent), Said(refused));
        }

        var citizen = await server.GetAsync(TestUsers.Citizen, Query(Hidden.NhsNumber));
        Assert.True(citizen.Status != HttpStatusCode.OK || Total(citizen) == 0, citizen.ToString());
    }

    [Fact]
    public async Task has_and_chains_do_not_test_records_hidden_by_a_sensitivity_label()
    {
        server.EnsureAvailable();
        var patient = server.Patients[PatientKind.RecentHospital];
        var condition = await server.PostAsync("system", "/Condition", $$$"""
            {"resourceType":"Condition","meta":{"security":[{"system":"{{{PatientRecord.ActCode}}}","code":"PSY"}]},
             "subject":{"reference":"{{{patient.Reference}}}"},"code":{"text":"edge: mental health"}}
            """);
        Assert.True(condition.Status == HttpStatusCode.Created, condition.ToString());
        var conditionId = Json.Id(condition.Body);
        var encounter = await server.PostAsync("system", "/Encounter", $$$"""
            {"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
             "subject":{"reference":"{{{patient.Reference}}}"},"serviceProvider":{"reference":"Organization/RTH"},
             "period":{"start":"{{{DateTimeOffset.UtcNow.AddDays(-1):yyyy-MM-dd}}}"},"diagnosis":[{"condition":{"reference":"Condition/{{{conditionId}}}"}}]}
            """);
        Assert.True(encounter.Status == HttpStatusCode.Created, encounter.ToString());
        var encounterId = Json.Id(encounter.Body);
        try
        {
            var has = $"/Patient?_id={patient.Id}&_has:Condition:patient:_security={Psy}";
            Assert.Equal(1, Total(await server.GetAsync("system", has + "&_summary=count")));
            var seen = await server.GetAsync("dr.ahmed", has + "&_summary=count");
            Assert.True(seen.Status == HttpStatusCode.OK, seen.ToString());
            Assert.Equal(0, Total(seen));

            var chain = $"/Encounter?_id={encounterId}&diagnosis:Condition._security={Psy}&_summary=count";
            Assert.Equal(1, Total(await server.GetAsync("system", chain)));
            Assert.Equal(1, Total(await server.GetAsync("dr.ahmed", $"/Encounter?_id={encounterId}&_summary=count")));
            var chained = await server.GetAsync("dr.ahmed", chain);
            Assert.True(chained.Status == HttpStatusCode.OK, chained.ToString());
            Assert.Equal(0, Total(chained));

        }
        finally
        {
            await server.DeleteAsync("system", "/Encounter/" + encounterId);
            await server.DeleteAsync("system", "/Condition/" + conditionId);
        }
    }

    /// <summary>
    /// The <paramref name="nth"/> patient registered only at A81001 with no care at RTH, and an Encounter at RTH for them:
    /// written by dr.ahmed (RTH), it would give RTH the relationship it does not have.
    /// </summary>
    private (PatientRecord Patient, string Encounter) RelationshipToClaim(int nth)
    {
        var chosen = server.Patients.Values.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var patient = server.Records.Values.Where(r => !chosen.Contains(r.Id) && !r.HasCareAt("RTH") && !r.OptedOut && r.Practices.SequenceEqual(["A81001"])).Skip(nth).First();
        var encounter = $$$"""
            {"resourceType":"Encounter","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
             "subject":{"reference":"{{{patient.Reference}}}"},"period":{"start":"{{{DateTimeOffset.UtcNow.AddHours(-1):yyyy-MM-ddTHH:mm:ssZ}}}"},
             "serviceProvider":{"reference":"Organization/RTH"}}
            """;
        return (patient, encounter);
    }

    [Fact]
    public async Task a_relationship_a_user_gives_themselves_needs_a_reason_and_is_listed_for_the_ig_officer()
    {
        server.EnsureAvailable();
        var (patient, encounter) = RelationshipToClaim(1);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id)).Status);

        var unexplained = await server.PostAsync("dr.ahmed", "/Encounter", encounter);
        Assert.True(unexplained.Status == HttpStatusCode.Forbidden, unexplained.ToString());
        Assert.Contains("X-Relationship-Reason", unexplained.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id)).Status);

        const string Reason = "Referred to the falls clinic by phone";
        var claimed = await server.SendAsync("dr.ahmed", HttpMethod.Post, "/Encounter", encounter, false, null, Header("X-Relationship-Reason", Reason));
        Assert.True(claimed.Status == HttpStatusCode.Created, claimed.ToString());
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id)).Status);
            var audit = Assert.Single(await server.AuditOfAsync(claimed.RequestId));
            Assert.Contains(AuditChecks.AuditSubtypes + "|self-claimed-relationship", Json.Codings(audit, "subtype"));
            Assert.Equal(Reason, audit.GetProperty("purposeOfEvent")[0].GetProperty("text").GetString());

            var listed = await server.GetAsync("ig.lead", $"/AuditEvent?subtype={AuditChecks.AuditSubtypes}|self-claimed-relationship&patient={patient.Reference}");
            Assert.True(listed.Status == HttpStatusCode.OK, listed.ToString());
            Assert.Contains(Json.Id(audit), GovernanceServer.Entries(listed.Body).Select(Json.Id));

            // A second record for the same patient is no longer a claim: the relationship is held.
            var second = await server.PostAsync("dr.ahmed", "/Encounter", encounter);
            Assert.True(second.Status == HttpStatusCode.Created, second.ToString());
            await server.DeleteAsync("system", "/Encounter/" + Json.Id(second.Body));
        }
        finally
        {
            await server.DeleteAsync("system", "/Encounter/" + Json.Id(claimed.Body));
        }
    }

    [Fact]
    public async Task a_refused_write_is_audited_once_with_the_rule_that_refused_it_and_the_patient_it_was_about()
    {
        server.EnsureAvailable();
        var (patient, encounter) = RelationshipToClaim(2);

        var unexplained = await server.PostAsync("dr.ahmed", "/Encounter", encounter);

        Assert.True(unexplained.Status == HttpStatusCode.Forbidden, unexplained.ToString());
        var audit = Assert.Single(await server.AuditOfAsync(unexplained.RequestId));
        Assert.Equal("4", audit.GetProperty("outcome").GetString());
        Assert.Contains(AuditChecks.DeniedSubtype, Json.Codings(audit, "subtype"));
        Assert.StartsWith("[self-claimed-relationship]", audit.GetProperty("outcomeDesc").GetString(), StringComparison.Ordinal);
        Assert.Contains(patient.Reference, AuditChecks.Entities(audit));
    }

    [Fact]
    public async Task a_refused_read_is_audited_once_where_it_is_refused_with_its_rule_and_patient()
    {
        server.EnsureAvailable();

        var read = await server.GetAsync("gp.smith", "/Patient/" + Hidden.Id);

        Assert.True(read.Status == HttpStatusCode.Forbidden, read.ToString());
        var audit = Assert.Single(await server.AuditOfAsync(read.RequestId));
        Assert.Equal("4", audit.GetProperty("outcome").GetString());
        Assert.StartsWith("[relationship]", audit.GetProperty("outcomeDesc").GetString(), StringComparison.Ordinal);
        Assert.Contains(Hidden.Reference, AuditChecks.Entities(audit));
    }

    [Fact]
    public async Task a_role_that_may_not_search_a_type_cannot_count_it_through_has()
    {
        server.EnsureAvailable();
        var direct = await server.GetAsync("sw.patel", "/Condition?_summary=count");
        var through = await server.GetAsync("sw.patel", "/Patient?_has:Condition:patient:code:missing=false&_summary=count");

        Assert.Equal(HttpStatusCode.Forbidden, direct.Status);
        Assert.True(through.Status == HttpStatusCode.Forbidden, through.ToString());
        Assert.Contains("Condition", through.Diagnostics, StringComparison.Ordinal);
    }
}
