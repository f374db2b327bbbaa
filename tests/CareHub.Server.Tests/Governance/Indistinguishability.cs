using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CsCheck;

namespace CareHub.Server.Tests.Governance;

/// <summary>
/// The property behind every governance edge: for each demo role, a query about a patient the caller may not see and the
/// same query about a patient who does not exist give the same answer: status, body (up to the ids and numbers asked
/// about, bundle ids and timestamps), counts and order. The queries are generated (CsCheck) from shapes that reach a
/// patient by id, by NHS Number, through chains, <c>_has</c>, includes, summaries and operations, so a new search
/// feature added to a shape below is covered without a new test. The generator's stream is fixed, so every run asks the
/// same queries.
/// </summary>
public abstract partial class Indistinguishability(GovernanceServer server)
{
    private const string Nhs = "https://fhir.nhs.uk/Id/nhs-number";
    private const int SamplesPerRole = 30;

    private static readonly string[] PatientTypes = ["Observation", "Condition", "Encounter", "AllergyIntolerance", "MedicationRequest", "CarePlan", "Consent", "EpisodeOfCare", "CareTeam"];

    private static readonly string[] SubjectTypes = ["Observation", "Condition", "Encounter", "CarePlan", "CareTeam"];

    /// <summary>A query about the patient with id {X} and NHS Number {N}: GET path (with query) or a POST of an operation.</summary>
    public sealed record Probe(string Method, string Path, string? Body)
    {
        public Probe For(string id, string number) =>
            new(Method, Path.Replace("{X}", id, StringComparison.Ordinal).Replace("{N}", number, StringComparison.Ordinal),
                Body?.Replace("{X}", id, StringComparison.Ordinal).Replace("{N}", number, StringComparison.Ordinal));

        public override string ToString() => $"{Method} {Path}{(Body is null ? "" : " " + Body)}";
    }

    private static readonly Gen<string> Shaping = Gen.OneOf(
        Gen.Const(""), Gen.Const("&_summary=count"), Gen.Const("&_total=accurate"), Gen.Const("&_count=3"),
        Gen.Const("&_sort=-_lastUpdated"), Gen.Const("&_elements=id"), Gen.Const("&_summary=true"));

    /// <summary>The shapes of query that reach a patient, each with the result-shaping parameters added.</summary>
    private static readonly Gen<Probe> Probes = Gen.OneOf(
        Shaping.Select(s => Get($"/Patient?_id={{X}}{s}")),
        Shaping.Select(s => Get($"/Patient?identifier={Nhs}|{{N}}{s}")),
        Gen.Select(Gen.OneOf(PatientTypes.Select(Gen.Const).ToArray()), Shaping, (t, s) => Get($"/{t}?patient=Patient/{{X}}{s}")),
        Gen.Select(Gen.OneOf(SubjectTypes.Select(Gen.Const).ToArray()), Shaping, (t, s) => Get($"/{t}?subject:Patient.identifier={Nhs}|{{N}}{s}")),
        Gen.Select(Gen.OneOf(SubjectTypes.Select(Gen.Const).ToArray()), Shaping, (t, s) => Get($"/{t}?subject:Patient._id={{X}}{s}")),
        Gen.Select(Gen.OneOf(PatientTypes.Select(Gen.Const).ToArray()), Shaping, (t, s) => Get($"/{t}?patient=Patient/{{X}}&_include={t}:patient{s}")),
        Shaping.Select(s => Get($"/Organization?_has:Patient:general-practitioner:_id={{X}}{s}")),
        Shaping.Select(s => Get($"/Organization?_has:Patient:general-practitioner:identifier={Nhs}|{{N}}{s}")),
        Shaping.Select(s => Get($"/Practitioner?_has:Encounter:participant:patient=Patient/{{X}}{s}")),
        Gen.Select(Gen.OneOf(SubjectTypes.Select(Gen.Const).ToArray()), Shaping, (t, s) => Get($"/Patient?_has:{t}:subject:subject=Patient/{{X}}{s}")),
        Shaping.Select(s => Get($"/Patient?_revinclude=Condition:patient&identifier={Nhs}|{{N}}{s}")),
        Shaping.Select(s => Get($"/Person?link=Patient/{{X}}{s}")),
        Shaping.Select(s => Get($"/Task?patient=Patient/{{X}}{s}")),
        Shaping.Select(s => Get($"/AuditEvent?patient=Patient/{{X}}{s}")),
        Gen.Const(Get($"/Patient/$ihe-pix?sourceIdentifier={Nhs}|{{N}}")),
        Gen.Const(new Probe("POST", "/Patient/$match",
            $$$"""{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","identifier":[{"system":"{{{Nhs}}}","value":"{N}"}]}}]}""")));

    private static Probe Get(string path) => new("GET", path, null);

    /// <summary>The roles of the demo and, for each, the users whose view is checked.</summary>
    public static TheoryData<string> Roles => new(TestUsers.Staff.Append(TestUsers.Citizen));

    [Theory]
    [MemberData(nameof(Roles))]
    public async Task a_hidden_patient_and_an_absent_one_answer_alike(string user)
    {
        server.EnsureAvailable();
        var hidden = await HiddenPatientAsync(user);
        var ghost = (Id: Guid.NewGuid().ToString(), Number: UnusedNhsNumber());
        var pcg = new PCG(1, 20261207);
        var asked = 0;
        for (var i = 0; i < SamplesPerRole; i++)
        {
            var probe = Probes.Generate(pcg, null, out _);
            if (user == "ig.lead" && probe.Path.StartsWith("/AuditEvent", StringComparison.Ordinal))
            {
                // The IG officer's role is to see every access to every record: audit is not patient data for them.
                continue;
            }

            var aboutHidden = await SendAsync(user, probe.For(hidden.Id, hidden.NhsNumber));
            var aboutNobody = await SendAsync(user, probe.For(ghost.Id, ghost.Number));
            Assert.True(aboutHidden.Status == aboutNobody.Status,
                $"{user}: {probe} answers {(int)aboutHidden.Status} about a hidden patient but {(int)aboutNobody.Status} about nobody.\nhidden: {Cut(aboutHidden.ToString())}\nabsent: {Cut(aboutNobody.ToString())}");
            var a = Normalise(aboutHidden, hidden.Id, hidden.NhsNumber);
            var b = Normalise(aboutNobody, ghost.Id, ghost.Number);
            Assert.True(a == b, $"{user}: {probe} answers differently about a hidden patient and about nobody.\nhidden: {Cut(a)}\nabsent: {Cut(b)}");
            asked++;
        }

        Assert.True(asked >= SamplesPerRole / 2, $"only {asked} queries were asked");
    }

    private static string Cut(string text) => text.Length <= 1500 ? text : text[..1500] + "…";

    private Task<Reply> SendAsync(string user, Probe probe) =>
        server.SendAsync(user, probe.Method == "GET" ? HttpMethod.Get : HttpMethod.Post, probe.Path, probe.Body, false, null);

    /// <summary>A patient the user may not read: registered elsewhere, or anyone for roles that see no patient.</summary>
    private async Task<PatientRecord> HiddenPatientAsync(string user)
    {
        foreach (var record in server.Records.Values.OrderBy(r => r.Id, StringComparer.Ordinal))
        {
            if (user == TestUsers.Citizen && record.Id == server.Citizen.Id)
            {
                continue;
            }

            var read = await server.GetAsync(user, "/Patient/" + record.Id);
            if (read.Status != HttpStatusCode.OK)
            {
                return record;
            }
        }

        throw new InvalidOperationException($"{user} may see every patient, so nothing is hidden from them.");
    }

    private string UnusedNhsNumber()
    {
        var used = server.Records.Values.Select(r => r.NhsNumber).ToHashSet(StringComparer.Ordinal);
        for (var n = 999_765_400; ; n++)
        {
            var nine = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var check = 11 - (nine.Select((c, i) => (c - '0') * (10 - i)).Sum() % 11);
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

    /// <summary>The answer with what legitimately differs taken out: the id and number asked about, the bundle's own id and time, request ids.</summary>
    private static string Normalise(Reply reply, string id, string number)
    {
        if (reply.Body.ValueKind != JsonValueKind.Object)
        {
            return $"{(int)reply.Status}";
        }

        var node = JsonNode.Parse(reply.Body.GetRawText())!.AsObject();
        if (node["resourceType"]?.GetValue<string>() is "Bundle" or "Parameters" or "OperationOutcome")
        {
            node.Remove("id");
            node.Remove("meta");
        }

        var text = node.ToJsonString().Replace(id, "{X}", StringComparison.Ordinal).Replace(number, "{N}", StringComparison.Ordinal);
        return RequestId().Replace(text, "request id {R}");
    }

    [GeneratedRegex(@"request id [^\s""|]+")]
    private static partial Regex RequestId();
}

[Collection(SqliteGovernanceCollection.Name)]
public sealed class IndistinguishabilityOnSqliteTests(SqliteGovernanceServer server) : Indistinguishability(server);

[Collection(PostgresGovernanceCollection.Name)]
public sealed class IndistinguishabilityOnPostgresTests(PostgresGovernanceServer server) : Indistinguishability(server);
