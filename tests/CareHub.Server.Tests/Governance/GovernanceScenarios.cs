using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Governance;

/// <summary>The governance cases the matrix does not reach: totals, includes, agreements coming into force, citizens' and the IG officer's audit views, break-glass edges.</summary>
public abstract class GovernanceScenarios(GovernanceServer server)
{
    private PatientRecord Kind(PatientKind kind) => server.Patients[kind];

    private static int Total(Reply reply) => reply.Body.GetProperty("total").GetInt32();

    [Theory]
    [InlineData("dr.ahmed", "Observation")]
    [InlineData("sw.patel", "Encounter")]
    [InlineData("nurse.jones", "Condition")]
    public async Task search_totals_count_only_the_records_the_caller_may_see(string user, string type)
    {
        server.EnsureAvailable();
        var first = await server.GetAsync(user, $"/{type}?_total=accurate&_count=40");
        Assert.True(first.Status == HttpStatusCode.OK, first.ToString());
        var entries = 0;
        await foreach (var entry in server.PagesAsync(user, $"/{type}?_total=accurate&_count=40"))
        {
            entries += GovernanceServer.Mode(entry) == "match" ? 1 : 0;
        }

        var counted = await server.GetAsync(user, $"/{type}?_summary=count");
        var everyone = await server.GetAsync("system", $"/{type}?_summary=count");
        Assert.True(entries > 0, $"{user} sees no {type} at all, so the totals prove nothing.");
        Assert.True(entries < Total(everyone), $"{user} sees all {Total(everyone)} {type} records: nothing was filtered.");
        Assert.Equal(entries, Total(first));
        Assert.Equal(entries, Total(counted));
    }

    [Fact]
    public async Task an_include_adds_only_patients_the_social_worker_may_see()
    {
        server.EnsureAvailable();
        var actor = TestUsers.Actor("sw.patel");
        var now = DateTimeOffset.UtcNow;
        var reply = await server.GetAsync(actor.Name, "/Encounter?_include=Encounter:subject&_count=1000");
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        Assert.Null(GovernanceServer.Link(reply.Body, "next"));

        var matches = GovernanceServer.Entries(reply.Body).ToList();
        var included = GovernanceServer.Entries(reply.Body, "include").ToList();
        Assert.NotEmpty(matches);
        Assert.NotEmpty(included);
        foreach (var encounter in matches)
        {
            var record = server.Records[Json.References(encounter, "subject").Single()["Patient/".Length..]];
            Assert.True(PolicyOracle.Refusal(actor, Verb.Search, encounter, record, false, now) is null, $"sw.patel found {Json.Key(encounter)}, which the policy hides from them.");
        }

        foreach (var patient in included)
        {
            Assert.Equal("Patient", Json.Type(patient));
            Assert.True(PolicyOracle.Refusal(actor, Verb.Read, patient, server.Records[Json.Id(patient)], false, now) is null,
                $"_include added {Json.Key(patient)}, which sw.patel may not read.");
        }

        // The patient without consent has social care encounters of the council's own; their Patient must not come along.
        var withoutConsent = Kind(PatientKind.SocialCareNotConsented);
        Assert.Contains(matches, e => Json.References(e, "subject").Contains(withoutConsent.Reference));
        Assert.DoesNotContain(withoutConsent.Id, included.Select(Json.Id));
    }

    [Fact]
    public async Task an_include_does_not_bring_in_the_patient_of_an_opted_out_record()
    {
        server.EnsureAvailable();
        // A trust that recorded observations of the patient still sees them (its own records), even past the opt-out and
        // under break-glass; the registration, which the GP practice recorded, stays hidden and must not come along.
        var optedOut = Kind(PatientKind.OptedOut);
        var user = new[] { "dr.ahmed", "nurse.jones" }.First(u => optedOut.OfType("Observation").Any(o => Json.Source(o) == TestUsers.Actor(u).Organisation));
        var holder = TestUsers.Actor(user).Organisation;
        var reply = await server.GetAsync(user, $"/Observation?subject={optedOut.Reference}&_include=Observation:subject&_count=1000", breakGlass: true);
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        var matches = GovernanceServer.Entries(reply.Body).ToList();
        Assert.NotEmpty(matches);
        Assert.All(matches, o => Assert.Equal(holder, Json.Source(o)));
        Assert.Empty(GovernanceServer.Entries(reply.Body, "include"));
        AuditChecks.AssertAuditEvent(TestUsers.Actor(user), Assert.Single(await server.AuditOfAsync(reply.RequestId)), success: true, breakGlass: true);
    }

    [Fact]
    public async Task a_revinclude_does_not_reveal_mental_health_conditions()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.Sensitive);
        var path = $"/Patient?_id={patient.Id}&_revinclude=Condition:subject";
        var gp = await server.GetAsync("gp.smith", path);
        var nurse = await server.GetAsync("nurse.jones", path);
        Assert.True(nurse.Status == HttpStatusCode.OK, nurse.ToString());

        var mentalHealth = patient.MentalHealthConditions;
        Assert.Contains(mentalHealth[0], GovernanceServer.Entries(gp.Body, "include").Select(Json.Id));
        Assert.Equal(PolicyOracle.Related(TestUsers.Actor("nurse.jones"), patient, DateTimeOffset.UtcNow) ? 1 : 0, GovernanceServer.Entries(nurse.Body).Count());
        Assert.DoesNotContain(GovernanceServer.Entries(nurse.Body, "include"), c => mentalHealth.Contains(Json.Id(c)));
        Assert.All(GovernanceServer.Entries(nurse.Body, null), r => Assert.Empty(Json.Labels(r)));
    }

    [Fact]
    public async Task a_revinclude_does_not_reveal_clinical_records_to_the_social_worker()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.SocialCareConsented);
        var path = $"/Patient?_id={patient.Id}&_revinclude=Observation:subject&_revinclude=Condition:subject";
        var system = await server.GetAsync("system", path);
        var social = await server.GetAsync("sw.patel", path);
        Assert.True(social.Status == HttpStatusCode.OK, social.ToString());
        Assert.NotEmpty(GovernanceServer.Entries(system.Body, "include"));
        Assert.Equal([patient.Reference], GovernanceServer.Entries(social.Body).Select(Json.Key));
        Assert.Empty(GovernanceServer.Entries(social.Body, "include"));
    }

    private static string Agreement(string source, string recipient, string category, string start, string? end) => $$$"""
        {"resourceType":"Contract","status":"executed","title":"Test agreement: {{{source}}} shares {{{category}}} with {{{recipient}}}",
         "type":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-type","code":"data-sharing"}]},
         "applies":{"start":"{{{start}}}"{{{(end is null ? "" : $",\"end\":\"{end}\"")}}}},
         "term":[{"offer":{"party":[
             {"reference":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"{{{source}}}"}}],
              "role":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-party","code":"source"}]}},
             {"reference":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"{{{recipient}}}"}}],
              "role":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-party","code":"recipient"}]}}]},
           "asset":[{"type":[{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/data-category","code":"{{{category}}}"}]}]}],
           "action":[{"type":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-type","code":"share"}]},
                      "intent":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]},
                      "status":{"coding":[{"system":"http://hl7.org/fhir/contractactionstatus","code":"complete"}]}}]}]}
        """;

    /// <summary>The IG officer records an agreement through the FHIR API; the id comes back for the clean-up.</summary>
    private async Task<string> RecordAgreementAsync(string json)
    {
        var reply = await server.PostAsync("ig.lead", "/Contract", json);
        Assert.True(reply.Status == HttpStatusCode.Created, reply.ToString());
        return Json.Id(reply.Body);
    }

    private async Task RemoveAgreementsAsync(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            var reply = await server.DeleteAsync("ig.lead", "/Contract/" + id);
            Assert.True(reply.Status == HttpStatusCode.NoContent, reply.ToString());
        }
    }

    private async Task AssertRefusedByAsync(string user, string path, string rule)
    {
        var reply = await server.GetAsync(user, path);
        Assert.True(reply.Status == HttpStatusCode.Forbidden, $"{user} GET {path}: expected 403 by {rule}, got {reply}");
        var audit = Assert.Single(await server.AuditOfAsync(reply.RequestId));
        Assert.StartsWith($"[{rule}]", audit.GetProperty("outcomeDesc").GetString());
    }

    [Fact]
    public async Task only_an_agreement_in_force_shares_records_the_relationship_and_role_would_allow()
    {
        server.EnsureAvailable();
        // The council's record of the patient's consent: a community nurse with a relationship and a role that may read
        // consents is kept from it only because the council shares social care, care plans, alerts and demographics, not consents.
        var patient = Kind(PatientKind.SocialCareConsented);
        var nurse = TestUsers.Actor("nurse.jones");
        var consent = patient.Consents("permit").Single(c => Json.Source(c) == "00K");
        var path = "/Consent/" + Json.Id(consent);
        Assert.True(PolicyOracle.Related(nurse, patient, DateTimeOffset.UtcNow), "The consenting social care patient chosen is not under community nursing.");
        Assert.Equal("data-sharing-agreement", PolicyOracle.Refusal(nurse, Verb.Read, consent, patient, false, DateTimeOffset.UtcNow));
        await AssertRefusedByAsync(nurse.Name, path, "data-sharing-agreement");

        var recorded = new List<string>();
        try
        {
            recorded.Add(await RecordAgreementAsync(Agreement("00K", "RYG", "consent", "2024-01-01", "2024-12-31")));
            await AssertRefusedByAsync(nurse.Name, path, "data-sharing-agreement");

            recorded.Add(await RecordAgreementAsync(Agreement("00K", "RYG", "consent", "2025-01-01", null)));
            var shared = await server.GetAsync(nurse.Name, path);
            Assert.True(shared.Status == HttpStatusCode.OK, shared.ToString());
            AuditChecks.AssertAuditEvent(nurse, Assert.Single(await server.AuditOfAsync(shared.RequestId)), success: true, breakGlass: false);
        }
        finally
        {
            await RemoveAgreementsAsync(recorded);
        }

        await AssertRefusedByAsync(nurse.Name, path, "data-sharing-agreement");
    }

    [Fact]
    public async Task the_expired_laboratory_pilot_shares_nothing_and_a_new_agreement_shares_only_what_it_names()
    {
        server.EnsureAvailable();
        var pilot = await server.GetAsync("system", "/Contract/dsa-council-laboratory-pilot");
        Assert.True(pilot.Status == HttpStatusCode.OK, pilot.ToString());
        Assert.Equal("2023-12-31", pilot.Body.GetProperty("applies").GetProperty("end").GetString());

        // A laboratory result the hospital sent, for a patient the council cares for with consent.
        var patient = Kind(PatientKind.SocialCareConsented);
        var created = await server.PostAsync("system", "/Observation", $$$"""
            {"resourceType":"Observation","status":"final","meta":{"source":"{{{Json.SourcePrefix}}}RTH"},
             "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
             "code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},
             "subject":{"reference":"{{{patient.Reference}}}"},"effectiveDateTime":"2026-11-02T08:00:00Z",
             "valueQuantity":{"value":4.1,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}
            """);
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var hospitalLab = "/Observation/" + Json.Id(created.Body);
        var gpLab = patient.OfType("Observation").First(o => PolicyOracle.Category(o) == "laboratory" && Json.Source(o) == "A81001");

        var reablement = TestUsers.Actor(GovernanceServer.ReablementNurse);
        Assert.Equal("data-sharing-agreement", PolicyOracle.Refusal(reablement, Verb.Read, created.Body, patient, false, DateTimeOffset.UtcNow));
        await AssertRefusedByAsync(reablement.Name, hospitalLab, "data-sharing-agreement");

        var recorded = new List<string>();
        try
        {
            recorded.Add(await RecordAgreementAsync(Agreement("RTH", "00K", "laboratory", "2026-01-01", null)));
            var shared = await server.GetAsync(reablement.Name, hospitalLab);
            Assert.True(shared.Status == HttpStatusCode.OK, shared.ToString());
            // The agreement names the hospital only: the practice's results stay with the practice.
            await AssertRefusedByAsync(reablement.Name, "/" + Json.Key(gpLab), "data-sharing-agreement");
            // And an agreement does not widen a role: the social worker's has no laboratory access.
            await AssertRefusedByAsync("sw.patel", hospitalLab, "role");
        }
        finally
        {
            await RemoveAgreementsAsync(recorded);
        }

        await AssertRefusedByAsync(reablement.Name, hospitalLab, "data-sharing-agreement");
    }

    [Fact]
    public async Task a_citizen_reads_only_their_own_record_and_sees_who_accessed_it()
    {
        server.EnsureAvailable();
        var own = server.Citizen;
        var other = Kind(PatientKind.RegisteredOnly);
        var mine = await server.GetAsync(TestUsers.Citizen, "/Patient/" + own.Id);
        Assert.True(mine.Status == HttpStatusCode.OK, mine.ToString());
        var theirs = await server.GetAsync(TestUsers.Citizen, "/Patient/" + other.Id);
        Assert.True(theirs.Status == HttpStatusCode.Forbidden, theirs.ToString());
        Assert.Contains("own record", theirs.Diagnostics, StringComparison.Ordinal);

        var byGp = await server.GetAsync("gp.smith", "/Patient/" + own.Id);
        Assert.True(byGp.Status == HttpStatusCode.OK, byGp.ToString());
        await server.AuditOfAsync(byGp.RequestId);

        var log = new List<JsonElement>();
        await foreach (var entry in server.PagesAsync(TestUsers.Citizen, $"/AuditEvent?patient={own.Reference}&_count=1000"))
        {
            log.Add(entry.GetProperty("resource"));
        }

        var access = Assert.Single(log, a => AuditChecks.Policies(a).Contains(byGp.RequestId));
        var requestor = access.GetProperty("agent").EnumerateArray().Single(a => a.GetProperty("requestor").GetBoolean());
        Assert.Equal("Practitioner/gp-smith", requestor.GetProperty("who").GetProperty("reference").GetString());
        // Each names the citizen as the patient: the record accessed, or the citizen themself acting (R4 AuditEvent "patient").
        Assert.All(log, a => Assert.True(AuditChecks.NamesPatient(a, own.Reference), $"{Json.Key(a)} is not about {own.Reference}."));

        // Another patient's access log is not theirs to see: refused, or only what the citizen did themself (such as the
        // refused read above), never the GP's access.
        var byGpElsewhere = await server.GetAsync("gp.smith", "/Patient/" + other.Id);
        Assert.True(byGpElsewhere.Status == HttpStatusCode.OK, byGpElsewhere.ToString());
        await server.AuditOfAsync(byGpElsewhere.RequestId);
        var elsewhere = await server.GetAsync(TestUsers.Citizen, $"/AuditEvent?patient={other.Reference}&_count=1000");
        Assert.True(elsewhere.Status is HttpStatusCode.OK or HttpStatusCode.Forbidden or HttpStatusCode.NotFound, elsewhere.ToString());
        Assert.All(GovernanceServer.Entries(elsewhere.Body), a => Assert.True(AuditChecks.NamesPatient(a, own.Reference), $"{Json.Key(a)} is not about {own.Reference}."));
        Assert.DoesNotContain(GovernanceServer.Entries(elsewhere.Body), a => AuditChecks.Policies(a).Contains(byGpElsewhere.RequestId));
        var unfiltered = await server.GetAsync(TestUsers.Citizen, "/AuditEvent?_count=1000");
        Assert.True(unfiltered.Status == HttpStatusCode.OK, unfiltered.ToString());
        Assert.All(GovernanceServer.Entries(unfiltered.Body), a => Assert.True(AuditChecks.NamesPatient(a, own.Reference), $"{Json.Key(a)} is not about {own.Reference}."));
    }



    [Fact]
    public async Task the_ig_officer_lists_break_glass_and_denied_accesses()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.PastHospital);
        var emergency = await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id, breakGlass: true);
        Assert.True(emergency.Status == HttpStatusCode.OK, emergency.ToString());
        var refused = await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id);
        Assert.True(refused.Status == HttpStatusCode.Forbidden, refused.ToString());
        await server.AuditOfAsync(refused.RequestId);

        var breakGlass = new List<JsonElement>();
        await foreach (var entry in server.PagesAsync("ig.lead", $"/AuditEvent?subtype={Uri.EscapeDataString(AuditChecks.BreakGlassSubtype)}&_count=1000"))
        {
            breakGlass.Add(entry.GetProperty("resource"));
        }

        Assert.All(breakGlass, a => Assert.Contains(AuditChecks.BreakGlassSubtype, Json.Codings(a, "subtype")));
        var listed = Assert.Single(breakGlass, a => AuditChecks.Policies(a).Contains(emergency.RequestId));
        Assert.Equal(GovernanceServer.BreakGlassReason, listed.GetProperty("purposeOfEvent")[0].GetProperty("text").GetString());
        Assert.Contains(patient.Reference, AuditChecks.Entities(listed));
        Assert.DoesNotContain(breakGlass, a => AuditChecks.Policies(a).Contains(refused.RequestId));

        var denied = new List<JsonElement>();
        await foreach (var entry in server.PagesAsync("ig.lead", $"/AuditEvent?subtype={Uri.EscapeDataString(AuditChecks.DeniedSubtype)}&_count=1000"))
        {
            denied.Add(entry.GetProperty("resource"));
        }

        Assert.Contains(denied, a => AuditChecks.Policies(a).Contains(refused.RequestId));
        Assert.All(denied, a => Assert.Equal("4", a.GetProperty("outcome").GetString()));
    }

    [Fact]
    public async Task break_glass_without_a_reason_is_refused_and_audited()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.PastHospital);
        var reply = await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id, breakGlass: true, reason: null);
        Assert.True(reply.Status == HttpStatusCode.Forbidden, reply.ToString());
        Assert.Contains("X-Break-Glass-Reason", reply.Diagnostics, StringComparison.Ordinal);
        var audit = Assert.Single(await server.AuditOfAsync(reply.RequestId));
        AuditChecks.AssertAuditEvent(TestUsers.Actor("dr.ahmed"), audit, success: false, breakGlass: true);
        Assert.Contains(AuditChecks.DeniedSubtype, Json.Codings(audit, "subtype"));
        Assert.StartsWith("[break-glass]", audit.GetProperty("outcomeDesc").GetString());
    }

    [Fact]
    public async Task a_social_worker_cannot_break_glass_past_explicit_consent()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.SocialCareNotConsented);
        await AssertRefusedByAsync("sw.patel", "/Patient/" + patient.Id, "consent-explicit");
        var reply = await server.GetAsync("sw.patel", "/Patient/" + patient.Id, breakGlass: true);
        Assert.True(reply.Status == HttpStatusCode.Forbidden, reply.ToString());
        var audit = Assert.Single(await server.AuditOfAsync(reply.RequestId));
        AuditChecks.AssertAuditEvent(TestUsers.Actor("sw.patel"), audit, success: false, breakGlass: true);
        Assert.StartsWith("[break-glass]", audit.GetProperty("outcomeDesc").GetString());
    }

    [Fact]
    public async Task break_glass_does_not_pass_an_opt_out_which_leaves_the_record_with_its_holder()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.OptedOut);
        foreach (var user in new[] { "dr.ahmed", "nurse.jones" })
        {
            var reply = await server.GetAsync(user, "/Patient/" + patient.Id, breakGlass: true);
            Assert.True(reply.Status == HttpStatusCode.Forbidden, $"{user}: {reply}");
            Assert.Contains("opted out", reply.Diagnostics, StringComparison.Ordinal);
            var audit = Assert.Single(await server.AuditOfAsync(reply.RequestId));
            AuditChecks.AssertAuditEvent(TestUsers.Actor(user), audit, success: false, breakGlass: true);
            Assert.StartsWith("[consent-opt-out]", audit.GetProperty("outcomeDesc").GetString());
        }

        // The practice recorded the registration, so it still sees it.
        var gp = await server.GetAsync("gp.smith", "/Patient/" + patient.Id);
        Assert.True(gp.Status == HttpStatusCode.OK, gp.ToString());
    }

    [Fact]
    public async Task a_refused_write_is_audited_as_denied_with_its_rule_and_patient()
    {
        server.EnsureAvailable();
        var patient = Kind(PatientKind.RegisteredOnly);
        var reply = await server.PostAsync("nurse.jones", "/Observation", Writes.HeartRate(patient.Reference).ToJsonString());
        Assert.True(reply.Status == HttpStatusCode.Forbidden, reply.ToString());
        Assert.Contains("break-glass", reply.Diagnostics, StringComparison.Ordinal);

        var audit = Assert.Single(await server.AuditOfAsync(reply.RequestId));
        AuditChecks.AssertAuditEvent(TestUsers.Actor("nurse.jones"), audit, success: false, breakGlass: false);
        Assert.Contains(AuditChecks.DeniedSubtype, Json.Codings(audit, "subtype"));
        Assert.StartsWith("[relationship]", audit.GetProperty("outcomeDesc").GetString());
        Assert.Contains(patient.Reference, AuditChecks.Entities(audit));
    }

    [Fact]
    public async Task a_relationship_follows_the_record_as_an_encounter_is_recorded()
    {
        server.EnsureAvailable();
        var chosen = server.Patients.Values.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var patient = server.Records.Values.First(r => !chosen.Contains(r.Id) && !r.HasCareAt("RTH") && !r.OptedOut && r.Practices.SequenceEqual(["A81001"]));
        await AssertRefusedByAsync("dr.ahmed", "/Patient/" + patient.Id, "relationship");

        // The trust's system records an admission today; the hospital doctor now has a legitimate relationship.
        var admitted = await server.PostAsync("system", "/Encounter", $$$"""
            {"resourceType":"Encounter","status":"in-progress","meta":{"source":"{{{Json.SourcePrefix}}}RTH"},
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"EMER"},
             "subject":{"reference":"{{{patient.Reference}}}"},"period":{"start":"{{{DateTimeOffset.UtcNow.AddHours(-1):yyyy-MM-ddTHH:mm:ssZ}}}"},
             "serviceProvider":{"reference":"Organization/RTH"}}
            """);
        Assert.True(admitted.Status == HttpStatusCode.Created, admitted.ToString());
        var reply = await server.GetAsync("dr.ahmed", "/Patient/" + patient.Id);
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
    }
}
