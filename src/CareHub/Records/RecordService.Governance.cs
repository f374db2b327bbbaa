using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>
/// Record-level access: the policy's rules are query clauses, added to every search (so pages and totals hold only what
/// the caller may see) and run against the one resource of a read or write (so a read is decided exactly as a search
/// would decide it). A refusal names the rule and what to do; a record hidden by a sensitivity label reads as absent.
/// </summary>
public sealed partial class RecordService
{
    private ValueTask<RecordRules> RulesAsync(RequestContext context, string type, FhirInteraction interaction, CancellationToken cancellationToken) =>
        policy.RulesAsync(context.Principal, context.Purpose, type, interaction, cancellationToken);

    /// <summary>
    /// The clause that keeps a search over <paramref name="types"/> to what the caller may see; null when nothing is
    /// restricted. Over several types each distinct rule is stated once, for the types it applies to: a resource of type
    /// T must meet every rule of T, which is the same as meeting, for every rule, "not one of its types, or the rule".
    /// </summary>
    private async ValueTask<QueryClause?> VisibleClauseAsync(RequestContext context, IReadOnlyList<string> types, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        if (types.Count == 1)
        {
            return (await RulesAsync(context, types[0], interaction, cancellationToken)).Clause;
        }

        var byType = await policy.RulesForTypesAsync(context.Principal, context.Purpose, types, interaction, cancellationToken);
        var rules = new List<(AccessRule Rule, List<string> Types)>();
        foreach (var type in types)
        {
            foreach (var rule in byType[type].Rules)
            {
                var index = rules.FindIndex(r => ReferenceEquals(r.Rule, rule));
                if (index < 0)
                {
                    rules.Add((rule, [type]));
                }
                else
                {
                    rules[index].Types.Add(type);
                }
            }
        }

        if (rules.Count == 0)
        {
            return null;
        }

        var parts = rules.Select(r => r.Types.Count == types.Count
            ? r.Rule.Clause
            : new AnyClause([new TypesClause(types.Except(r.Types, StringComparer.Ordinal).ToList(), null), new TypesClause(r.Types, r.Rule.Clause)])).ToList();
        return new CorrelatedClause(parts.Count == 1 ? parts[0] : new AllClause(parts));
    }

    /// <summary>
    /// A caller's query as it may run: restricted to what the caller may see, and with every resource it reaches through a
    /// chain or <c>_has</c>, at every level, restricted the same way, so a criterion cannot test a record the caller may not
    /// see (a hidden record and a missing one select the same). The only way to a <see cref="QueryScope.Governed"/> query.
    /// </summary>
    private async ValueTask<StoreQuery> GovernAsync(RequestContext context, StoreQuery query, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        var clauses = await GovernAllAsync(context, query.Clauses, cancellationToken);
        if (await VisibleClauseAsync(context, query.Types ?? [query.Type], interaction, cancellationToken) is { } visible)
        {
            clauses.Add(visible);
        }

        return query with { Clauses = clauses, Scope = QueryScope.Governed };
    }

    /// <summary>
    /// A query CareHub built itself (includes, an operation's look-ups), restricted to what the caller may see. Its own
    /// chains and <c>_has</c> only relate what the caller already sees, so they are not narrowed again.
    /// </summary>
    private async ValueTask<StoreQuery> RestrictAsync(RequestContext context, StoreQuery query, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        var clause = await VisibleClauseAsync(context, query.Types ?? [query.Type], interaction, cancellationToken);
        return (clause is null ? query : query with { Clauses = [.. query.Clauses, clause] }) with { Scope = QueryScope.Governed };
    }

    /// <summary>
    /// The caller's clause with what each chain's targets and each <c>_has</c>'s sources may be narrowed to what the caller
    /// may search. A type the caller may not search at all is refused (403, as a search of it would be): that says
    /// something about the caller's role, nothing about any patient.
    /// </summary>
    private async ValueTask<QueryClause> GovernClauseAsync(RequestContext context, QueryClause clause, CancellationToken cancellationToken)
    {
        switch (clause)
        {
            case ChainClause chain:
            {
                var allowed = chain.TargetTypes.Where(t => policy.Decide(context.Principal, FhirInteraction.Search, t).Allowed).ToList();
                if (allowed.Count == 0)
                {
                    RefuseType(context, chain.TargetTypes[0]);
                }

                var inner = await GovernClauseAsync(context, chain.Inner, cancellationToken);
                var visible = await VisibleClauseAsync(context, allowed, FhirInteraction.Search, cancellationToken);
                return new ChainClause(chain.Param, allowed, visible is null ? inner : new AllClause([inner, visible]));
            }

            case HasClause has:
            {
                RefuseType(context, has.SourceType);
                var inner = await GovernClauseAsync(context, has.Inner, cancellationToken);
                var visible = await VisibleClauseAsync(context, [has.SourceType], FhirInteraction.Search, cancellationToken);
                return new HasClause(has.SourceType, has.Param, visible is null ? inner : new AllClause([inner, visible]));
            }

            case AnyClause any:
                return new AnyClause(await GovernAllAsync(context, any.AnyOf, cancellationToken));
            case AllClause all:
                return new AllClause(await GovernAllAsync(context, all.AllOf, cancellationToken));
            case NotClause not:
                return new NotClause(await GovernClauseAsync(context, not.Inner, cancellationToken));
            case CorrelatedClause correlated:
                return new CorrelatedClause(await GovernClauseAsync(context, correlated.Inner, cancellationToken));
            case TypesClause typed when typed.Inner is not null:
                return typed with { Inner = await GovernClauseAsync(context, typed.Inner, cancellationToken) };
            default:
                // Value clauses, ids, compartments, _list, _content: they test the resource's own index rows. (A _list's
                // List is not itself a patient record's content; its items are governed as the results.)
                return clause;
        }
    }

    /// <summary>Throws the 403 of a search of <paramref name="type"/> when the caller may not search it; the caller's request audits it.</summary>
    private void RefuseType(RequestContext context, string type)
    {
        var decision = policy.Decide(context.Principal, FhirInteraction.Search, type);
        if (!decision.Allowed)
        {
            throw new AccessDeniedException($"{decision.Reason} (a chained or _has parameter searches {type})");
        }
    }

    private async ValueTask<List<QueryClause>> GovernAllAsync(RequestContext context, IReadOnlyList<QueryClause> clauses, CancellationToken cancellationToken)
    {
        var governed = new List<QueryClause>(clauses.Count);
        foreach (var clause in clauses)
        {
            governed.Add(await GovernClauseAsync(context, clause, cancellationToken));
        }

        return governed;
    }

    /// <summary>
    /// Null when the caller may do <paramref name="interaction"/> on the resource as it stands in the store (or the
    /// session); otherwise the refusal, from the first rule the resource does not meet.
    /// </summary>
    private async ValueTask<AccessDecision?> CheckRecordAsync(Func<StoreQuery, Task<IReadOnlyList<string>>> find, RequestContext context, string type, string id, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        var rules = await RulesAsync(context, type, interaction, cancellationToken);
        if (rules.Rules.Count == 0 || (await find(new StoreQuery(type, [new IdClause([id]), rules.Clause!], 1) { Scope = AccessCheck })).Count > 0)
        {
            return null;
        }

        foreach (var rule in rules.Rules)
        {
            if ((await find(new StoreQuery(type, [new IdClause([id]), new CorrelatedClause(rule.Clause)], 1) { Scope = AccessCheck })).Count == 0)
            {
                return AccessDecision.Deny(rule.Denial, rule.Name) with { Hidden = rule.Hidden };
            }
        }

        return AccessDecision.Deny("The access policy does not allow this record.", "policy");
    }

    private static readonly QueryScope AccessCheck = QueryScope.Internal("the access policy's own check of one record");

    /// <summary>
    /// <see cref="CheckRecordAsync"/> on the record as committed, whose current version is <paramref name="version"/>: a
    /// decision made for a caller of the same shape since nothing it rests on was written is used again
    /// (<see cref="DecisionCache"/>); null for the version decides afresh.
    /// </summary>
    private async ValueTask<AccessDecision?> CheckStoredAsync(RequestContext context, string type, string id, int? version, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        if (version is not { } current || context.Principal.Kind == PrincipalKind.System)
        {
            return await CheckRecordAsync(FindInStore(cancellationToken), context, type, id, interaction, cancellationToken);
        }

        var key = DecisionCache.Key(context.Principal, context.Purpose, interaction, type, id, current);
        if (decisionCache.TryGet(key, out var kept))
        {
            return kept;
        }

        var madeAt = decisionCache.Generation;
        var decision = await CheckRecordAsync(FindInStore(cancellationToken), context, type, id, interaction, cancellationToken);
        decisionCache.Keep(key, madeAt, decision);
        return decision;
    }

    private Func<StoreQuery, Task<IReadOnlyList<string>>> FindInStore(CancellationToken cancellationToken) =>
        query => store.FindIdsAsync(query, cancellationToken);

    private static Func<StoreQuery, Task<IReadOnlyList<string>>> FindInSession(IWriteSession session, CancellationToken cancellationToken) =>
        query => session.FindIdsAsync(query, cancellationToken);

    /// <summary>Audits the refusal and throws it: 404 for a hidden record, 403 with the rule's explanation otherwise.</summary>
    private FhirException Refuse(RequestContext context, AccessDecision decision, string interaction, AuditEvent.AuditEventAction action, string type, string what, IReadOnlyCollection<string> patients)
    {
        audit.Record(context, new AuditFacts(interaction, action, type, [what], patients, false, decision.Reason, Rule: decision.Rule));
        return decision.Hidden
            ? AccessDeniedException.HiddenRecord($"{what} is not known.", decision.Rule, patients, audited: true)
            : new AccessDeniedException(decision.Reason, decision.Rule, patients, audited: true);
    }

    /// <summary>Whether the failure still needs its audit record (a refusal is audited where it is made, with its rule).</summary>
    private static bool NotYetAudited(FhirException e) => e is not AccessDeniedException { Audited: true };

    /// <summary>
    /// Inside a write: the caller must be allowed to change the resource as it was (update, delete) and to see it as it
    /// is after the write, so nobody writes into a record they could not read. Internal writes (hooks, operations the
    /// caller was already allowed) are not checked again.
    /// </summary>
    private async Task CheckWriteAsync(IWriteSession session, RequestContext? context, string type, string id, FhirInteraction interaction, bool after, CancellationToken cancellationToken)
    {
        if (context is null)
        {
            return;
        }

        if (await CheckRecordAsync(FindInSession(session, cancellationToken), context, type, id, interaction, cancellationToken) is { } refusal)
        {
            // The write's own failure audit records the refusal (the write path audits every failed write), with the rule
            // and the patient the write was about.
            var stored = await session.ReadAsync(type, id, cancellationToken);
            var patients = PatientsOf(type, id, stored?.Json).ToArray();
            throw after
                ? new AccessDeniedException($"The access policy does not let you write this {type} ({refusal.Rule}): {refusal.Reason}", refusal.Rule, patients)
                : refusal.Hidden
                    ? AccessDeniedException.HiddenRecord($"{type}/{id} is not known.", refusal.Rule, patients)
                    : new AccessDeniedException($"{refusal.Reason} (rule: {refusal.Rule})", refusal.Rule, patients);
        }
    }

    /// <summary>The types whose records give an organisation a legitimate relationship with their patient (the relationship rule).</summary>
    private static readonly HashSet<string> RelationshipTypes = new(StringComparer.Ordinal) { "Encounter", "EpisodeOfCare", "CareTeam", "ServiceRequest" };

    /// <summary>
    /// The patients of a user's write of a relationship-bearing record with whom the user had no legitimate relationship
    /// before it (empty for other writers and types). If the write then passes the policy, it was the write that gave the
    /// relationship: a relationship the user gave themselves (<see cref="RequireRelationshipReason"/>). Writes by systems (a
    /// trust's PAS, a GP system's feed) are the authoritative sources and count at once; break-glass is audited as such.
    /// </summary>
    private async Task<IReadOnlyList<string>> PatientsWithoutRelationshipAsync(IWriteSession session, RequestContext? context, string type, string id, string json, CancellationToken cancellationToken)
    {
        if (context is null || context.Principal.Kind != PrincipalKind.User || !RelationshipTypes.Contains(type))
        {
            return [];
        }

        var relationship = (await RulesAsync(context, "Patient", FhirInteraction.Read, cancellationToken)).Rules.FirstOrDefault(r => r.Name == "relationship");
        if (relationship is null)
        {
            return [];
        }

        var unrelated = new List<string>();
        foreach (var patient in PatientsOf(type, id, json))
        {
            var patientId = patient["Patient/".Length..];
            var held = FhirIds.IsValidId(patientId)
                ? await session.FindIdsAsync(new StoreQuery("Patient", [new IdClause([patientId]), new CorrelatedClause(relationship.Clause)], 1) { Scope = AccessCheck }, cancellationToken)
                : [];
            if (held.Count == 0)
            {
                unrelated.Add(patient);
            }
        }

        return unrelated;
    }

    /// <summary>
    /// A relationship a user's own write gave them. Like the NHS Spine's self-claimed legitimate relationships, it counts
    /// only with a reason (X-Relationship-Reason) and is flagged in the audit for the IG officer; without one the write is
    /// refused (rule <c>self-claimed-relationship</c>).
    /// </summary>
    private static void RequireRelationshipReason(RequestContext context, string type, IReadOnlyList<string> patients)
    {
        if (context.RelationshipReason is not null)
        {
            return;
        }

        throw new AccessDeniedException(
            $"This {type} would give you a legitimate relationship with a patient your organisation has none with. Say why in the header X-Relationship-Reason " +
            "(it is recorded, and the information governance officer reviews self-claimed relationships), or have the relationship recorded by its source system.",
            "self-claimed-relationship", patients.ToArray());
    }

    /// <summary>Stamps where a record came from when the writer acts for an organisation and did not say (data sharing agreements use it).</summary>
    private static void StampSource(RequestContext? context, Resource resource)
    {
        if (context?.Principal.Organisation is { Length: > 0 } ods && string.IsNullOrEmpty(resource.Meta?.Source))
        {
            resource.Meta ??= new Meta();
            resource.Meta.Source = OrganisationSource.For(ods);
        }
    }
}
