using System.Text.Json;

namespace CareHub.Server.Tests.Governance;

/// <summary>Checks of the AuditEvents CareHub writes for each decision (AuditTrail: IHE BALP-shaped RESTful events).</summary>
public static class AuditChecks
{
    public const string BreakGlassSubtype = AuditSubtypes + "|break-glass";
    public const string DeniedSubtype = AuditSubtypes + "|denied";

    public const string AuditSubtypes = "https://carehub.local/fhir/CodeSystem/audit-subtype";

    /// <summary>Outcome, who (role, organisation, or the citizen), and the purpose of use with break-glass marked.</summary>
    public static void AssertAuditEvent(Actor actor, JsonElement audit, bool success, bool breakGlass)
    {
        Assert.Equal(success ? "0" : "4", audit.GetProperty("outcome").GetString());
        var agents = audit.GetProperty("agent").EnumerateArray().ToList();
        var requestor = Assert.Single(agents, a => a.TryGetProperty("requestor", out var r) && r.GetBoolean());
        if (actor.IsCitizen)
        {
            Assert.Equal("Patient/" + actor.OwnPatient, requestor.GetProperty("who").GetProperty("reference").GetString());
        }
        else
        {
            Assert.Contains($"https://fhir.nhs.uk/CodeSystem/NHSJobRoleCode|{actor.Role}", Json.Codes(requestor, "role"));
        }

        if (actor.Organisation is { } ods)
        {
            Assert.Contains(agents, a => a.TryGetProperty("who", out var who) && who.TryGetProperty("identifier", out var id)
                && id.GetProperty("system").GetString() == PatientRecord.OdsSystem && id.GetProperty("value").GetString() == ods);
        }

        var subtypes = Json.Codings(audit, "subtype");
        var purposes = Json.Codes(audit, "purposeOfEvent");
        if (breakGlass)
        {
            Assert.Contains($"{AuditSubtypes}|break-glass", subtypes);
            Assert.Contains("http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT", purposes);
        }
        else
        {
            Assert.DoesNotContain($"{AuditSubtypes}|break-glass", subtypes);
            Assert.Contains("http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT", purposes);
        }
    }

    public static List<string> Entities(JsonElement audit) =>
        audit.TryGetProperty("entity", out var entities)
            ? entities.EnumerateArray().Where(e => e.TryGetProperty("what", out var w) && w.TryGetProperty("reference", out _))
                .Select(e => e.GetProperty("what").GetProperty("reference").GetString()!).ToList()
            : [];

    /// <summary>The correlation ids (agent.policy) of an AuditEvent: the X-Request-Id of the request it records.</summary>
    public static List<string> Policies(JsonElement audit) =>
        audit.GetProperty("agent").EnumerateArray().Where(a => a.TryGetProperty("policy", out _))
            .SelectMany(a => a.GetProperty("policy").EnumerateArray().Select(p => p.GetString()!)).ToList();

    /// <summary>Whether the AuditEvent is about the patient in R4's sense (search parameter "patient"): an entity, or the agent.</summary>
    public static bool NamesPatient(JsonElement audit, string patient) =>
        Entities(audit).Contains(patient)
        || audit.GetProperty("agent").EnumerateArray().Any(a => a.TryGetProperty("who", out var who) && who.TryGetProperty("reference", out var r) && r.GetString() == patient);
}
