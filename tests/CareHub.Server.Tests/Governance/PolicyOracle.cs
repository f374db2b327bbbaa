using System.Text.Json;

namespace CareHub.Server.Tests.Governance;

public enum Verb
{
    Create,
    Read,
    Search,
}

/// <summary>
/// What the access policy should decide, written from the rules of the default policy (src/CareHub/Governance/
/// default-policy.json), the demo's data sharing agreements (DemoCommunity.Governance.cs) and docs/governance.md, independently of the
/// server's code: it reads the record as JSON and applies the rules in the documented order (scopes, role, sensitivity,
/// data sharing agreement, relationship, opt-out, explicit consent). A refusal is named by its rule; null means allowed.
/// </summary>
public static class PolicyOracle
{
    public const int RelationshipDays = 90;

    private static readonly string[] MentalHealthAndOtherSensitive = ["PSY", "PSYTHPN", "HIV", "SEX", "STD", "ETH", "SUD"];

    /// <summary>Labels that hide a record from a role not listed as seeing them (default-policy.json sensitiveLabels).</summary>
    private static readonly HashSet<string> SensitiveLabels =
    [
        .. MentalHealthAndOtherSensitive.Select(c => $"{PatientRecord.ActCode}|{c}"),
        "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R",
        "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|V",
    ];

    private sealed record Role(bool ExplicitConsent, bool BreakGlass, IReadOnlySet<string> SeesLabels, IReadOnlyDictionary<string, string> Access)
    {
        public bool Allows(string category, Verb verb) =>
            Access.TryGetValue(category, out var letters) && letters.Contains(verb switch { Verb.Create => 'c', Verb.Read => 'r', _ => 's' });
    }

    private static Dictionary<string, string> Access(string table) =>
        table.Split(',', StringSplitOptions.TrimEntries).Select(p => p.Split(' ')).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static readonly HashSet<string> NoLabels = [];

    // default-policy.json, "roles" and "citizen".
    private static readonly Dictionary<string, Role> Roles = new(StringComparer.Ordinal)
    {
        ["gp"] = new(false, true, MentalHealthAndOtherSensitive.Select(c => $"{PatientRecord.ActCode}|{c}").ToHashSet(),
            Access("demographics cruds, social-care rs, laboratory cruds, encounters cruds, care-plans cruds, alerts cruds, consent cruds, clinical cruds, directory rs, terminology rs, agreements rs")),
        ["hospital-doctor"] = new(false, true, NoLabels,
            Access("demographics cruds, social-care rs, laboratory cruds, encounters cruds, care-plans cruds, alerts cruds, consent crus, clinical cruds, directory rs, terminology rs, agreements rs")),
        ["community-nurse"] = new(false, true, NoLabels,
            Access("demographics rus, social-care rs, laboratory rs, encounters crus, care-plans crus, alerts crus, consent crus, clinical crus, directory rs, terminology rs, agreements rs")),
        ["social-worker"] = new(true, false, NoLabels,
            Access("demographics rs, social-care crus, care-plans crus, alerts rs, consent crs, directory rs, terminology rs, agreements rs")),
        ["ig-officer"] = new(false, false, NoLabels, Access("audit rs, agreements cruds, directory rs, terminology rs")),
        ["system-admin"] = new(false, false, NoLabels, Access("directory cruds, terminology cruds, agreements rs")),
    };

    private static readonly Role CitizenRole = new(false, false, NoLabels,
        Access("demographics rs, social-care rs, laboratory rs, encounters rs, care-plans rs, alerts rs, consent crus, clinical rs, audit rs, directory rs, terminology rs"));

    // ---- data categories (default-policy.json "categories": the first match wins) --------------------------------------

    private const string CareSetting = "https://carehub.local/fhir/CodeSystem/care-setting|social-care";

    private static readonly (string Category, string Type, string? Element, string[] Codes)[] Matches =
    [
        ("demographics", "Patient", null, []), ("demographics", "RelatedPerson", null, []), ("demographics", "Person", null, []),
        ("social-care", "Observation", "category", ["http://terminology.hl7.org/CodeSystem/observation-category|social-history"]),
        ("social-care", "ServiceRequest", "category", ["http://snomed.info/sct|410606002"]),
        ("social-care", "EpisodeOfCare", "type", [CareSetting]),
        ("social-care", "Encounter", "type", [CareSetting]),
        ("social-care", "CarePlan", "category", [CareSetting]),
        ("laboratory", "Observation", "category", ["http://terminology.hl7.org/CodeSystem/observation-category|laboratory"]),
        ("laboratory", "DiagnosticReport", "category", ["http://terminology.hl7.org/CodeSystem/v2-0074|LAB", "http://terminology.hl7.org/CodeSystem/v2-0074|HM", "http://terminology.hl7.org/CodeSystem/v2-0074|CH", "http://terminology.hl7.org/CodeSystem/v2-0074|MB"]),
        ("laboratory", "Specimen", null, []),
        ("encounters", "Encounter", null, []), ("encounters", "EpisodeOfCare", null, []), ("encounters", "Appointment", null, []), ("encounters", "AppointmentResponse", null, []),
        ("care-plans", "CarePlan", null, []), ("care-plans", "CareTeam", null, []), ("care-plans", "Goal", null, []),
        ("alerts", "Flag", null, []), ("alerts", "AllergyIntolerance", null, []),
        ("consent", "Consent", null, []),
        ("audit", "AuditEvent", null, []), ("audit", "Provenance", null, []),
        ("agreements", "Contract", null, []),
        .. new[] { "Organization", "Practitioner", "PractitionerRole", "Location", "HealthcareService", "Endpoint" }.Select(t => ("directory", t, (string?)null, Array.Empty<string>())),
        .. new[] { "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem", "SearchParameter", "StructureDefinition", "CapabilityStatement", "OperationDefinition", "Medication", "Substance" }
            .Select(t => ("terminology", t, (string?)null, Array.Empty<string>())),
    ];

    private static readonly HashSet<string> NotPatientData = ["audit", "agreements", "directory", "terminology"];

    public static string Category(JsonElement resource)
    {
        var type = Json.Type(resource);
        foreach (var (category, matchType, element, codes) in Matches)
        {
            if (matchType == type && (element is null || Json.Codes(resource, element).Any(codes.Contains)))
            {
                return category;
            }
        }

        return "clinical";
    }

    /// <summary>Every category a resource of the type can fall in.</summary>
    private static IEnumerable<string> CategoriesOf(string type)
    {
        foreach (var (category, matchType, element, _) in Matches.Where(m => m.Type == type))
        {
            yield return category;
            if (element is null)
            {
                yield break;
            }
        }

        yield return "clinical";
    }

    // ---- data sharing agreements in force (DemoCommunity.Governance.cs) ---------------------------------------------

    private static readonly string[] Health = ["A81001", "A81002", "RTH", "RYG"];

    private static readonly (string[] Sources, string[] Recipients, string[] Categories)[] AgreementsInForce =
    [
        (Health, Health, []),
        (Health, ["00K"], ["demographics", "alerts", "care-plans", "encounters"]),
        (["00K"], Health, ["demographics", "social-care", "care-plans", "alerts"]),
        // dsa-council-laboratory-pilot (RTH to 00K, laboratory) ended on 2023-12-31, so it shares nothing.
    ];

    /// <summary>Records with no recorded source, or from the caller's organisation, or shared with it by an agreement in force.</summary>
    private static bool Shared(string recipient, string? source, string category) =>
        source is null || source == recipient
        || AgreementsInForce.Any(a => a.Sources.Contains(source) && a.Recipients.Contains(recipient) && (a.Categories.Length == 0 || a.Categories.Contains(category)));

    // ---- the gate: scopes and role for the interaction on the type, then the purpose -----------------------------------

    /// <summary>The rule refusing the interaction on the type before any record is looked at, or null.</summary>
    public static string? Gate(Actor actor, Verb verb, string type, bool breakGlass)
    {
        if (actor.IsCitizen)
        {
            // Citizen tokens carry patient/*.rs and patient/Consent.cu (AuthOptions.CitizenScopes).
            if (verb == Verb.Create && type != "Consent")
            {
                return "scope";
            }

            return breakGlass ? "break-glass" : null;
        }

        var role = Roles[actor.Role!];
        if (!CategoriesOf(type).Any(c => role.Allows(c, verb)))
        {
            return "role";
        }

        // The matrix always gives a reason with break-glass; break-glass without one is a scenario of its own.
        return breakGlass && !role.BreakGlass ? "break-glass" : null;
    }

    // ---- the record rules ----------------------------------------------------------------------------------------------

    /// <summary>
    /// The rule that keeps the resource from the caller, or null when the caller may <paramref name="verb"/> it.
    /// <paramref name="record"/> is the record of the patient the resource is about.
    /// </summary>
    public static string? Refusal(Actor actor, Verb verb, JsonElement resource, PatientRecord record, bool breakGlass, DateTimeOffset now)
    {
        var category = Category(resource);
        var type = Json.Type(resource);
        var patientData = !NotPatientData.Contains(category);
        if (actor.IsCitizen)
        {
            if (!CitizenRole.Allows(category, verb))
            {
                return "role";
            }

            return patientData && record.Id != actor.OwnPatient ? "own-record" : null;
        }

        var role = Roles[actor.Role!];
        if (!role.Allows(category, verb))
        {
            return "role";
        }

        if (Json.Labels(resource).Any(l => SensitiveLabels.Contains(l) && !role.SeesLabels.Contains(l)))
        {
            return "sensitivity";
        }

        if (!patientData)
        {
            return null;
        }

        var source = Json.Source(resource);
        var own = actor.Organisation is not null && source == actor.Organisation;
        if (actor.Organisation is { } ods && !Shared(ods, source, category))
        {
            return "data-sharing-agreement";
        }

        if (!breakGlass && !Related(actor, record, now))
        {
            return "relationship";
        }

        var purpose = breakGlass ? "ETREAT" : "TREAT";
        if (!own && ConsentsApply(actor, record, "deny", type, purpose, now))
        {
            return "consent-opt-out";
        }

        if (role.ExplicitConsent && !breakGlass && !own && !ConsentsApply(actor, record, "permit", type, purpose, now))
        {
            return "consent-explicit";
        }

        return null;
    }

    /// <summary>
    /// A legitimate relationship: the caller's organisation or the caller is the registered practice,
    /// the managing organisation, on a care team or the performer of a referral; or the organisation holds an encounter or
    /// episode of care that is open or ended within <see cref="RelationshipDays"/>.
    /// </summary>
    public static bool Related(Actor actor, PatientRecord record, DateTimeOffset now)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (actor.Organisation is { } ods)
        {
            keys.Add("Organization/" + ods);
        }

        if (actor.Practitioner is { } practitioner)
        {
            keys.Add(practitioner);
        }

        var patient = record.Patient;
        if (Json.References(patient, "generalPractitioner").Any(keys.Contains)
            || (actor.Organisation is { } org && Json.References(patient, "managingOrganization").Contains("Organization/" + org)))
        {
            return true;
        }

        if (record.OfType("CareTeam").Any(t => t.TryGetProperty("participant", out var ps) && ps.EnumerateArray().Any(p => Json.References(p, "member").Any(keys.Contains)))
            || record.OfType("ServiceRequest").Any(s => Json.References(s, "performer").Any(keys.Contains)))
        {
            return true;
        }

        return actor.Organisation is { } own && record.CareSince(own, now.AddDays(-RelationshipDays));
    }

    /// <summary>Whether an active consent with the effect, in force, names the caller (or nobody: everyone), and covers the type and purpose.</summary>
    private static bool ConsentsApply(Actor actor, PatientRecord record, string effect, string type, string purpose, DateTimeOffset now)
    {
        var keys = new List<string>();
        if (actor.Organisation is { } ods)
        {
            keys.Add("Organization/" + ods);
            keys.Add("ods:" + ods);
        }

        if (actor.Practitioner is { } practitioner)
        {
            keys.Add(practitioner);
        }

        return record.Consents(effect).Any(consent =>
        {
            var provision = consent.GetProperty("provision");
            var actors = PatientRecord.ConsentActors(consent);
            var classes = provision.TryGetProperty("class", out var c) ? c.EnumerateArray().Select(x => x.GetProperty("code").GetString()).ToList() : [];
            var purposes = Json.Codes(provision, "purpose");
            var inForce = !provision.TryGetProperty("period", out var period)
                || ((!period.TryGetProperty("start", out var start) || DateTimeOffset.Parse(start.GetString()!, System.Globalization.CultureInfo.InvariantCulture) <= now)
                    && (Json.PeriodEnd(provision) is not { } end || end >= now));
            return (actors.Count == 0 || actors.Any(keys.Contains)) && (classes.Count == 0 || classes.Contains(type))
                && (purposes.Count == 0 || purposes.Contains("http://terminology.hl7.org/CodeSystem/v3-ActReason|" + purpose)) && inForce;
        });
    }

    /// <summary>What a refusal by the rule must tell the caller to do: which rule denied it and how to proceed.</summary>
    public static string Remedy(string rule) => rule switch
    {
        "role" => "information governance lead",
        "relationship" => "break-glass",
        "consent-explicit" => "Consent",
        "consent-opt-out" => "opted out",
        "data-sharing-agreement" => "agreement",
        "break-glass" => "break-glass",
        "own-record" => "own record",
        "scope" => "scope",
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "No remedy known for this rule."),
    };
}

/// <summary>Who calls: a demo login as the issue describes it (job role, organisation, practitioner), or a citizen.</summary>
public sealed record Actor(string Name, string? Role, string? Organisation, string? Practitioner, string? OwnPatient = null)
{
    public bool IsCitizen => OwnPatient is not null;
}

/// <summary>The matrix's callers: the six demo staff logins and one citizen.</summary>
public static class TestUsers
{
    public const string Citizen = "citizen";

    public static readonly string[] Staff = ["gp.smith", "dr.ahmed", "nurse.jones", "sw.patel", "ig.lead", "admin"];

    /// <summary>The demo logins; the citizen is the one whose NHS Number signed in.</summary>
    public static Actor Actor(string user, string? citizenPatient = null) => user switch
    {
        "gp.smith" => new(user, "gp", "A81001", "Practitioner/gp-smith"),
        "dr.ahmed" => new(user, "hospital-doctor", "RTH", "Practitioner/dr-ahmed"),
        "nurse.jones" => new(user, "community-nurse", "RYG", "Practitioner/nurse-jones"),
        "sw.patel" => new(user, "social-worker", "00K", "Practitioner/sw-patel"),
        "ig.lead" => new(user, "ig-officer", "QU9", null),
        "admin" => new(user, "system-admin", null, null),
        GovernanceServer.ReablementNurse => new(user, "community-nurse", "00K", null),
        Citizen => new(user, null, null, null, citizenPatient ?? throw new ArgumentNullException(nameof(citizenPatient))),
        _ => throw new ArgumentOutOfRangeException(nameof(user), user, "Not a test login."),
    };
}
