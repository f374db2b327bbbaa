using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CareHub.Server.Tests.Governance;

public enum Interaction
{
    ReadPatient,
    SearchObservations,
    Everything,
    ReadMentalHealthCondition,
    CreateObservation,
    CreateEncounter,
    CreateConsent,
}

/// <summary>The matrix's cells but $everything, on the server it is given.</summary>
public abstract class PolicyMatrix(GovernanceServer server) : PolicyMatrixBase(server)
{
    /// <summary>Every cell but $everything: user x kind of patient x interaction x break-glass or not.</summary>
    public static IEnumerable<TheoryDataRow<string, PatientKind, Interaction, bool>> Cells() =>
        AllCells().Where(c => c.Data.Item3 != Interaction.Everything);

    [Theory]
    [MemberData(nameof(Cells), MemberType = typeof(PolicyMatrix))]
    public Task policy_matrix_cell_decides_as_the_policy_says_and_audits_it(string user, PatientKind kind, Interaction interaction, bool breakGlass) =>
        RunCellAsync(user, kind, interaction, breakGlass);
}

/// <summary>
/// The information governance contract over HTTP with real tokens: every demo user x kinds of patient x
/// read, search, $everything and writes, with and without break-glass. Each cell asks the oracle
/// (<see cref="PolicyOracle"/>) what the policy should decide for the record as it stands, sends the request, and checks
/// the status, what came back, and the request's audit record. The writes are chosen to change no later decision (see
/// <see cref="Writes"/>), so the cells do not depend on each other's order.
/// </summary>
public abstract class PolicyMatrixBase(GovernanceServer server)
{
    protected static IEnumerable<TheoryDataRow<string, PatientKind, Interaction, bool>> AllCells()
    {
        foreach (var user in TestUsers.Staff.Append(TestUsers.Citizen))
        {
            foreach (var kind in Enum.GetValues<PatientKind>())
            {
                foreach (var interaction in Enum.GetValues<Interaction>())
                {
                    // Only the sensitive patient has a mental health Condition to read.
                    if (interaction == Interaction.ReadMentalHealthCondition && kind != PatientKind.Sensitive)
                    {
                        continue;
                    }

                    foreach (var breakGlass in new[] { false, true })
                    {
                        yield return new TheoryDataRow<string, PatientKind, Interaction, bool>(user, kind, interaction, breakGlass)
                        {
                            TestDisplayName = $"policy matrix: {user} | {kind} | {interaction}{(breakGlass ? " | break-glass" : "")}",
                        };
                    }
                }
            }
        }
    }

    protected async Task RunCellAsync(string user, PatientKind kind, Interaction interaction, bool breakGlass)
    {
        server.EnsureAvailable();
        var actor = TestUsers.Actor(user, server.Citizen.Id);
        // The facts the decisions rest on (registration, care, consents, labels) are as loaded: the matrix's own writes are
        // chosen not to change them. What a search or $everything returns is compared with the record as it is now.
        var record = server.Patients[kind];
        var now = DateTimeOffset.UtcNow;
        var cell = interaction switch
        {
            Interaction.ReadPatient => await ReadAsync(actor, record, record.Patient, breakGlass, now),
            Interaction.ReadMentalHealthCondition => await ReadAsync(actor, record,
                record.Resources.Single(r => Json.Type(r) == "Condition" && Json.Id(r) == record.MentalHealthConditions[0]), breakGlass, now),
            Interaction.SearchObservations => await SearchObservationsAsync(actor, record, breakGlass, now),
            Interaction.Everything => await EverythingAsync(actor, record, breakGlass, now),
            _ => await CreateAsync(actor, record, interaction, breakGlass, now),
        };

        await AssertAuditAsync(actor, record, cell, breakGlass);
    }

    /// <summary>What one cell expected and got, for the audit check.</summary>
    private sealed record Cell(Reply Reply, string? Rule, bool PatientKnown, bool RuleInAudit = true);

    private async Task<Cell> ReadAsync(Actor actor, PatientRecord record, JsonElement resource, bool breakGlass, DateTimeOffset now)
    {
        var type = Json.Type(resource);
        var gate = PolicyOracle.Gate(actor, Verb.Read, type, breakGlass);
        var rule = gate ?? PolicyOracle.Refusal(actor, Verb.Read, resource, record, breakGlass, now);
        var reply = await server.GetAsync(actor.Name, "/" + Json.Key(resource), breakGlass);
        AssertDecision(rule, HttpStatusCode.OK, reply);
        if (rule is null)
        {
            Assert.Equal(Json.Key(resource), Json.Key(reply.Body));
        }

        // A refusal at the gate happens before the record is read: the audit names the resource asked for, which for a
        // Patient is the patient itself.
        return new Cell(reply, rule, type == "Patient" || gate is null);
    }

    private async Task<Cell> SearchObservationsAsync(Actor actor, PatientRecord record, bool breakGlass, DateTimeOffset now)
    {
        var rule = PolicyOracle.Gate(actor, Verb.Search, "Observation", breakGlass);
        var reply = await server.GetAsync(actor.Name, $"/Observation?subject={record.Reference}&_count=1000", breakGlass);
        AssertDecision(rule, HttpStatusCode.OK, reply);
        if (rule is not null)
        {
            return new Cell(reply, rule, PatientKnown: false);
        }

        Assert.Null(GovernanceServer.Link(reply.Body, "next"));
        var all = await server.GetAsync("system", $"/Observation?subject={record.Reference}&_count=1000");
        var expected = GovernanceServer.Entries(all.Body)
            .Where(o => PolicyOracle.Refusal(actor, Verb.Search, o, record, breakGlass, now) is null).Select(Json.Key).Order(StringComparer.Ordinal).ToList();
        var got = GovernanceServer.Entries(reply.Body).Select(Json.Key).Order(StringComparer.Ordinal).ToList();
        AssertSameSet(expected, got, $"Observations of {record.Reference} visible to {actor.Name}");
        return new Cell(reply, null, PatientKnown: expected.Count > 0);
    }

    private async Task<Cell> EverythingAsync(Actor actor, PatientRecord record, bool breakGlass, DateTimeOffset now)
    {
        var rule = PolicyOracle.Gate(actor, Verb.Read, "Patient", breakGlass)
            ?? PolicyOracle.Refusal(actor, Verb.Read, record.Patient, record, breakGlass, now);
        var reply = await server.GetAsync(actor.Name, $"/Patient/{record.Id}/$everything?_count=1000", breakGlass);
        AssertDecision(rule, HttpStatusCode.OK, reply);
        if (rule is not null)
        {
            return new Cell(reply, rule, PatientKnown: true);
        }

        Assert.Null(GovernanceServer.Link(reply.Body, "next"));
        var current = await server.RecordAsync(record.Id);
        var expected = current.Resources
            .Where(r => PolicyOracle.Gate(actor, Verb.Search, Json.Type(r), breakGlass) is null && PolicyOracle.Refusal(actor, Verb.Search, r, record, breakGlass, now) is null)
            .Select(Json.Key).Order(StringComparer.Ordinal).ToList();
        var got = GovernanceServer.Entries(reply.Body).Select(Json.Key).Order(StringComparer.Ordinal).ToList();
        AssertSameSet(expected, got, $"$everything of {record.Reference} for {actor.Name}");
        Assert.Contains(record.Reference, got);
        foreach (var included in GovernanceServer.Entries(reply.Body, "include"))
        {
            Assert.True(PolicyOracle.Refusal(actor, Verb.Read, included, record, breakGlass, now) is null,
                $"$everything of {record.Reference} for {actor.Name} included {Json.Key(included)}, which the policy hides from them.");
        }

        return new Cell(reply, null, PatientKnown: true);
    }

    private async Task<Cell> CreateAsync(Actor actor, PatientRecord record, Interaction interaction, bool breakGlass, DateTimeOffset now)
    {
        var body = interaction switch
        {
            Interaction.CreateObservation => Writes.HeartRate(record.Reference),
            Interaction.CreateEncounter => Writes.PastEncounter(record.Reference, actor.Organisation),
            _ => Writes.DraftConsent(record.Reference, actor.Organisation),
        };
        var type = body["resourceType"]!.GetValue<string>();

        // As stored: CareHub stamps the writer's organisation as the source (meta.source) when the writer did not say.
        var stored = body.DeepClone();
        if (actor.Organisation is { } ods)
        {
            stored["meta"] = new JsonObject { ["source"] = Json.SourcePrefix + ods };
        }

        var gate = PolicyOracle.Gate(actor, Verb.Create, type, breakGlass);
        var rule = gate ?? PolicyOracle.Refusal(actor, Verb.Create, JsonDocument.Parse(stored.ToJsonString()).RootElement, record, breakGlass, now);
        var reply = await server.PostAsync(actor.Name, "/" + type, body.ToJsonString(), breakGlass);
        AssertDecision(rule, HttpStatusCode.Created, reply);
        if (rule is null)
        {
            Assert.Equal(type, Json.Type(reply.Body));
        }

        // A write refused after the fact (the new resource is one the writer could not see) is audited by the write path;
        // whether that record names the rule and the patient is checked on its own (a_refused_write_is_audited_...).
        return new Cell(reply, rule, PatientKnown: rule is null, RuleInAudit: gate is not null || rule is null);
    }

    /// <summary>Allowed: the success status. Hidden by a sensitivity label: 404 that says nothing more. Otherwise 403 saying what to do.</summary>
    private static void AssertDecision(string? rule, HttpStatusCode allowed, Reply reply)
    {
        switch (rule)
        {
            case null:
                Assert.True(reply.Status == allowed, $"Expected {(int)allowed}, the policy allows it; got {reply}");
                break;
            case "sensitivity":
                Assert.True(reply.Status == HttpStatusCode.NotFound, $"Expected 404, hidden by a sensitivity label; got {reply}");
                Assert.DoesNotContain("sensitiv", reply.Diagnostics, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("PSY", reply.Diagnostics, StringComparison.Ordinal);
                break;
            default:
                Assert.True(reply.Status == HttpStatusCode.Forbidden, $"Expected 403 by rule {rule}; got {reply}");
                Assert.Equal("OperationOutcome", Json.Type(reply.Body));
                Assert.True(reply.Diagnostics.Contains(PolicyOracle.Remedy(rule), StringComparison.OrdinalIgnoreCase),
                    $"The refusal by rule {rule} should say how to proceed (mention '{PolicyOracle.Remedy(rule)}'): {reply.Diagnostics}");
                break;
        }
    }

    private static void AssertSameSet(List<string> expected, List<string> got, string what)
    {
        var leaked = got.Except(expected).ToList();
        var missing = expected.Except(got).ToList();
        Assert.True(leaked.Count == 0 && missing.Count == 0,
            $"{what}: {leaked.Count} returned that the policy hides ({string.Join(", ", leaked.Take(8))}); {missing.Count} missing that it allows ({string.Join(", ", missing.Take(8))}).");
    }

    private async Task AssertAuditAsync(Actor actor, PatientRecord record, Cell cell, bool breakGlass)
    {
        var events = await server.AuditOfAsync(cell.Reply.RequestId);
        var audit = Assert.Single(events);
        AuditChecks.AssertAuditEvent(actor, audit, cell.Rule is null, breakGlass);
        if (cell.Rule is not null && cell.RuleInAudit)
        {
            Assert.Contains(AuditChecks.DeniedSubtype, Json.Codings(audit, "subtype"));
            Assert.StartsWith($"[{cell.Rule}]", audit.GetProperty("outcomeDesc").GetString());
        }

        if (cell.PatientKnown)
        {
            Assert.Contains(record.Reference, AuditChecks.Entities(audit));
        }
    }
}

/// <summary>
/// The matrix's $everything cells: each compares the whole record returned with what the policy allows. A policy-filtered
/// $everything is far slower than the rest of the matrix, so these are a class of their own, run on SQLite.
/// </summary>
public abstract class EverythingMatrix(GovernanceServer server) : PolicyMatrixBase(server)
{
    /// <summary>The $everything cells: user x kind of patient x break-glass or not.</summary>
    public static IEnumerable<TheoryDataRow<string, PatientKind, Interaction, bool>> EverythingCells() =>
        AllCells().Where(c => c.Data.Item3 == Interaction.Everything);

    [Theory]
    [MemberData(nameof(EverythingCells), MemberType = typeof(EverythingMatrix))]
    public Task policy_matrix_everything_cell_returns_exactly_what_the_policy_allows_and_audits_it(string user, PatientKind kind, Interaction interaction, bool breakGlass) =>
        RunCellAsync(user, kind, interaction, breakGlass);
}
