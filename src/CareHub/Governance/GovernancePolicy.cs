using System.Collections.Concurrent;
using CareHub.Search;
using CareHub.Storage;

namespace CareHub.Governance;

/// <summary>
/// The information governance policy (docs/governance.md), applied by the one door to every read, search and write:
/// <list type="number">
/// <item>scopes: the token must grant the interaction on the type;</item>
/// <item>role: the user's job role must be allowed the interaction on the record's data category (policy file);</item>
/// <item>sensitivity: records labelled with a sensitive <c>meta.security</c> label the role may not see are hidden;</item>
/// <item>data sharing agreements: a record from another organisation is visible only under an agreement in force;</item>
/// <item>legitimate relationship: the user's organisation (or the user) must be the patient's registered practice or
/// custodian, hold a current or recent Encounter or EpisodeOfCare, be on a CareTeam, or have a referral;</item>
/// <item>consent: a patient's opt-out (Consent deny) is honoured; roles with the explicit consent model need a Consent
/// permit.</item>
/// </list>
/// Break-glass (purpose ETREAT with a reason) lifts the relationship and explicit-consent rules for roles that may use
/// it. A citizen sees their own compartment; a system client is bounded by its scopes only (it acts under the
/// connection agreement that issued its credentials). Every rule is a query clause, so searches filter in the database
/// and a read is decided by the same clauses.
/// </summary>
public sealed class GovernancePolicy(PolicyDocument document, IRecordLookups store, TimeProvider clock) : IAccessPolicy
{
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);

    /// <summary>NHS England's ODS organisation role of a GP practice (RO76), as the ODS import types practices.</summary>
    private const string PracticeRoleSystem = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole";
    private const string PracticeRoleCode = "RO76";

    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, IReadOnlyList<string> Ids)> organisations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, IReadOnlyList<ReferenceMatch> Matches)> practices = new(StringComparer.Ordinal);
    private (DateTimeOffset Until, IReadOnlyList<DataSharingAgreement> Agreements)? agreements;

    /// <summary>How long a caller shape's rules are kept: the clock built into them is at most this old.</summary>
    private static readonly TimeSpan RuleSetLifetime = TimeSpan.FromSeconds(1);

    private const int MaxRuleSets = 1000;

    private readonly ConcurrentDictionary<string, RuleSet> ruleSets = new(StringComparer.Ordinal);
    private long ruleGeneration;

    public PolicyDocument Document => document;

    public AccessDecision Decide(Principal principal, FhirInteraction interaction, string resourceType)
    {
        var verb = interaction.ToString().ToLowerInvariant();
        if (!principal.Allows(resourceType, interaction))
        {
            return AccessDecision.Deny($"The access token's scopes do not allow {verb} on {resourceType}.");
        }

        var role = RoleOf(principal);
        switch (principal.Kind)
        {
            case PrincipalKind.System:
                return AccessDecision.Permit("granted by scope");
            case PrincipalKind.User when role is null:
                return AccessDecision.Deny(principal.Role is null
                    ? "The access token does not say which job role the user is acting in (role claim), so the access policy cannot allow anything."
                    : $"The job role '{principal.Role}' is not in the access policy; ask the information governance lead to add it.", "role");
        }

        return Entries(resourceType).Any(e => role!.Allows(e.Category.Code, interaction))
            ? AccessDecision.Permit("granted by role")
            : AccessDecision.Deny($"The {role!.Display} role may not {verb} {resourceType} records under the access policy. Ask the information governance lead if your role needs this access.", "role");
    }

    public AccessDecision CheckPurpose(Principal principal, AccessPurpose purpose)
    {
        if (!purpose.BreakGlass)
        {
            return AccessDecision.Permit("treatment");
        }

        if (principal.Kind != PrincipalKind.User || RoleOf(principal) is not { BreakGlass: true })
        {
            return AccessDecision.Deny(principal.Kind == PrincipalKind.User
                ? $"The {RoleOf(principal)?.Display ?? principal.Role} role may not use break-glass under the access policy."
                : "Break-glass is for clinicians in an emergency, not for system or citizen access.", "break-glass");
        }

        return string.IsNullOrWhiteSpace(purpose.Reason)
            ? AccessDecision.Deny("Break-glass needs a reason: send X-Break-Glass-Reason with the emergency it is for.", "break-glass")
            : AccessDecision.Permit("break-glass");
    }

    public async ValueTask<RecordRules> RulesAsync(Principal principal, AccessPurpose purpose, string resourceType, FhirInteraction interaction, CancellationToken cancellationToken) =>
        (await RulesForTypesAsync(principal, purpose, [resourceType], interaction, cancellationToken))[resourceType];

    /// <summary>
    /// The rules for several types at once. A rule that is the same for several types is the same instance, so a search
    /// over many types ($everything, compartments) states each distinct rule once rather than once per type.
    /// </summary>
    public async ValueTask<IReadOnlyDictionary<string, RecordRules>> RulesForTypesAsync(Principal principal, AccessPurpose purpose, IReadOnlyList<string> resourceTypes, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, RecordRules>(StringComparer.Ordinal);
        switch (principal.Kind)
        {
            case PrincipalKind.System:
                foreach (var type in resourceTypes)
                {
                    result[type] = RecordRules.None;
                }

                return result;
            case PrincipalKind.Patient:
                foreach (var type in resourceTypes)
                {
                    result[type] = CitizenRules(principal, type, interaction);
                }

                return result;
        }

        var role = RoleOf(principal);
        if (role is null)
        {
            var refused = new RecordRules([new AccessRule("role", Nothing, "The job role is not in the access policy.")]);
            foreach (var type in resourceTypes)
            {
                result[type] = refused;
            }

            return result;
        }

        var set = await RuleSetAsync(principal, purpose, interaction, role, cancellationToken);
        lock (set)
        {
            foreach (var type in resourceTypes)
            {
                if (!set.ByType.TryGetValue(type, out var rules))
                {
                    rules = TypeRules(set, type);
                    set.ByType[type] = rules;
                }

                result[type] = rules;
            }
        }

        return result;
    }

    /// <summary>
    /// The rules of one caller shape (role, organisation, practitioner), purpose and interaction, made once and kept for
    /// <see cref="RuleSetLifetime"/>: a query over all types ($everything's includes) asks for the rules of every type many
    /// times in one request, and every request of a user asks again. The rules are query clauses, so what they read
    /// (encounters, consents) is read when the query runs; what is built into them is the clock (the relationship window,
    /// consent periods: at most <see cref="RuleSetLifetime"/> old) and the organisations and agreements, whose writes
    /// drop every kept set (<see cref="Changed"/>).
    /// </summary>
    private async ValueTask<RuleSet> RuleSetAsync(Principal principal, AccessPurpose purpose, FhirInteraction interaction, RolePolicy role, CancellationToken cancellationToken)
    {
        var key = string.Join('\u001f', principal.Role, principal.Organisation, principal.FhirUser, purpose.Code, interaction);
        var now = clock.GetUtcNow();
        var generation = Interlocked.Read(ref ruleGeneration);
        if (ruleSets.TryGetValue(key, out var kept) && kept.Generation == generation && now < kept.Made + RuleSetLifetime)
        {
            return kept;
        }

        var ods = principal.Organisation;
        var orgMatches = ods is null ? [] : await OrganisationMatchesAsync(ods, cancellationToken);
        var inForce = ods is null ? [] : await AgreementsInForceAsync(ods, purpose, cancellationToken);

        // The rules that do not depend on the type, made once.
        var hidden = document.SensitiveLabels.Except(role.SensitiveLabels, StringComparer.Ordinal).Select(Token).ToList();
        var sensitivity = hidden.Count == 0 ? null : new AccessRule("sensitivity", new NotClause(new TokenClause("_security", hidden)), "The record is not known.") { Hidden = true };
        var patientRules = new List<AccessRule>();
        var userMatches = UserMatches(principal);
        var ownSource = ods is null ? Nothing : OwnSource(ods);
        var actors = ActorKeys(orgMatches, ods, principal);
        if (!purpose.BreakGlass)
        {
            var related = document.BranchesAsOne && ods is not null ? await PracticeMatchesAsync(ods, orgMatches, cancellationToken) : orgMatches;
            patientRules.Add(new AccessRule("relationship", PatientScoped(Relationship(related, userMatches)),
                $"You have no legitimate relationship with this patient: {ods ?? "your organisation"} is not their registered practice and holds no current encounter, episode of care, care team membership or referral for them. " +
                "Record the relationship, or in an emergency use break-glass (headers X-Purpose-Of-Use: ETREAT and X-Break-Glass-Reason)."));
        }

        if (!(purpose.BreakGlass && document.BreakGlassOverridesOptOut))
        {
            patientRules.Add(new AccessRule("consent-opt-out", new AnyClause([ownSource, PatientScoped(new NotClause(Consent("deny", actors, purpose)))]),
                $"The patient has opted out of sharing this record with {ods ?? "you"} (a Consent with provision.type deny). Only the organisation that recorded it can see it."));
        }

        if (role.ExplicitConsent && !purpose.BreakGlass)
        {
            patientRules.Add(new AccessRule("consent-explicit", new AnyClause([ownSource, PatientScoped(Consent("permit", actors, purpose))]),
                $"The {role.Display} role works under explicit consent, and the patient has recorded no consent to share this record with {ods ?? "you"}. Record it as a Consent (provision.type permit, provision.actor your organisation) first."));
        }

        var set = new RuleSet(now, generation, role, interaction, ods, inForce, sensitivity, patientRules);
        if (ruleSets.Count >= MaxRuleSets)
        {
            ruleSets.Clear();
        }

        ruleSets[key] = set;
        return set;
    }

    /// <summary>The rules of one type in a rule set; type-dependent rules are shared between types whose categories are stated alike.</summary>
    private RecordRules TypeRules(RuleSet set, string type)
    {
        var role = set.Role;
        var rules = new List<AccessRule>();
        var entries = Entries(type);
        var shape = Shape(entries);
        if (entries.Any(e => !role.Allows(e.Category.Code, set.Interaction)))
        {
            if (!set.RoleRules.TryGetValue(shape, out var roleRule))
            {
                var allowed = entries.Where(e => role.Allows(e.Category.Code, set.Interaction)).Select(e => e.Category.Code).ToHashSet(StringComparer.Ordinal);
                var refused = string.Join(", ", entries.Select(e => e.Category.Code).Where(c => !allowed.Contains(c)).Distinct(StringComparer.Ordinal));
                roleRule = new AccessRule("role", InCategories(entries, allowed),
                    $"The {role.Display} role may not {set.Interaction.ToString().ToLowerInvariant()} {refused} records under the access policy. Ask the information governance lead if your role needs this access.");
                set.RoleRules[shape] = roleRule;
            }

            rules.Add(roleRule);
        }

        if (set.Sensitivity is not null)
        {
            rules.Add(set.Sensitivity);
        }

        var patientData = entries.Any(e => e.Category.PatientData);
        if (patientData && set.Ods is not null)
        {
            if (!set.AgreementRules.TryGetValue(shape, out var agreementRule))
            {
                agreementRule = new AccessRule("data-sharing-agreement", AgreementClause(entries, set.Ods, set.InForce),
                    $"No data sharing agreement in force lets {set.Ods} see this kind of record from the organisation that recorded it. The information governance officer can record one.");
                set.AgreementRules[shape] = agreementRule;
            }

            rules.Add(agreementRule);
        }

        if (patientData && IsPatientScoped(type))
        {
            // A type can hold records of a category without patient data (the MPI's review Tasks among clinical
            // Tasks): the patient rules are for the others.
            var notAboutPatients = entries.Where(e => !e.Category.PatientData).Select(e => e.Category.Code).ToHashSet(StringComparer.Ordinal);
            rules.AddRange(notAboutPatients.Count == 0
                ? set.PatientRules
                : set.PatientRules.Select(r => r with { Clause = new AnyClause([InCategories(entries, notAboutPatients), r.Clause]) }));
        }

        return new RecordRules(rules);
    }

    /// <summary>One caller shape's rules: those of every type, and those shared between types, made as types are asked for (under its lock).</summary>
    private sealed record RuleSet(DateTimeOffset Made, long Generation, RolePolicy Role, FhirInteraction Interaction, string? Ods,
        IReadOnlyList<DataSharingAgreement> InForce, AccessRule? Sensitivity, IReadOnlyList<AccessRule> PatientRules)
    {
        public Dictionary<string, RecordRules> ByType { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, AccessRule> RoleRules { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, AccessRule> AgreementRules { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>A key for how a type's categories are stated: types with the same key get the same category-dependent rules.</summary>
    private static string Shape(List<Entry> entries) =>
        string.Join(";", entries.Select(e => $"{e.Category.Code}:{e.Match.Param}:{string.Join(",", e.Match.Codes)}"));

    /// <summary>
    /// The types the rules read beyond the record decided: the patient (registered practice, managing organisation), the
    /// relationship-bearing records (<see cref="Relationship"/>), consents, the agreements (Contract) and the
    /// organisations (hierarchy). A rule that reads another type must name it here, or decisions kept across requests
    /// outlive a change to it.
    /// </summary>
    private static readonly HashSet<string> Inputs = new(StringComparer.Ordinal)
    {
        "Patient", "Encounter", "EpisodeOfCare", "CareTeam", "ServiceRequest", "Consent", "Contract", "Organization",
    };

    public bool DecisionsRead(string resourceType) => Inputs.Contains(resourceType);

    public void Changed(string resourceType)
    {
        if (resourceType == "Organization")
        {
            organisations.Clear();
            practices.Clear();
        }
        else if (resourceType == "Contract")
        {
            agreements = null;
        }
        else
        {
            return;
        }

        Interlocked.Increment(ref ruleGeneration);
        ruleSets.Clear();
    }

    // ---- citizens --------------------------------------------------------------------------------------------------

    private RecordRules CitizenRules(Principal principal, string resourceType, FhirInteraction interaction)
    {
        var rules = new List<AccessRule>();
        var entries = Entries(resourceType);
        var allowed = entries.Where(e => document.Citizen.Allows(e.Category.Code, interaction)).Select(e => e.Category.Code).ToHashSet(StringComparer.Ordinal);
        if (allowed.Count < entries.Select(e => e.Category.Code).Distinct(StringComparer.Ordinal).Count())
        {
            rules.Add(new AccessRule("role", InCategories(resourceType, allowed), $"Citizens may not {interaction.ToString().ToLowerInvariant()} these {resourceType} records."));
        }

        var own = principal.PatientId ?? string.Empty;
        if (resourceType == "Patient" || PatientCompartment.ParamsByType.ContainsKey(resourceType))
        {
            rules.Add(new AccessRule("own-record", new CompartmentClause("Patient", own, PatientCompartment.Searchable([resourceType])),
                "A citizen can see and change only their own record."));
        }
        else if (IsPatientScoped(resourceType))
        {
            rules.Add(new AccessRule("own-record", new ReferenceClause(GovernanceIndex.PatientParam, [new ReferenceMatch("Patient", own)]),
                "A citizen can see and change only their own record."));
        }

        return new RecordRules(rules);
    }

    // ---- categories ------------------------------------------------------------------------------------------------

    private sealed record Entry(DataCategory Category, CategoryMatch Match);

    /// <summary>The category matches that apply to a type, in policy order, up to the first that takes every resource of it.</summary>
    private List<Entry> Entries(string resourceType)
    {
        var entries = new List<Entry>();
        foreach (var category in document.Categories)
        {
            foreach (var match in category.Match.Where(m => m.Type == resourceType || m.Type == "*"))
            {
                entries.Add(new Entry(category, match));
                if (match.Param is null)
                {
                    return entries;
                }
            }
        }

        return entries;
    }

    /// <summary>The resource belongs to one of the categories: it meets that category's match and no earlier one.</summary>
    private QueryClause InCategories(string resourceType, IReadOnlySet<string> categories) => InCategories(Entries(resourceType), categories);

    private static QueryClause InCategories(List<Entry> entries, IReadOnlySet<string> categories)
    {
        var alternatives = new List<QueryClause>();
        for (var i = 0; i < entries.Count; i++)
        {
            if (!categories.Contains(entries[i].Category.Code))
            {
                continue;
            }

            var parts = entries.Take(i).Where(e => e.Match.Param is not null).Select(e => (QueryClause)new NotClause(Meets(e.Match))).ToList();
            if (entries[i].Match.Param is not null)
            {
                parts.Add(Meets(entries[i].Match));
            }

            alternatives.Add(parts.Count == 0 ? Everything : new AllClause(parts));
        }

        return alternatives.Count == 0 ? Nothing : new AnyClause(alternatives);
    }

    private static TokenClause Meets(CategoryMatch match) => new(match.Param!, match.Codes.Select(Token).ToList());

    private static TokenMatch Token(string systemAndCode)
    {
        var bar = systemAndCode.IndexOf('|', StringComparison.Ordinal);
        return new TokenMatch(systemAndCode[..bar], systemAndCode[(bar + 1)..], AnySystem: false);
    }

    private static readonly QueryClause Everything = new AllClause([]);
    private static readonly QueryClause Nothing = new AnyClause([]);

    // ---- patients --------------------------------------------------------------------------------------------------

    private static bool IsPatientScoped(string resourceType) =>
        resourceType == "Patient" || GovernanceIndex.PatientParamsOf(resourceType).Count > 0;

    /// <summary>
    /// The resource is the patient, or is in the compartment of a patient meeting <paramref name="patient"/>: through the
    /// governance index's patient rows, one parameter for every type.
    /// </summary>
    private static QueryClause PatientScoped(QueryClause patient) => new ChainClause(GovernanceIndex.PatientParam, ["Patient"], patient);

    private QueryClause Relationship(IReadOnlyList<ReferenceMatch> organisation, IReadOnlyList<ReferenceMatch> user)
    {
        var both = organisation.Concat(user).ToList();
        var cutoff = clock.GetUtcNow().AddDays(-document.RelationshipDays).ToUnixTimeMilliseconds();
        QueryClause recent(string param) => new AnyClause([new MissingClause(param, IndexTable.Date, true), new DateClause(param, [new DateMatch(Prefix.Ge, cutoff, cutoff + 1)])]);
        var alternatives = new List<QueryClause>();
        if (both.Count > 0)
        {
            alternatives.Add(new ReferenceClause("general-practitioner", both));
            alternatives.Add(new HasClause("CareTeam", "patient", new ReferenceClause("participant", both)));
            alternatives.Add(new HasClause("ServiceRequest", "patient", new ReferenceClause("performer", both)));
        }

        if (organisation.Count > 0)
        {
            alternatives.Add(new ReferenceClause("organization", organisation));
            alternatives.Add(new HasClause("Encounter", "patient", new AllClause([new ReferenceClause("service-provider", organisation), recent("date")])));
            alternatives.Add(new HasClause("EpisodeOfCare", "patient", new AllClause([new ReferenceClause("organization", organisation), recent("date")])));
        }

        return alternatives.Count == 0 ? Nothing : new AnyClause(alternatives);
    }

    /// <summary>The patient has a Consent in force, with the effect, naming the caller (or everyone), for this type and purpose.</summary>
    private QueryClause Consent(string effect, IReadOnlyList<string> actors, AccessPurpose purpose)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        return new HasClause("Consent", "patient", new AllClause(
        [
            new TokenClause("status", [new TokenMatch(null, "active", AnySystem: true)]),
            new TokenClause(GovernanceIndex.ConsentParam, actors.Prepend("*").Select(a => new TokenMatch(effect, a, AnySystem: false)).ToList()),
            new AnyClause([new MissingClause("period", IndexTable.Date, true), new AllClause([new DateClause("period", [new DateMatch(Prefix.Le, now, now + 1)]), new DateClause("period", [new DateMatch(Prefix.Ge, now, now + 1)])])]),
            new AnyClause([new MissingClause(GovernanceIndex.ConsentClassParam, IndexTable.Token, true), new SubjectTypeTokenClause(GovernanceIndex.ConsentClassParam, GovernanceIndex.ResourceTypesSystem)]),
            new AnyClause([new MissingClause("purpose", IndexTable.Token, true), new TokenClause("purpose", [new TokenMatch(AccessPurpose.ActReasonSystem, purpose.Code, AnySystem: false)])]),
        ]));
    }

    private static List<string> ActorKeys(IReadOnlyList<ReferenceMatch> organisation, string? ods, Principal principal)
    {
        var keys = organisation.Where(m => m.TargetType is not null).Select(m => $"{m.TargetType}/{m.TargetId}").ToList();
        if (ods is not null)
        {
            keys.Add("ods:" + ods);
        }

        if (principal.FhirUser is { } user)
        {
            keys.Add(user);
        }

        return keys;
    }

    private static List<ReferenceMatch> UserMatches(Principal principal)
    {
        if (principal.FhirUser is not { } user || user.Split('/') is not [var type, var id])
        {
            return [];
        }

        return [new ReferenceMatch(type, id)];
    }

    /// <summary>The caller's organisation as references: the Organization resources carrying its ODS code, and logical references by that code.</summary>
    private async ValueTask<IReadOnlyList<ReferenceMatch>> OrganisationMatchesAsync(string ods, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (!organisations.TryGetValue(ods, out var cached) || cached.Until < now)
        {
            var page = await store.SearchAsync(new StoreQuery("Organization", [new TokenClause("identifier", [new TokenMatch(OrganisationSource.OdsSystem, ods, AnySystem: false)])], 20) { Scope = QueryScope.Internal("the policy's organisation look-up") }, cancellationToken);
            cached = (now + CacheLifetime, page.Resources.Select(r => r.Id).ToList());
            organisations[ods] = cached;
        }

        return [.. cached.Ids.Select(id => new ReferenceMatch("Organization", id)), new ReferenceMatch(null, null, IdentifierSystem: OrganisationSource.OdsSystem, IdentifierValue: ods)];
    }

    /// <summary>
    /// With <see cref="PolicyDocument.BranchesAsOne"/>: the caller's organisation widened to its GP practice and the
    /// practice's branches, when the caller's organisation is a practice (ODS role RO76) or the branch of one. Only that
    /// far: a practice's own partOf is its commissioner, whose other practices are not one with it.
    /// </summary>
    private async ValueTask<IReadOnlyList<ReferenceMatch>> PracticeMatchesAsync(string ods, IReadOnlyList<ReferenceMatch> own, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (practices.TryGetValue(ods, out var cached) && cached.Until >= now)
        {
            return cached.Matches;
        }

        var scope = QueryScope.Internal("the policy's practice and branches look-up");
        string? practice = null;
        foreach (var id in own.Where(m => m.TargetType == "Organization").Select(m => m.TargetId!))
        {
            var organisation = await OrganisationAsync(id, cancellationToken);
            if (IsPractice(organisation))
            {
                practice = id;
                break;
            }

            if (organisation?.PartOf?.Reference is { } parent && parent.StartsWith("Organization/", StringComparison.Ordinal)
                && IsPractice(await OrganisationAsync(parent["Organization/".Length..], cancellationToken)))
            {
                practice = parent["Organization/".Length..];
                break;
            }
        }

        var matches = own.ToList();
        if (practice is not null)
        {
            var branches = await store.SearchAsync(new StoreQuery("Organization", [new ReferenceClause("partof", [new ReferenceMatch("Organization", practice)])], 200) { Scope = scope }, cancellationToken);
            foreach (var member in branches.Resources.Select(r => r.Id).Append(practice).Distinct(StringComparer.Ordinal))
            {
                matches.Add(new ReferenceMatch("Organization", member));
                if ((await OrganisationAsync(member, cancellationToken))?.Identifier.FirstOrDefault(i => i.System == OrganisationSource.OdsSystem)?.Value is { } code)
                {
                    matches.Add(new ReferenceMatch(null, null, IdentifierSystem: OrganisationSource.OdsSystem, IdentifierValue: code));
                }
            }
        }

        IReadOnlyList<ReferenceMatch> result = matches.Distinct().ToList();
        practices[ods] = (now + CacheLifetime, result);
        return result;
    }

    private async ValueTask<Hl7.Fhir.Model.Organization?> OrganisationAsync(string id, CancellationToken cancellationToken) =>
        await store.ReadAsync("Organization", id, null, cancellationToken) is { Json: { } json } ? Records.StoredJson.Parse(json) as Hl7.Fhir.Model.Organization : null;

    private static bool IsPractice(Hl7.Fhir.Model.Organization? organisation) =>
        organisation?.Type.Any(t => t.Coding.Any(c => c.System == PracticeRoleSystem && c.Code == PracticeRoleCode)) == true;

    // ---- data sharing agreements -----------------------------------------------------------------------------------

    private static QueryClause OwnSource(string ods) =>
        new TokenClause(GovernanceIndex.SourceParam, [new TokenMatch(OrganisationSource.OdsSystem, ods, AnySystem: false)]);

    /// <summary>
    /// The record has no recorded source (the hub's own shared record), or came from the caller's organisation, or from
    /// an organisation that shares records of its category with the caller's under an agreement in force for the purpose.
    /// </summary>
    private static QueryClause AgreementClause(List<Entry> entries, string ods, IReadOnlyList<DataSharingAgreement> inForce)
    {
        var alternatives = new List<QueryClause>
        {
            new MissingClause(GovernanceIndex.SourceParam, IndexTable.Token, true),
            OwnSource(ods),
        };
        var byCategory = entries.Select(e => e.Category.Code).Distinct(StringComparer.Ordinal)
            .Select(category => (Category: category, Sources: inForce.Where(a => a.Categories.Count == 0 || a.Categories.Contains(category)).SelectMany(a => a.Sources).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()))
            .ToList();
        if (byCategory.Count > 0 && byCategory.All(c => c.Sources.SequenceEqual(byCategory[0].Sources, StringComparer.Ordinal)))
        {
            // Every category of the type is shared by the same organisations: no need to tell the categories apart.
            if (byCategory[0].Sources.Count > 0)
            {
                alternatives.Add(SourceIn(byCategory[0].Sources));
            }
        }
        else
        {
            foreach (var (category, sources) in byCategory.Where(c => c.Sources.Count > 0))
            {
                alternatives.Add(new AllClause([InCategories(entries, new HashSet<string>([category], StringComparer.Ordinal)), SourceIn(sources)]));
            }
        }

        return new AnyClause(alternatives);
    }

    private static TokenClause SourceIn(IEnumerable<string> sources) =>
        new(GovernanceIndex.SourceParam, sources.Select(s => new TokenMatch(OrganisationSource.OdsSystem, s, AnySystem: false)).ToList());

    /// <summary>The agreements in force now that share with the organisation for the purpose.</summary>
    private async ValueTask<List<DataSharingAgreement>> AgreementsInForceAsync(string ods, AccessPurpose purpose, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        return (await AgreementsAsync(cancellationToken)).Where(a => a.InForce(now) && a.Recipients.Contains(ods) && a.Covers(purpose.Code)).ToList();
    }

    private async ValueTask<IReadOnlyList<DataSharingAgreement>> AgreementsAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (agreements is { } cached && cached.Until >= now)
        {
            return cached.Agreements;
        }

        var list = new List<DataSharingAgreement>();
        PageCursor? after = null;
        while (true)
        {
            // R4 has no search parameter on Contract.type: read the Contracts and keep the agreements (there are few).
            var page = await store.SearchAsync(new StoreQuery("Contract", [], 200, After: after) { Scope = QueryScope.Internal("the policy's data sharing agreements") }, cancellationToken);
            list.AddRange(page.Resources.Select(r => DataSharingAgreement.Parse(r.Json!)).OfType<DataSharingAgreement>());
            if (!page.HasMore || page.NextCursor is null)
            {
                break;
            }

            after = page.NextCursor;
        }

        agreements = (now + CacheLifetime, list);
        return list;
    }

    private RolePolicy? RoleOf(Principal principal) => principal.Kind switch
    {
        PrincipalKind.Patient => document.Citizen,
        PrincipalKind.User => document.Role(principal.Role),
        _ => null,
    };
}
