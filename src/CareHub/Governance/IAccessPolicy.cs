using CareHub.Storage;

namespace CareHub.Governance;

/// <summary>
/// The access policy the one door consults on every read and write. <see cref="Decide"/> is the gate for an interaction
/// on a type (scopes, role); <see cref="RulesAsync"/> says which records of the type the caller may see or change, as
/// query clauses, so that searches filter in the database (paging and totals count only what may be seen) and a read
/// or write is checked by the same clauses.
/// </summary>
public interface IAccessPolicy
{
    AccessDecision Decide(Principal principal, FhirInteraction interaction, string resourceType);

    /// <summary>The record-level rules for the caller, type and interaction, under the purpose asserted.</summary>
    ValueTask<RecordRules> RulesAsync(Principal principal, AccessPurpose purpose, string resourceType, FhirInteraction interaction, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RecordRules.None);

    /// <summary>The rules for several types; a rule shared by several types is one instance, so callers can state it once.</summary>
    async ValueTask<IReadOnlyDictionary<string, RecordRules>> RulesForTypesAsync(Principal principal, AccessPurpose purpose, IReadOnlyList<string> resourceTypes, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        var rules = new Dictionary<string, RecordRules>(StringComparer.Ordinal);
        foreach (var type in resourceTypes)
        {
            rules[type] = await RulesAsync(principal, purpose, type, interaction, cancellationToken);
        }

        return rules;
    }

    /// <summary>Whether the purpose asserted is one this caller may assert.</summary>
    AccessDecision CheckPurpose(Principal principal, AccessPurpose purpose) =>
        purpose.BreakGlass ? AccessDecision.Deny("Break-glass is not enabled.", "break-glass") : AccessDecision.Permit("treatment");

    /// <summary>
    /// Whether the policy's decision on one record can depend on records of <paramref name="resourceType"/> other than
    /// itself (a patient's encounters, consents, agreements): a write of such a type drops the decisions kept in
    /// <see cref="DecisionCache"/>. Every type unless the policy says otherwise.
    /// </summary>
    bool DecisionsRead(string resourceType) => true;

    /// <summary>Called after a committed write, so cached reference data (organisations, agreements) can be refreshed.</summary>
    void Changed(string resourceType)
    {
    }
}

/// <summary>The policy decision for one interaction: allowed or not, and why (said to the client without leaking what was hidden).</summary>
public sealed record AccessDecision(bool Allowed, string Reason)
{
    /// <summary>The rule that decided (e.g. <c>scope</c>, <c>role</c>, <c>relationship</c>), for the audit record.</summary>
    public string Rule { get; init; } = "scope";

    /// <summary>A denial that must read as "not found": saying "denied" would itself disclose something (a sensitivity label).</summary>
    public bool Hidden { get; init; }

    public static AccessDecision Permit(string reason) => new(true, reason);

    public static AccessDecision Deny(string reason, string rule = "scope") => new(false, reason) { Rule = rule };
}

/// <summary>
/// Why the caller is asking (purpose of use, HL7 v3 ActReason): treatment by default; <c>ETREAT</c> with a free-text
/// reason is break-glass.
/// </summary>
public sealed record AccessPurpose(string Code, string? Reason = null)
{
    public const string ActReasonSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
    public const string Treatment = "TREAT";
    public const string EmergencyTreatment = "ETREAT";

    public static AccessPurpose Default { get; } = new(Treatment);

    public bool BreakGlass => Code == EmergencyTreatment;
}

/// <summary>
/// One record-level rule: the resources of a type the caller may see meet <see cref="Clause"/>; a resource that does
/// not is refused with <see cref="Denial"/>.
/// </summary>
public sealed record AccessRule(string Name, QueryClause Clause, string Denial)
{
    /// <summary>Refused as "not found" rather than "forbidden" (see <see cref="AccessDecision.Hidden"/>).</summary>
    public bool Hidden { get; init; }
}

/// <summary>The record-level rules for one caller, type and interaction; all must hold. Empty: every record of the type.</summary>
public sealed record RecordRules(IReadOnlyList<AccessRule> Rules)
{
    public static RecordRules None { get; } = new([]);

    /// <summary>The rules as one query clause, or null when nothing is restricted.</summary>
    public QueryClause? Clause => Rules.Count switch
    {
        0 => null,
        1 => new CorrelatedClause(Rules[0].Clause),
        _ => new CorrelatedClause(new AllClause(Rules.Select(r => r.Clause).ToList())),
    };
}

/// <summary>SMART scopes only: the token must grant the interaction on the type, in the caller's context.</summary>
public sealed class ScopeAccessPolicy : IAccessPolicy
{
    public AccessDecision Decide(Principal principal, FhirInteraction interaction, string resourceType) =>
        principal.Allows(resourceType, interaction)
            ? AccessDecision.Permit("granted by scope")
            : AccessDecision.Deny($"The access token's scopes do not allow {interaction.ToString().ToLowerInvariant()} on {resourceType}.");
}
