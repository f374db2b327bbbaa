using System.Globalization;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Search;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

public sealed partial class RecordService
{
    /// <summary>The most resources _include and _revinclude add to one page, over all their iterations.</summary>
    public const int MaxIncluded = 1000;

    /// <summary>Type-level search (R4 search.html) answering a searchset Bundle with stable keyset paging links.</summary>
    public Task<Bundle> SearchAsync(RequestContext context, string type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        EnsureType(type);
        return SearchCoreAsync(context, new SearchScope(type, [type], null, "search-type"), parameters, cancellationToken);
    }

    /// <summary>
    /// System-level search (R4 http.html#search): GET [base]?_type=A,B&amp;... over the listed types, or every type the
    /// caller may search (except AuditEvent, which is not part of the record) when _type is absent; the criteria must
    /// be parameters all of those types share.
    /// </summary>
    public Task<Bundle> SearchSystemAsync(RequestContext context, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var listed = TypesParameter(context, parameters);
        var types = listed ?? PermittedTypes(context, FhirInteraction.Search, ModelInfo.SupportedResources.Where(FhirIds.IsResourceType).Where(t => t != "AuditEvent"));
        return SearchCoreAsync(context, new SearchScope(string.Empty, types, null, "search-system", ListedTypes: listed is not null), parameters, cancellationToken);
    }

    /// <summary>
    /// Compartment search (R4 http.html#search, compartmentdefinition.html): [base]/Patient/[id]/[type]?... searches the
    /// resources of a type that are in the patient's compartment; a null <paramref name="type"/> ("*") searches all of them.
    /// </summary>
    public Task<Bundle> SearchCompartmentAsync(RequestContext context, string compartment, string id, string? type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        if (compartment != "Patient")
        {
            throw new ResourceNotFoundException($"Compartment search is supported for the Patient compartment, not {compartment}.", OperationOutcome.IssueType.NotSupported);
        }

        if (!FhirIds.IsValidId(id))
        {
            throw FhirException.NotFound($"Patient/{id} is not known.");
        }

        IReadOnlyList<string> types;
        var listed = type is null ? TypesParameter(context, parameters) : null;
        if (type is null)
        {
            types = listed ?? PermittedTypes(context, FhirInteraction.Search, PatientCompartment.ParamsByType.Keys.Where(t => t != "AuditEvent"));
        }
        else
        {
            EnsureType(type);
            if (!PatientCompartment.ParamsByType.ContainsKey(type))
            {
                throw FhirException.BadRequest($"{type} is not in the Patient compartment (R4 compartmentdefinition-patient.html).");
            }

            types = [type];
        }

        var scope = new CompartmentClause("Patient", id, PatientCompartment.Searchable(types));
        var path = $"Patient/{id}/{type ?? "*"}";
        return SearchCoreAsync(context, new SearchScope(path, types, scope, "search-compartment", ListedTypes: listed is not null), parameters, cancellationToken);
    }

    /// <summary>
    /// Patient/[id]/$everything (R4 patient-operation-everything.html): the patient, everything in its compartment and
    /// what those resources refer to, paged; _since (changed at or after), _type (only these types) and _count apply.
    /// </summary>
    public async Task<Bundle> EverythingAsync(RequestContext context, string id, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        Authorize(context, FhirInteraction.Read, "Patient", "operation", AuditEvent.AuditEventAction.E, $"Patient/{id}");
        var patient = FhirIds.IsValidId(id) ? await store.ReadAsync("Patient", id, null, cancellationToken) : null;
        if (patient is null || patient.Deleted)
        {
            throw FhirException.NotFound($"Patient/{id} is not known.");
        }

        if (await CheckStoredAsync(context, "Patient", id, patient.Version, FhirInteraction.Read, cancellationToken) is { } refusal)
        {
            throw Refuse(context, refusal, "operation", AuditEvent.AuditEventAction.E, "Patient", $"Patient/{id}", [$"Patient/{id}"]);
        }

        var criteria = new List<KeyValuePair<string, string>>();
        var linked = false;
        foreach (var (name, value) in parameters)
        {
            switch (name)
            {
                case var _ when PatientLinks is not null && name == PatientLinks.Parameter:
                    linked = value switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw FhirException.BadRequest($"{name} takes true or false, not '{value}'.", name),
                    };
                    break;
                case "_since":
                    criteria.Add(new("_lastUpdated", "ge" + value));
                    break;
                // _lastUpdated is what _since becomes, and so what the paging links carry.
                case "_type" or "_count" or "_cursor" or "_before" or "_format" or "_pretty" or "_total" or "_lastUpdated":
                    criteria.Add(new(name, value));
                    break;
                default:
                    if (context.StrictHandling)
                    {
                        throw FhirException.BadRequest($"$everything takes _since, _type and _count, not '{name}'.", name);
                    }

                    break;
            }
        }

        var listed = TypesParameter(context, criteria);
        var types = listed ?? PermittedTypes(context, FhirInteraction.Search, PatientCompartment.ParamsByType.Keys.Where(t => t != "AuditEvent"));
        var searchable = PatientCompartment.Searchable(types);
        QueryClause scope = new CompartmentClause("Patient", id, searchable);
        IReadOnlyList<KeyValuePair<string, string>> carried = [];
        if (linked && PatientLinks is not null)
        {
            // The compartments of the person's other records (each one is in its own compartment, so it comes too).
            var ids = (await PatientLinks.LinkedAsync(store, id, cancellationToken)).Prepend(id).Distinct(StringComparer.Ordinal).ToList();
            scope = ids.Count == 1 ? scope : new AnyClause(ids.Select(p => (QueryClause)new CompartmentClause("Patient", p, searchable)).ToList());
            carried = [new(PatientLinks.Parameter, "true")];
        }

        return await SearchCoreAsync(context, new SearchScope($"Patient/{id}/$everything", types, scope, "operation", IncludeReferenced: true, ListedTypes: listed is not null)
        {
            Carried = carried,
        }, criteria, cancellationToken);
    }

    /// <summary>
    /// Rebuilds the search index of every current resource from its stored body, a page at a time, each page in its own
    /// transaction. Run it once after upgrading a database that holds resources written before a change to what is
    /// indexed (migration 2 added the search tables, migration 3 the canonical units of quantities), and after creating or
    /// changing SearchParameter resources: it loads them first, so the index it builds has their rows.
    /// Idempotent; AuditEvents are left as the audit trail writes them (unindexed). Returns the number reindexed.
    /// </summary>
    public Task<long> ReindexAsync(CancellationToken cancellationToken) => ReindexAsync(null, cancellationToken);

    private static readonly QueryScope Reindexing = QueryScope.Internal("reindexing every resource");

    /// <param name="progress">Told after every page how many resources are done out of how many there were at the start
    /// (writes during the reindex can make "done" pass "total"; it is reported as at least "done").</param>
    public async Task<long> ReindexAsync(Action<ReindexProgress>? progress, CancellationToken cancellationToken)
    {
        await CustomSearchParameters.LoadAsync(store, cancellationToken);
        var types = ModelInfo.SupportedResources.Where(FhirIds.IsResourceType).Where(t => t != "AuditEvent").ToList();
        long total = 0;
        if (progress is not null)
        {
            total = (await store.SearchAsync(new StoreQuery(types[0], [], 0, CountTotal: true) { Types = types, Scope = Reindexing }, cancellationToken)).Total ?? 0;
            progress(new ReindexProgress(0, total));
        }

        PageCursor? after = null;
        long count = 0;
        while (true)
        {
            var page = await store.SearchAsync(new StoreQuery(types[0], [], 500, After: after) { Types = types, Scope = Reindexing }, cancellationToken);
            await using (var session = await store.BeginWriteAsync(cancellationToken))
            {
                foreach (var listed in page.Resources)
                {
                    // Read again inside the transaction: a write since the page was read must not get stale rows.
                    if (await session.ReadAsync(listed.Type, listed.Id, cancellationToken) is { Json: { } json } current)
                    {
                        // The hooks' rows too: without them a reindex would drop, say, the MPI's Person links and blocking keys.
                        var resource = StoredJson.Parse(json);
                        await session.ReplaceIndexAsync(current.Type, current.Id, WithHookRows(IndexRows(resource), resource), cancellationToken);
                        count++;
                    }
                }

                await session.CommitAsync(cancellationToken);
            }

            progress?.Invoke(new ReindexProgress(count, Math.Max(total, count)));
            if (!page.HasMore || page.NextCursor is null)
            {
                return count;
            }

            after = page.NextCursor;
        }
    }

    /// <summary>
    /// Where a search looks: the link path, the types, a clause every match must meet, the audit subtype; whether to add
    /// what the matches refer to ($everything) and whether the types came from _type (and so belong in the links).
    /// </summary>
    private sealed record SearchScope(string Path, IReadOnlyList<string> Types, QueryClause? Scope, string Interaction, bool IncludeReferenced = false, bool ListedTypes = false)
    {
        /// <summary>Parameters of the operation itself that the paging links must carry (they are no search parameters).</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Carried { get; init; } = [];
    }

    private async Task<Bundle> SearchCoreAsync(RequestContext context, SearchScope scope, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var auditType = scope.Types.Count == 1 ? scope.Types[0] : null;
        var query = Describe(parameters);
        foreach (var type in scope.Types)
        {
            Authorize(context, FhirInteraction.Search, type, scope.Interaction, AuditEvent.AuditEventAction.E, type);
        }

        try
        {
            if (scope.Types.Count == 0)
            {
                throw FhirException.BadRequest("No resource type to search: _type is empty or names types the access token does not allow searching.");
            }

            var request = SearchRequest.Parse(scope.Types, parameters, context.StrictHandling, context.BaseUrl, clock, await SearchLookups.LoadAsync(store, parameters, cancellationToken, terminology), context.SearchLimits);
            // The policy goes into the query itself, so paging and _total count only what the caller may see.
            var storeQuery = await GovernAsync(context, request.ToStoreQuery() with
            {
                Count = request.SummaryCount ? 0 : request.Count,
                Types = scope.Types.Count == 1 ? null : scope.Types,
            }, FhirInteraction.Search, cancellationToken);
            // The operation's own scope and the read views' clauses (docs/governance.md) are CareHub's, added as they are.
            storeQuery = storeQuery with
            {
                Clauses = [.. storeQuery.Clauses, .. scope.Scope is null ? [] : new[] { scope.Scope }, .. await ViewClausesAsync(context, scope.Types, parameters, cancellationToken)],
            };
            var page = await store.SearchAsync(storeQuery, cancellationToken);
            var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = FhirIds.NewId(), Meta = new Meta { LastUpdated = Now() } };
            if (page.Total is { } total)
            {
                bundle.Total = (int)Math.Min(total, int.MaxValue);
            }

            IReadOnlyList<KeyValuePair<string, string>> applied = scope.ListedTypes
                ? [.. scope.Carried, new("_type", string.Join(",", scope.Types)), .. request.Applied]
                : [.. scope.Carried, .. request.Applied];
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Link(context, scope.Path, applied, null, null) });
            if (page.HasMore && page.NextCursor is { } next)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(context, scope.Path, applied, "_cursor", SearchRequest.FormatCursor(next)) });
            }

            if (page.HasPrevious && page.PreviousCursor is { } previous)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "previous", Url = Link(context, scope.Path, applied, "_before", SearchRequest.FormatCursor(previous)) });
            }

            var patients = new HashSet<string>(StringComparer.Ordinal);
            foreach (var stored in await ShowAllAsync(context, page.Resources, cancellationToken))
            {
                bundle.Entry.Add(Entry(context, stored, request, Bundle.SearchEntryMode.Match));
                patients.UnionWith(PatientsOf(stored.Type, stored.Id, stored.Json));
            }

            var includes = scope.IncludeReferenced
                ? [.. request.Includes, .. page.Resources.Select(r => r.Type).Distinct().Select(t => new IncludeSpec(t, null, null, false, false))]
                : request.Includes;
            var included = includes.Count == 0 ? [] : await IncludeAsync(context, page.Resources, includes, cancellationToken);
            foreach (var stored in await ShowAllAsync(context, included, cancellationToken))
            {
                bundle.Entry.Add(Entry(context, stored, request, Bundle.SearchEntryMode.Include));
                patients.UnionWith(PatientsOf(stored.Type, stored.Id, stored.Json));
            }

            if (request.Ignored.Count > 0 || request.Warnings.Count > 0)
            {
                var outcome = new OperationOutcome();
                if (request.Ignored.Count > 0)
                {
                    outcome.Issue.Add(new OperationOutcome.IssueComponent
                    {
                        Severity = OperationOutcome.IssueSeverity.Warning,
                        Code = OperationOutcome.IssueType.NotSupported,
                        Diagnostics = $"These search parameters are not supported and were ignored: {string.Join(", ", request.Ignored)}. Send 'Prefer: handling=strict' to have them rejected.",
                    });
                }

                outcome.Issue.AddRange(request.Warnings.Select(w => new OperationOutcome.IssueComponent
                {
                    Severity = OperationOutcome.IssueSeverity.Warning,
                    Code = OperationOutcome.IssueType.Informational,
                    Diagnostics = w,
                }));
                bundle.Entry.Add(new Bundle.EntryComponent { Resource = outcome, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Outcome } });
            }

            audit.Record(context, new AuditFacts(scope.Interaction, AuditEvent.AuditEventAction.E, auditType,
                page.Resources.Concat(included).Select(r => $"{r.Type}/{r.Id}").ToList(), patients, true, Query: query));
            return bundle;
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts(scope.Interaction, AuditEvent.AuditEventAction.E, auditType, [], [], false, e.Message, query));
            throw;
        }
    }

    private static Bundle.EntryComponent Entry(RequestContext context, StoredResource stored, SearchRequest request, Bundle.SearchEntryMode mode) => new()
    {
        FullUrl = $"{context.BaseUrl}/{stored.Type}/{stored.Id}",
        Resource = Search.ResultShaping.Shape(stored.Json!, request.Summary, request.Elements),
        Search = new Bundle.SearchComponent { Mode = mode },
    };

    /// <summary>
    /// _include and _revinclude (search.html#include) through the reference index: first from the matches, then, for the
    /// :iterate ones, from what the previous round added, until nothing new comes or <see cref="MaxIncluded"/> is
    /// reached. Types the caller may not read are left out, silently, as a search leaves out what it may not see.
    /// </summary>
    private async Task<List<StoredResource>> IncludeAsync(RequestContext context, IReadOnlyList<StoredResource> matches, IReadOnlyList<IncludeSpec> includes, CancellationToken cancellationToken)
    {
        var seen = matches.Select(m => (m.Type, m.Id)).ToHashSet();
        var included = new List<StoredResource>();
        IReadOnlyList<StoredResource> frontier = matches;
        for (var round = 0; round < 4 && frontier.Count > 0 && included.Count < MaxIncluded; round++)
        {
            var next = new List<StoredResource>();
            foreach (var spec in includes.Where(s => round == 0 || s.Iterate))
            {
                var query = IncludeQuery(context, spec, frontier, MaxIncluded - included.Count);
                if (query is null)
                {
                    continue;
                }

                // Included resources are filtered by the same policy as matches: an include must not reveal what a search would hide.
                var page = await store.SearchAsync(await RestrictAsync(context, query, FhirInteraction.Read, cancellationToken), cancellationToken);
                foreach (var found in page.Resources)
                {
                    if (seen.Add((found.Type, found.Id)))
                    {
                        next.Add(found);
                    }
                }
            }

            included.AddRange(next.Take(MaxIncluded - included.Count));
            frontier = next;
        }

        return included;
    }

    private StoreQuery? IncludeQuery(RequestContext context, IncludeSpec spec, IReadOnlyList<StoredResource> from, int max)
    {
        var referenceParams = (spec.Param is null
            ? Search.SearchParameterCatalog.For(spec.SourceType).Values.Where(p => p.Type == SearchParamType.Reference)
            : [Search.SearchParameterCatalog.Find(spec.SourceType, spec.Param)!]).ToList();
        if (spec.Reverse)
        {
            // The SourceType resources that refer to what we have.
            if (!policy.Decide(context.Principal, FhirInteraction.Read, spec.SourceType).Allowed || from.Count == 0)
            {
                return null;
            }

            var targets = from.Where(r => spec.TargetType is null || r.Type == spec.TargetType).Select(r => new ReferenceMatch(r.Type, r.Id)).ToList();
            var clause = new AnyClause(referenceParams.Select(p => (QueryClause)new ReferenceClause(p.Name, targets)).ToList());
            return targets.Count == 0 ? null : new StoreQuery(spec.SourceType, [clause], max) { Scope = QueryScope.Request };
        }

        // What the SourceType resources we have refer to.
        var sources = from.Where(r => r.Type == spec.SourceType).Select(r => r.Id).ToList();
        if (sources.Count == 0)
        {
            return null;
        }

        var targetTypes = spec.TargetType is not null
            ? [spec.TargetType]
            : referenceParams.SelectMany(p => p.Targets).Distinct(StringComparer.Ordinal).ToList();
        if (targetTypes.Count == 0)
        {
            targetTypes = [.. ModelInfo.SupportedResources.Where(FhirIds.IsResourceType)];
        }

        var readable = targetTypes.Where(t => policy.Decide(context.Principal, FhirInteraction.Read, t).Allowed).ToList();
        if (readable.Count == 0)
        {
            return null;
        }

        var has = new AnyClause(referenceParams.Select(p => (QueryClause)new HasClause(spec.SourceType, p.Name, new IdClause(sources))).ToList());
        return new StoreQuery(readable[0], [has], max) { Types = readable, Scope = QueryScope.Request };
    }

    /// <summary>_type=A,B: the types named, each of which the caller must be allowed to search; null when absent.</summary>
    private IReadOnlyList<string>? TypesParameter(RequestContext context, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        var values = parameters.Where(p => p.Key == "_type").Select(p => p.Value).ToList();
        if (values.Count == 0)
        {
            return null;
        }

        var types = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        foreach (var type in types)
        {
            if (!FhirIds.IsResourceType(type))
            {
                throw FhirException.BadRequest($"_type names '{type}', which is not a FHIR R4 resource type.", "_type");
            }
        }

        return types;
    }

    private List<string> PermittedTypes(RequestContext context, FhirInteraction interaction, IEnumerable<string> types) =>
        types.Where(t => policy.Decide(context.Principal, interaction, t).Allowed).Order(StringComparer.Ordinal).ToList();

    /// <summary>History at instance, type or system level (R4 http.html#history), newest first, paged by keyset.</summary>
    public async Task<Bundle> HistoryAsync(RequestContext context, string? type, string? id, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        if (type is not null)
        {
            EnsureType(type);
        }

        var interaction = id is not null ? "history-instance" : type is not null ? "history-type" : "history-system";
        Authorize(context, FhirInteraction.Read, type ?? "*", interaction, AuditEvent.AuditEventAction.R, type ?? "*");
        try
        {
            DateTimeOffset? since = null;
            long? before = null;
            var count = SearchRequest.DefaultCount;
            var applied = new List<KeyValuePair<string, string>>();
            foreach (var (name, value) in parameters)
            {
                switch (name)
                {
                    case "_since":
                        since = FhirDates.Range(value)?.Start ?? throw FhirException.BadRequest($"_since must be a FHIR instant, not '{value}'.", "_since");
                        applied.Add(new(name, value));
                        break;
                    case "_count":
                        count = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c > 0
                            ? Math.Min(c, SearchRequest.MaxCount)
                            : throw FhirException.BadRequest($"_count must be a positive whole number, not '{value}'.", "_count");
                        applied.Add(new(name, FhirIds.FormatVersion(count)));
                        break;
                    case "_before":
                        before = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? b : throw FhirException.BadRequest("The paging cursor is not valid.", "_before");
                        break;
                    case "_format" or "_pretty":
                        break;
                    default:
                        if (context.StrictHandling)
                        {
                            throw FhirException.BadRequest($"The history parameter '{name}' is not supported (_since and _count are).", name);
                        }

                        break;
                }
            }

            if (id is not null && !FhirIds.IsValidId(id))
            {
                throw FhirException.NotFound($"{type}/{id} is not known.");
            }

            await CheckHistoryAsync(context, type, id, interaction, cancellationToken);
            var page = await store.HistoryAsync(new HistoryQuery(type, id, since, before, count), cancellationToken);
            if (id is not null && page.Total == 0)
            {
                throw FhirException.NotFound($"{type}/{id} is not known.");
            }

            var path = type is null ? "_history" : id is null ? $"{type}/_history" : $"{type}/{id}/_history";
            var bundle = new Bundle { Type = Bundle.BundleType.History, Id = FhirIds.NewId(), Total = (int)Math.Min(page.Total, int.MaxValue), Meta = new Meta { LastUpdated = Now() } };
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Link(context, path, applied, null, null) });
            if (page.NextBeforeSequence is { } next)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(context, path, applied, "_before", next.ToString(CultureInfo.InvariantCulture)) });
            }

            var patients = new HashSet<string>(StringComparer.Ordinal);
            foreach (var version in page.Versions)
            {
                var entry = new Bundle.EntryComponent
                {
                    FullUrl = $"{context.BaseUrl}/{version.Type}/{version.Id}",
                    Request = new Bundle.RequestComponent
                    {
                        Method = version.Method switch { "POST" => Bundle.HTTPVerb.POST, "DELETE" => Bundle.HTTPVerb.DELETE, "PATCH" => Bundle.HTTPVerb.PATCH, _ => Bundle.HTTPVerb.PUT },
                        Url = version.Method == "POST" ? version.Type : $"{version.Type}/{version.Id}",
                    },
                    Response = new Bundle.ResponseComponent
                    {
                        Status = version.Deleted ? "204 No Content" : version.Version == 1 ? "201 Created" : "200 OK",
                        Etag = $"W/\"{FhirIds.FormatVersion(version.Version)}\"",
                        LastModified = version.LastUpdated,
                    },
                };
                if (version.Json is not null && await ShowAsync(context, version, cancellationToken) is { Json: { } shown })
                {
                    entry.Resource = StoredJson.Parse(shown);
                }

                bundle.Entry.Add(entry);
                patients.UnionWith(PatientsOf(version.Type, version.Id, version.Json));
            }

            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, page.Versions.Select(v => $"{v.Type}/{v.Id}/_history/{FhirIds.FormatVersion(v.Version)}").ToList(), patients, true));
            return bundle;
        }
        catch (FhirException e) when (NotYetAudited(e))
        {
            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, [], [], false, e.Message));
            throw;
        }
    }

    /// <summary>
    /// History shows every version, including ones the policy would hide now, so a caller under record-level rules gets
    /// a record's own history only when they may read the record; whole-type and whole-server history is for callers
    /// the policy does not restrict (system clients).
    /// </summary>
    private async Task CheckHistoryAsync(RequestContext context, string? type, string? id, string interaction, CancellationToken cancellationToken)
    {
        if (type is not null && id is not null)
        {
            if (await store.ReadAsync(type, id, null, cancellationToken) is { Deleted: false }
                && await CheckRecordAsync(FindInStore(cancellationToken), context, type, id, FhirInteraction.Read, cancellationToken) is { } refusal)
            {
                throw Refuse(context, refusal, interaction, AuditEvent.AuditEventAction.R, type, $"{type}/{id}", []);
            }

            return;
        }

        var restricted = type is null
            ? context.Principal.Kind != PrincipalKind.System
            : (await RulesAsync(context, type, FhirInteraction.Read, cancellationToken)).Rules.Count > 0;
        if (restricted)
        {
            throw Refuse(context, AccessDecision.Deny("History of a whole type or of the whole server would show records the access policy hides from you; search instead, or read one record's history.", "history"),
                interaction, AuditEvent.AuditEventAction.R, type ?? "*", type ?? "*", []);
        }
    }

    private static string Link(RequestContext context, string path, IReadOnlyList<KeyValuePair<string, string>> applied, string? cursorName, string? cursor)
    {
        var parts = applied.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}").ToList();
        if (cursorName is not null)
        {
            parts.Add($"{cursorName}={Uri.EscapeDataString(cursor!)}");
        }

        var url = path.Length == 0 ? context.BaseUrl : $"{context.BaseUrl}/{path}";
        return parts.Count == 0 ? url : $"{url}?{string.Join("&", parts)}";
    }

    private static string Describe(IReadOnlyList<KeyValuePair<string, string>> parameters) =>
        string.Join("&", parameters.Select(p => $"{p.Key}={p.Value}"));
}

/// <summary>How far a reindex has got: resources done, out of the current resources there were when it started.</summary>
public sealed record ReindexProgress(long Done, long Total);
