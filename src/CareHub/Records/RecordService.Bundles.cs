using System.Globalization;
using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

public sealed partial class RecordService
{
    private sealed record EntryPlan(int Index, Bundle.HTTPVerb Method, string Type, string? Id, int? Version, string? Criteria, Resource? Resource, Bundle.EntryComponent Entry)
    {
        public string? AssignedId { get; set; }

        public RecordResult? Done { get; set; }

        public Bundle? SearchResult { get; set; }

        public int Order => Method switch
        {
            Bundle.HTTPVerb.DELETE => 0,
            Bundle.HTTPVerb.POST => 1,
            Bundle.HTTPVerb.PUT or Bundle.HTTPVerb.PATCH => 2,
            _ => 3,
        };
    }

    /// <summary>batch and transaction Bundles (R4 http.html#transaction).</summary>
    public Task<Bundle> ProcessBundleAsync(RequestContext context, Bundle bundle, CancellationToken cancellationToken) =>
        bundle.Type switch
        {
            Bundle.BundleType.Transaction => TransactionAsync(context, bundle, cancellationToken),
            Bundle.BundleType.Batch => BatchAsync(context, bundle, cancellationToken),
            _ => throw FhirException.BadRequest("Only batch and transaction Bundles can be posted to the base URL.", "Bundle.type"),
        };

    private static EntryPlan Plan(Bundle.EntryComponent entry, int index)
    {
        var where = $"Bundle.entry[{index.ToString(CultureInfo.InvariantCulture)}]";
        var request = entry.Request ?? throw FhirException.BadRequest($"{where} has no request.", $"{where}.request");
        var method = request.Method ?? throw FhirException.BadRequest($"{where} has no request.method.", $"{where}.request.method");
        var url = request.Url ?? throw FhirException.BadRequest($"{where} has no request.url.", $"{where}.request.url");
        if (Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            throw FhirException.BadRequest($"{where}.request.url must be relative to the server base, not '{url}'.", $"{where}.request.url");
        }

        var question = url.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? url : url[..question];
        var criteria = question < 0 ? null : url[(question + 1)..];
        var segments = path.Trim('/').Split('/');
        var type = segments[0];
        if (!FhirIds.IsResourceType(type))
        {
            throw FhirException.BadRequest($"{where}.request.url '{url}' does not start with a FHIR resource type.", $"{where}.request.url");
        }

        string? id = segments.Length >= 2 ? segments[1] : null;
        int? version = segments.Length == 4 && segments[2] == "_history" && int.TryParse(segments[3], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        if (segments.Length > 2 && version is null || segments.Length == 3 || segments.Length > 4)
        {
            throw FhirException.BadRequest($"{where}.request.url '{url}' is not a supported interaction URL.", $"{where}.request.url");
        }

        if (method is Bundle.HTTPVerb.POST or Bundle.HTTPVerb.PUT)
        {
            if (entry.Resource is null)
            {
                throw FhirException.BadRequest($"{where} ({method}) has no resource.", $"{where}.resource");
            }

            if (entry.Resource.TypeName != type)
            {
                throw FhirException.BadRequest($"{where}: the resource is a {entry.Resource.TypeName} but request.url is for {type}.", $"{where}.resource");
            }
        }

        if (method is Bundle.HTTPVerb.PUT or Bundle.HTTPVerb.PATCH or Bundle.HTTPVerb.DELETE && id is null && criteria is null)
        {
            throw FhirException.BadRequest($"{where}: {method} needs Type/id or Type?criteria in request.url.", $"{where}.request.url");
        }

        return new EntryPlan(index, method, type, id, version, criteria, entry.Resource, entry);
    }

    /// <summary>
    /// The rules a transaction must keep before anything runs (R4 http.html#transaction): each fullUrl names one entry
    /// (bundle.html, bdl-7: unless the versions differ), and no resource is the target of two of the DELETE, POST and
    /// PUT/PATCH steps, "the transaction SHALL fail" otherwise, since their order would decide the outcome.
    /// </summary>
    private static void CheckTransactionRules(IReadOnlyList<EntryPlan> plans)
    {
        var fullUrls = new Dictionary<string, int>(StringComparer.Ordinal);
        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var plan in plans)
        {
            if (plan.Entry.FullUrl is { Length: > 0 } fullUrl && !fullUrls.TryAdd($"{fullUrl}|{plan.Resource?.Meta?.VersionId}", plan.Index))
            {
                var first = fullUrls[$"{fullUrl}|{plan.Resource?.Meta?.VersionId}"];
                throw FhirException.BadRequest($"Bundle.entry[{first}] and Bundle.entry[{plan.Index}] have the same fullUrl '{fullUrl}': each entry of a transaction has its own (R4 bundle.html, bdl-7).", $"Bundle.entry[{plan.Index}].fullUrl");
            }

            var target = plan.Method == Bundle.HTTPVerb.GET ? null
                : plan.Id is not null ? $"{plan.Type}/{plan.Id}"
                : plan.Criteria is not null ? $"{plan.Type}?{plan.Criteria}"
                : null;
            if (target is not null && !targets.TryAdd(target, plan.Index))
            {
                throw SameTarget(targets[target], plan.Index, target);
            }
        }
    }

    /// <summary>The same rule once conditional updates have found their targets: two entries may not change one resource.</summary>
    private static void CheckResolvedIdentities(IReadOnlyList<EntryPlan> plans)
    {
        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var plan in plans.Where(p => p.Method is not Bundle.HTTPVerb.GET))
        {
            var id = plan.Method is Bundle.HTTPVerb.PUT ? plan.AssignedId : plan.Id;
            if (id is not null && !targets.TryAdd($"{plan.Type}/{id}", plan.Index))
            {
                // The resolved id is not named: a condition may have matched a record the caller cannot see.
                throw SameTarget(targets[$"{plan.Type}/{id}"], plan.Index, $"the same {plan.Type}");
            }
        }
    }

    private static FhirException SameTarget(int first, int second, string target) =>
        FhirException.BadRequest($"Bundle.entry[{first}] and Bundle.entry[{second}] both change {target}: a transaction may not act on one resource twice (R4 http.html#transaction).", $"Bundle.entry[{second}].request.url");

    private static FhirInteraction Permission(EntryPlan plan) => plan.Method switch
    {
        Bundle.HTTPVerb.POST => FhirInteraction.Create,
        Bundle.HTTPVerb.PUT or Bundle.HTTPVerb.PATCH => FhirInteraction.Update,
        Bundle.HTTPVerb.DELETE => FhirInteraction.Delete,
        _ => plan.Id is null ? FhirInteraction.Search : FhirInteraction.Read,
    };

    private async Task<Bundle> TransactionAsync(RequestContext context, Bundle bundle, CancellationToken cancellationToken)
    {
        var plans = bundle.Entry.Select(Plan).ToList();
        CheckTransactionRules(plans);
        foreach (var plan in plans)
        {
            Authorize(context, Permission(plan), plan.Type, "transaction", AuditEvent.AuditEventAction.E, plan.Type);
        }

        var written = new List<string>();
        var patients = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var session = await store.BeginWriteAsync(cancellationToken);
            var targets = new Dictionary<string, string>(StringComparer.Ordinal);
            var conditionalReferences = new Dictionary<string, string>(StringComparer.Ordinal);

            // Ids first, so every reference to a new resource can be rewritten before anything is written.
            foreach (var plan in plans)
            {
                var fullUrl = plan.Entry.FullUrl;
                if (plan.Method == Bundle.HTTPVerb.POST)
                {
                    var existing = plan.Entry.Request!.IfNoneExist is { } ifNoneExist
                        ? await FindOneAsync(session, context, plan.Type, ifNoneExist, $"Bundle.entry[{plan.Index}] ifNoneExist", cancellationToken)
                        : null;
                    if (existing is not null)
                    {
                        plan.Done = Result(HttpStatusCode.OK, existing);
                        plan.AssignedId = existing.Id;
                    }
                    else
                    {
                        plan.AssignedId = FhirIds.NewId();
                    }
                }
                else if (plan.Method == Bundle.HTTPVerb.PUT)
                {
                    if (plan.Id is not null)
                    {
                        plan.AssignedId = plan.Id;
                    }
                    else
                    {
                        var match = await FindOneAsync(session, context, plan.Type, plan.Criteria!, $"Bundle.entry[{plan.Index}] conditional update", cancellationToken);
                        plan.AssignedId = match?.Id ?? (string.IsNullOrEmpty(plan.Resource!.Id) ? FhirIds.NewId() : plan.Resource.Id);
                    }
                }

                if (fullUrl is not null && plan.AssignedId is not null)
                {
                    targets[fullUrl] = $"{plan.Type}/{plan.AssignedId}";
                }
            }

            CheckResolvedIdentities(plans);
            foreach (var plan in plans.Where(p => p.Resource is not null && p.Method is Bundle.HTTPVerb.POST or Bundle.HTTPVerb.PUT))
            {
                await ResolveReferencesAsync(session, context, plan, targets, conditionalReferences, inTransaction: true, cancellationToken);
            }

            foreach (var plan in plans.OrderBy(p => p.Order).ThenBy(p => p.Index))
            {
                try
                {
                    await ExecuteAsync(session, context, plan, cancellationToken);
                }
                catch (FhirException e)
                {
                    throw e.WithDiagnosticsPrefix($"Bundle.entry[{plan.Index}]: ");
                }

                // What the transaction wrote and what its reads disclosed, for its audit record.
                if (plan.Done is { } done && done.Version > 0)
                {
                    written.Add(done.VersionedReference);
                    patients.UnionWith(PatientsOf(done.Type, done.Id, done.Json));
                }

                foreach (var found in (plan.SearchResult?.Entry ?? []).Select(e => e.Resource).OfType<Resource>())
                {
                    written.Add($"{found.TypeName}/{found.Id}");
                    patients.UnionWith(PatientsOf(found.TypeName, found.Id ?? string.Empty, FhirSerialization.ToJson(found)));
                }
            }

            await session.WriteAsync(audit.ToWrite(context, new AuditFacts("transaction", AuditEvent.AuditEventAction.E, null, written, patients, true) { SelfClaimed = plans.Any(p => p.Done?.SelfClaimed == true) }), cancellationToken);
            await session.CommitAsync(cancellationToken);
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts("transaction", AuditEvent.AuditEventAction.E, null, [], [], false, e.Message));
            throw;
        }

        var response = new Bundle { Type = Bundle.BundleType.TransactionResponse, Id = FhirIds.NewId(), Meta = new Meta { LastUpdated = Now() } };
        foreach (var plan in plans)
        {
            response.Entry.Add(ResponseEntry(context, plan));
        }

        return response;
    }

    private async Task<Bundle> BatchAsync(RequestContext context, Bundle bundle, CancellationToken cancellationToken)
    {
        var response = new Bundle { Type = Bundle.BundleType.BatchResponse, Id = FhirIds.NewId(), Meta = new Meta { LastUpdated = Now() } };
        var outcomes = new Bundle.EntryComponent[bundle.Entry.Count];
        var plans = new List<EntryPlan>();
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            try
            {
                plans.Add(Plan(bundle.Entry[i], i));
            }
            catch (FhirException e)
            {
                outcomes[i] = ErrorEntry(e);
            }
        }

        var conditionalReferences = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var plan in plans.OrderBy(p => p.Order).ThenBy(p => p.Index))
        {
            try
            {
                if (plan.Resource is not null && plan.Method is Bundle.HTTPVerb.POST or Bundle.HTTPVerb.PUT)
                {
                    await ResolveReferencesAsync(null, context, plan, new Dictionary<string, string>(StringComparer.Ordinal), conditionalReferences, inTransaction: false, cancellationToken);
                }

                await ExecuteOneAsync(context, plan, cancellationToken);
                outcomes[plan.Index] = ResponseEntry(context, plan);
            }
            catch (FhirException e)
            {
                outcomes[plan.Index] = ErrorEntry(e);
            }
        }

        response.Entry.AddRange(outcomes);
        return response;
    }

    /// <summary>One batch entry through the public, separately audited interactions.</summary>
    private async Task ExecuteOneAsync(RequestContext context, EntryPlan plan, CancellationToken cancellationToken)
    {
        var request = plan.Entry.Request;
        var ifMatch = ParseETag(request!.IfMatch);
        switch (plan.Method)
        {
            case Bundle.HTTPVerb.POST:
                plan.Done = await CreateAsync(context, plan.Resource!, request.IfNoneExist, cancellationToken);
                break;
            case Bundle.HTTPVerb.PUT:
                plan.Done = plan.Id is not null
                    ? await UpdateAsync(context, plan.Type, plan.Id, plan.Resource!, ifMatch, cancellationToken)
                    : await ConditionalUpdateAsync(context, plan.Type, plan.Criteria!, plan.Resource!, ifMatch, cancellationToken);
                break;
            case Bundle.HTTPVerb.PATCH:
                var apply = PatchFor(plan);
                plan.Done = plan.Id is not null
                    ? await PatchAsync(context, plan.Type, plan.Id, apply, ifMatch, cancellationToken)
                    : await ConditionalPatchAsync(context, plan.Type, plan.Criteria!, apply, ifMatch, cancellationToken);
                break;
            case Bundle.HTTPVerb.DELETE:
                plan.Done = plan.Id is not null
                    ? await DeleteAsync(context, plan.Type, plan.Id, ifMatch, cancellationToken)
                    : await ConditionalDeleteAsync(context, plan.Type, plan.Criteria!, cancellationToken);
                break;
            default:
                if (plan.Id is not null)
                {
                    plan.Done = await ReadAsync(context, plan.Type, plan.Id, plan.Version, cancellationToken);
                }
                else
                {
                    plan.SearchResult = await SearchAsync(context, plan.Type, QueryString.Parse(plan.Criteria ?? string.Empty), cancellationToken);
                }

                break;
        }
    }

    /// <summary>One transaction entry inside the shared session.</summary>
    private async Task ExecuteAsync(IWriteSession session, RequestContext context, EntryPlan plan, CancellationToken cancellationToken)
    {
        var request = plan.Entry.Request;
        var ifMatch = ParseETag(request!.IfMatch);
        switch (plan.Method)
        {
            case Bundle.HTTPVerb.POST:
                plan.Done ??= await CreateCoreAsync(session, context, plan.Resource!, null, plan.AssignedId, cancellationToken);
                break;
            case Bundle.HTTPVerb.PUT:
                plan.Resource!.Id = plan.AssignedId;
                plan.Done = await UpdateCoreAsync(session, context, plan.Type, plan.AssignedId!, plan.Resource, ifMatch, cancellationToken);
                break;
            case Bundle.HTTPVerb.PATCH:
                var id = plan.Id ?? (await FindOneAsync(session, context, plan.Type, plan.Criteria!, "conditional patch", cancellationToken))?.Id
                    ?? throw FhirException.NotFound($"No {plan.Type} matches the conditional patch criteria.");
                plan.Done = await PatchCoreAsync(session, context, plan.Type, id, PatchFor(plan), ifMatch, cancellationToken);
                break;
            case Bundle.HTTPVerb.DELETE:
                var target = plan.Id ?? (await FindOneAsync(session, context, plan.Type, plan.Criteria!, "conditional delete", cancellationToken))?.Id;
                plan.Done = target is null
                    ? new RecordResult(HttpStatusCode.NoContent, plan.Type, string.Empty, 0, clock.GetUtcNow(), null)
                    : await DeleteCoreAsync(session, context, plan.Type, target, ifMatch, cancellationToken);
                break;
            default:
                if (plan.Id is not null)
                {
                    var stored = !FhirIds.IsValidId(plan.Id) ? null
                        : plan.Version is null ? await session.ReadAsync(plan.Type, plan.Id, cancellationToken) : await store.ReadAsync(plan.Type, plan.Id, plan.Version, cancellationToken);
                    // A read inside a transaction is decided and shaped as a read outside one: 404 or 410 first, then the
                    // same rules, the same 403 or 404 (the transaction's failure audit records it).
                    ReadResult(plan.Type, plan.Id, plan.Version, stored);
                    if (await CheckRecordAsync(FindInSession(session, cancellationToken), context, plan.Type, plan.Id, FhirInteraction.Read, cancellationToken) is { } refusal)
                    {
                        throw refusal.Hidden
                            ? AccessDeniedException.HiddenRecord($"{plan.Type}/{plan.Id} is not known.", refusal.Rule)
                            : new AccessDeniedException(refusal.Reason, refusal.Rule);
                    }

                    plan.Done = ReadResult(plan.Type, plan.Id, plan.Version, await ShowAsync(context, stored!, cancellationToken));
                }
                else
                {
                    var parameters = QueryString.Parse(plan.Criteria ?? string.Empty);
                    var query = SearchRequest.Parse(plan.Type, parameters, context.StrictHandling, context.SearchLimits);
                    var governed = await GovernAsync(context, query.ToStoreQuery(), FhirInteraction.Search, cancellationToken);
                    var ids = await session.FindIdsAsync(governed with { Clauses = [.. governed.Clauses, .. await ViewClausesAsync(context, [plan.Type], parameters, cancellationToken)] }, cancellationToken);
                    var result = new Bundle { Type = Bundle.BundleType.Searchset, Total = ids.Count };
                    foreach (var found in ids)
                    {
                        if (await ShowAsync(context, (await session.ReadAsync(plan.Type, found, cancellationToken))!, cancellationToken) is { Json: { } json })
                        {
                            result.Entry.Add(new Bundle.EntryComponent { FullUrl = $"{context.BaseUrl}/{plan.Type}/{found}", Resource = StoredJson.Parse(json), Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } });
                        }
                    }

                    plan.SearchResult = result;
                }

                break;
        }
    }

    private Func<Resource, Resource> PatchFor(EntryPlan plan) =>
        plan.Resource is null
            ? throw FhirException.BadRequest($"Bundle.entry[{plan.Index}] (PATCH) has no resource: send Parameters (FHIRPath Patch) or Binary (JSON Patch).")
            : bundlePatch?.Invoke(plan.Resource) ?? throw FhirException.BadRequest("PATCH is not available in bundles on this server.");

    /// <summary>Rewrites urn:uuid and full-URL references to the ids assigned in this bundle, and resolves conditional references.</summary>
    private async Task ResolveReferencesAsync(IWriteSession? session, RequestContext context, EntryPlan plan, Dictionary<string, string> targets, Dictionary<string, string> conditional, bool inTransaction, CancellationToken cancellationToken)
    {
        foreach (var reference in ResourceWalker.Descendants<ResourceReference>(plan.Resource!))
        {
            var text = reference.Reference;
            if (string.IsNullOrEmpty(text) || text.StartsWith('#'))
            {
                continue;
            }

            if (targets.TryGetValue(text, out var target))
            {
                reference.Reference = target;
            }
            else if (text.StartsWith("urn:uuid:", StringComparison.Ordinal) || text.StartsWith("urn:oid:", StringComparison.Ordinal))
            {
                throw FhirException.BadRequest(inTransaction
                    ? $"Bundle.entry[{plan.Index}] refers to {text}, which is not the fullUrl of any entry in this transaction."
                    : $"Bundle.entry[{plan.Index}] refers to {text}: entries of a batch cannot refer to each other; use a transaction.");
            }
            else if (IsConditionalReference(text))
            {
                if (!conditional.TryGetValue(text, out var resolved))
                {
                    var type = text[..text.IndexOf('?', StringComparison.Ordinal)];
                    if (!FhirIds.IsResourceType(type))
                    {
                        throw FhirException.BadRequest($"Bundle.entry[{plan.Index}]: the conditional reference '{text}' does not start with a resource type.");
                    }

                    string? id;
                    if (session is not null)
                    {
                        id = (await FindOneAsync(session, context, type, text, "conditional reference", cancellationToken))?.Id;
                    }
                    else
                    {
                        var request = SearchRequest.Parse(type, QueryString.Parse(text), strict: true, context.SearchLimits);
                        var page = await store.SearchAsync(await GovernAsync(context, request.ToStoreQuery() with { Count = 2 }, FhirInteraction.Search, cancellationToken), cancellationToken);
                        if (page.Resources.Count > 1)
                        {
                            throw FhirException.PreconditionFailed($"Bundle.entry[{plan.Index}]: the conditional reference '{text}' matches more than one {type}.");
                        }

                        id = page.Resources.Count == 1 ? page.Resources[0].Id : null;
                    }

                    resolved = id is null
                        ? throw FhirException.BadRequest($"Bundle.entry[{plan.Index}]: the conditional reference '{text}' matches no {type}.")
                        : $"{type}/{id}";
                    conditional[text] = resolved;
                }

                reference.Reference = resolved;
            }
        }
    }

    /// <summary>A conditional reference is Type?criteria (R4 http.html#trules): what comes before '?' is a bare type name.</summary>
    private static bool IsConditionalReference(string text)
    {
        var question = text.IndexOf('?', StringComparison.Ordinal);
        return question > 0 && text.AsSpan(0, question).IndexOfAny('/', ':') < 0;
    }

    private static Bundle.EntryComponent ResponseEntry(RequestContext context, EntryPlan plan)
    {
        if (plan.SearchResult is { } search)
        {
            return new Bundle.EntryComponent { Resource = search, Response = new Bundle.ResponseComponent { Status = "200 OK" } };
        }

        var done = plan.Done!;
        var entry = new Bundle.EntryComponent
        {
            Response = new Bundle.ResponseComponent
            {
                Status = done.Status switch
                {
                    HttpStatusCode.Created => "201 Created",
                    HttpStatusCode.NoContent => "204 No Content",
                    _ => "200 OK",
                },
                Outcome = done.Outcome,
            },
        };
        if (done.Version > 0)
        {
            entry.FullUrl = $"{context.BaseUrl}/{done.Type}/{done.Id}";
            entry.Response.Location = done.Status == HttpStatusCode.NoContent ? null : done.VersionedReference;
            entry.Response.Etag = done.ETag;
            entry.Response.LastModified = done.LastUpdated;
        }

        if ((plan.Method == Bundle.HTTPVerb.GET || context.Return == ReturnPreference.Representation) && done.Json is not null)
        {
            entry.Resource = StoredJson.Parse(done.Json);
        }

        return entry;
    }

    private static Bundle.EntryComponent ErrorEntry(FhirException e) => new()
    {
        Response = new Bundle.ResponseComponent
        {
            Status = FhirStatus.Line(e),
            Outcome = OperationOutcomes.From(e),
        },
    };

    /// <summary>Reads a weak or strong ETag (W/"3" or "3") as a version number.</summary>
    public static int? ParseETag(string? etag)
    {
        if (string.IsNullOrWhiteSpace(etag))
        {
            return null;
        }

        var text = etag.Trim();
        if (text.StartsWith("W/", StringComparison.OrdinalIgnoreCase))
        {
            text = text[2..];
        }

        text = text.Trim('"');
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? version
            : throw FhirException.BadRequest($"'{etag}' is not a version ETag like W/\"3\".");
    }

    /// <summary>Like <see cref="ParseETag"/> but answers null for anything that is not a version tag.</summary>
    public static int? ParseETagOrNull(string? etag)
    {
        try
        {
            return ParseETag(etag);
        }
        catch (FhirException)
        {
            return null;
        }
    }
}
