using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>
/// The one door. Every read and write of the record, from every face (FHIR API, channels, portal, import), comes
/// through here: it checks the request, asks the access policy, writes the version with its index rows, audit record
/// and change event in one transaction, and audits reads and denials.
/// </summary>
/// <param name="writeHooks">The hooks run on every version written (see <see cref="IWriteHook"/>), in this order.</param>
/// <param name="patientLinks">Who knows a Patient's other records of the same person, for <c>$everything</c>'s opt-in parameter.</param>
/// <param name="readViews">The views that shape resources for restricted callers, in this order.</param>
/// <param name="bundlePatch">
/// Turns a PATCH entry's resource (Parameters for FHIRPath Patch, Binary for JSON Patch) into the function that patches;
/// the host owns the patch formats, so without it PATCH is refused in bundles.
/// </param>
/// <param name="terminology">A terminology held outside the record (SNOMED CT) for the search modifiers :below, :above and :in; none by default.</param>
public sealed partial class RecordService(
    IRecordStore store,
    IAccessPolicy policy,
    AuditTrail audit,
    TimeProvider clock,
    IEnumerable<IWriteHook>? writeHooks = null,
    IPatientLinks? patientLinks = null,
    IEnumerable<IReadView>? readViews = null,
    Func<Resource, Func<Resource, Resource>>? bundlePatch = null,
    DecisionCache? decisions = null,
    Search.ISearchTerminology? terminology = null)
{
    /// <summary>The store, for the nested readers and writers (a constructor's parameter is not a member they can reach).</summary>
    private IRecordStore Store => store;

    /// <summary>The policy's decisions on single records, kept across requests and dropped when what they rest on is written.</summary>
    private readonly DecisionCache decisionCache = Watch(store, policy, decisions ?? new DecisionCache(clock));

    private static DecisionCache Watch(IRecordStore store, IAccessPolicy policy, DecisionCache cache)
    {
        store.Committed += types =>
        {
            foreach (var type in types)
            {
                policy.Changed(type);
            }

            if (types.Any(policy.DecisionsRead))
            {
                cache.Invalidate();
            }
        };
        return cache;
    }

    /// <summary>
    /// After a bulk load through the door (demo, import, reindex): brings the store's planner statistics up to date, so the
    /// searches after it are planned on what was loaded.
    /// </summary>
    public Task RefreshStatisticsAsync(CancellationToken cancellationToken) => store.RefreshStatisticsAsync(cancellationToken);

    // ---- create --------------------------------------------------------------------------------------------------

    public Task<RecordResult> CreateAsync(RequestContext context, Resource resource, string? ifNoneExist, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "create", AuditEvent.AuditEventAction.C, resource.TypeName, FhirInteraction.Create,
            session => CreateCoreAsync(session, context, resource, ifNoneExist, null, cancellationToken), cancellationToken);

    private async Task<RecordResult> CreateCoreAsync(IWriteSession session, RequestContext context, Resource resource, string? ifNoneExist, string? assignedId, CancellationToken cancellationToken)
    {
        var type = resource.TypeName;
        EnsureWritableType(type);
        if (ifNoneExist is not null)
        {
            var existing = await FindOneAsync(session, context, type, ifNoneExist, "If-None-Exist", cancellationToken);
            if (existing is not null)
            {
                // Conditional create that matched: nothing is written (R4 http.html#ccreate).
                return Result(HttpStatusCode.OK, existing);
            }
        }

        return await WriteVersionAsync(session, context, resource, type, assignedId ?? FhirIds.NewId(), null, "POST", cancellationToken, freshId: true);
    }

    // ---- read ----------------------------------------------------------------------------------------------------

    public async Task<RecordResult> ReadAsync(RequestContext context, string type, string id, int? version, CancellationToken cancellationToken)
    {
        EnsureType(type);
        var interaction = version is null ? "read" : "vread";
        Authorize(context, FhirInteraction.Read, type, interaction, AuditEvent.AuditEventAction.R, $"{type}/{id}");
        try
        {
            var stored = FhirIds.IsValidId(id) ? await store.ReadAsync(type, id, version, cancellationToken) : null;
            var result = ReadResult(type, id, version, stored);
            if (await CheckStoredAsync(context, type, id, version is null ? stored!.Version : null, FhirInteraction.Read, cancellationToken) is { } refusal)
            {
                throw Refuse(context, refusal, interaction, AuditEvent.AuditEventAction.R, type, $"{type}/{id}", PatientsOf(type, id, result.Json));
            }

            result = ReadResult(type, id, version, await ShowAsync(context, stored!, cancellationToken));

            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, [result.VersionedReference], PatientsOf(type, id, result.Json), true));
            return result;
        }
        catch (FhirException e) when (NotYetAudited(e))
        {
            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, [$"{type}/{id}"], [], false, e.Message));
            throw;
        }
    }

    private static RecordResult ReadResult(string type, string id, int? version, StoredResource? stored)
    {
        if (stored is null)
        {
            throw FhirException.NotFound(version is null
                ? $"{type}/{id} is not known."
                : $"{type}/{id} has no version {FhirIds.FormatVersion(version.Value)}.");
        }

        if (stored.Deleted)
        {
            throw new ResourceGoneException(
                version is null ? $"{type}/{id} was deleted (version {FhirIds.FormatVersion(stored.Version)})." : $"Version {FhirIds.FormatVersion(stored.Version)} of {type}/{id} is a deletion.");
        }

        return Result(HttpStatusCode.OK, stored);
    }

    // ---- update --------------------------------------------------------------------------------------------------

    public Task<RecordResult> UpdateAsync(RequestContext context, string type, string id, Resource resource, int? ifMatch, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "update", AuditEvent.AuditEventAction.U, type, FhirInteraction.Update,
            session => UpdateCoreAsync(session, context, type, id, resource, ifMatch, cancellationToken), cancellationToken);

    /// <summary>Conditional update (R4 http.html#cond-update): no match creates, one match updates, several is 412.</summary>
    public Task<RecordResult> ConditionalUpdateAsync(RequestContext context, string type, string criteria, Resource resource, int? ifMatch, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "update", AuditEvent.AuditEventAction.U, type, FhirInteraction.Update,
            session => ConditionalUpdateCoreAsync(session, context, type, criteria, resource, ifMatch, cancellationToken), cancellationToken);

    private async Task<RecordResult> ConditionalUpdateCoreAsync(IWriteSession session, RequestContext context, string type, string criteria, Resource resource, int? ifMatch, CancellationToken cancellationToken)
    {
        EnsureWritableType(type);
        var match = await FindOneAsync(session, context, type, criteria, "conditional update", cancellationToken);
        if (match is null)
        {
            if (resource.Id is { } given && !string.IsNullOrEmpty(given))
            {
                // The client chose the id of the resource to create.
                return await UpdateCoreAsync(session, context, type, given, resource, ifMatch, cancellationToken);
            }

            return await WriteVersionAsync(session, context, resource, type, FhirIds.NewId(), null, "PUT", cancellationToken);
        }

        if (resource.Id is { Length: > 0 } id && id != match.Id)
        {
            throw FhirException.BadRequest($"The resource's id '{id}' is not the id of the resource the criteria found.", $"{type}.id");
        }

        resource.Id = match.Id;
        return await UpdateCoreAsync(session, context, type, match.Id, resource, ifMatch, cancellationToken);
    }

    private async Task<RecordResult> UpdateCoreAsync(IWriteSession session, RequestContext? context, string type, string id, Resource resource, int? ifMatch, CancellationToken cancellationToken)
    {
        EnsureWritableType(type);
        if (resource.TypeName != type)
        {
            throw FhirException.BadRequest($"The body is a {resource.TypeName} but the URL is for {type}.", "resourceType");
        }

        if (!FhirIds.IsValidId(id))
        {
            throw FhirException.BadRequest($"'{id}' is not a valid FHIR id (1-64 of A-Z, a-z, 0-9, '-' and '.').");
        }

        if (string.IsNullOrEmpty(resource.Id))
        {
            throw FhirException.BadRequest("An update needs the resource's id in the body, the same as in the URL.", $"{type}.id");
        }

        if (resource.Id != id)
        {
            throw FhirException.BadRequest($"The body's id '{resource.Id}' does not match the URL's id '{id}'.", $"{type}.id");
        }

        var current = await session.ReadAsync(type, id, cancellationToken);
        if (ifMatch is { } expected && (current is null || current.Deleted || current.Version != expected))
        {
            throw FhirException.PreconditionFailed(current is null || current.Deleted
                ? $"If-Match asked for version {FhirIds.FormatVersion(expected)} of {type}/{id}, which has no current version."
                : $"If-Match asked for version {FhirIds.FormatVersion(expected)} of {type}/{id}, but the current version is {FhirIds.FormatVersion(current.Version)}.");
        }

        return await WriteVersionAsync(session, context, resource, type, id, current, "PUT", cancellationToken);
    }

    // ---- patch ---------------------------------------------------------------------------------------------------

    /// <summary>PATCH (R4 http.html#patch): the format-specific <paramref name="apply"/> turns the current resource into the new one.</summary>
    public Task<RecordResult> PatchAsync(RequestContext context, string type, string id, Func<Resource, Resource> apply, int? ifMatch, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "patch", AuditEvent.AuditEventAction.U, type, FhirInteraction.Update,
            session => PatchCoreAsync(session, context, type, id, apply, ifMatch, cancellationToken), cancellationToken);

    public Task<RecordResult> ConditionalPatchAsync(RequestContext context, string type, string criteria, Func<Resource, Resource> apply, int? ifMatch, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "patch", AuditEvent.AuditEventAction.U, type, FhirInteraction.Update, async session =>
        {
            var match = await FindOneAsync(session, context, type, criteria, "conditional patch", cancellationToken)
                ?? throw FhirException.NotFound($"No {type} matches the conditional patch criteria.");
            return await PatchCoreAsync(session, context, type, match.Id, apply, ifMatch, cancellationToken);
        }, cancellationToken);

    private async Task<RecordResult> PatchCoreAsync(IWriteSession session, RequestContext? context, string type, string id, Func<Resource, Resource> apply, int? ifMatch, CancellationToken cancellationToken)
    {
        EnsureWritableType(type);
        var current = await session.ReadAsync(type, id, cancellationToken);
        var existing = ReadResult(type, id, null, current);
        if (ifMatch is { } expected && current!.Version != expected)
        {
            throw FhirException.PreconditionFailed($"If-Match asked for version {FhirIds.FormatVersion(expected)} of {type}/{id}, but the current version is {FhirIds.FormatVersion(current.Version)}.");
        }

        var patched = apply(existing.ToResource()!);
        if (patched.TypeName != type || patched.Id != id)
        {
            throw FhirException.Unprocessable("A patch may not change the resource's type or id.");
        }

        try
        {
            FhirSerialization.Validate(patched);
        }
        catch (FhirException e)
        {
            throw new UnprocessableException(e.Issues);
        }

        return await WriteVersionAsync(session, context, patched, type, id, current, "PATCH", cancellationToken);
    }

    // ---- delete --------------------------------------------------------------------------------------------------

    public Task<RecordResult> DeleteAsync(RequestContext context, string type, string id, int? ifMatch, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "delete", AuditEvent.AuditEventAction.D, type, FhirInteraction.Delete,
            session => DeleteCoreAsync(session, context, type, id, ifMatch, cancellationToken), cancellationToken);

    /// <summary>Conditional delete (R4 http.html#cdelete): deletes the one match; several matches is 412.</summary>
    public Task<RecordResult> ConditionalDeleteAsync(RequestContext context, string type, string criteria, CancellationToken cancellationToken) =>
        WriteOneAsync(context, "delete", AuditEvent.AuditEventAction.D, type, FhirInteraction.Delete, async session =>
        {
            EnsureWritableType(type);
            var match = await FindOneAsync(session, context, type, criteria, "conditional delete", cancellationToken);
            return match is null
                ? new RecordResult(HttpStatusCode.NoContent, type, string.Empty, 0, clock.GetUtcNow(), null, Information($"No {type} matched; nothing was deleted."))
                : await DeleteCoreAsync(session, context, type, match.Id, null, cancellationToken);
        }, cancellationToken);

    private async Task<RecordResult> DeleteCoreAsync(IWriteSession session, RequestContext? context, string type, string id, int? ifMatch, CancellationToken cancellationToken)
    {
        EnsureWritableType(type);
        var current = FhirIds.IsValidId(id) ? await session.ReadAsync(type, id, cancellationToken) : null;
        if (ifMatch is { } expected && (current is null || current.Deleted || current.Version != expected))
        {
            throw FhirException.PreconditionFailed($"If-Match asked for version {FhirIds.FormatVersion(expected)} of {type}/{id}, which is not its current version.");
        }

        if (current is null || current.Deleted)
        {
            // Delete is idempotent (R4 http.html#delete): deleting what is not there succeeds and writes nothing.
            return new RecordResult(HttpStatusCode.NoContent, type, id, current?.Version ?? 0, current?.LastUpdated ?? clock.GetUtcNow(), null,
                Information($"{type}/{id} did not exist or was already deleted."));
        }

        await CheckWriteAsync(session, context, type, id, FhirInteraction.Delete, after: false, cancellationToken);
        var now = NextTimestamp(current);
        var version = current.Version + 1;
        await session.WriteAsync(new VersionWrite(type, id, version, now, "DELETE", null, current.Version, []), cancellationToken);
        await AfterDeleteHooksAsync(session, type, id, current, cancellationToken);
        return new RecordResult(HttpStatusCode.NoContent, type, id, version, now, null, Information($"{type}/{id} was deleted."));
    }

    // ---- the write path ------------------------------------------------------------------------------------------

    /// <param name="freshId">The server just made the id up (a time-ordered UUID), so no current version can exist and the
    /// version check is skipped; the store's unique version key still refuses a duplicate.</param>
    private async Task<RecordResult> WriteVersionAsync(IWriteSession session, RequestContext? context, Resource resource, string type, string id, StoredResource? current, string method, CancellationToken cancellationToken, bool internalWrite = false, bool freshId = false)
    {
        resource.Id = id;
        var created = current is null || current.Deleted;
        if (!created)
        {
            await CheckWriteAsync(session, context, type, id, FhirInteraction.Update, after: false, cancellationToken);
        }

        StampSource(context, resource);
        var hooks = await BeforeHooksAsync(session, context, resource, type, id, current, internalWrite, cancellationToken);
        var version = (current?.Version ?? 0) + 1;
        var now = NextTimestamp(current);
        resource.Meta ??= new Meta();
        resource.Meta.VersionId = FhirIds.FormatVersion(version);
        resource.Meta.LastUpdated = now;
        var json = FhirSerialization.ToJson(resource);
        // Read before this version is written: whom the writer had a relationship with without it.
        var unrelated = internalWrite ? [] : await PatientsWithoutRelationshipAsync(session, context, type, id, json, cancellationToken);
        try
        {
            await session.WriteAsync(new VersionWrite(type, id, version, now, method, json, freshId ? null : current?.Version ?? 0, WithHookRows(IndexRows(resource), resource)), cancellationToken);
        }
        catch (VersionConflictException)
        {
            throw FhirException.Conflict($"{type}/{id} was changed by another request at the same time; read it again and retry.");
        }

        if (hooks is not null)
        {
            await AfterHooksAsync(hooks, cancellationToken);
        }

        await CheckWriteAsync(session, context, type, id, created ? FhirInteraction.Create : FhirInteraction.Update, after: true, cancellationToken);
        // Allowed after the write, for a patient without a relationship before it: the write itself gave the relationship.
        if (unrelated.Count > 0)
        {
            RequireRelationshipReason(context!, type, unrelated);
        }

        return new RecordResult(created ? HttpStatusCode.Created : HttpStatusCode.OK, type, id, version, now, json) { SelfClaimed = unrelated.Count > 0 };
    }

    /// <summary>The search index rows of every R4 search parameter of the resource's type, written in the same transaction.</summary>
    private static List<IndexRow> IndexRows(Resource resource)
    {
        var rows = Search.IndexExtractor.Extract(resource);
        rows.AddRange(GovernanceIndex.Rows(resource, rows).ToList());
        return rows;
    }

    /// <summary>Now, to the millisecond (FHIR instants carry milliseconds).</summary>
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>Millisecond precision, and always later than the version it replaces, so history orders by time too.</summary>
    private DateTimeOffset NextTimestamp(StoredResource? current)
    {
        var now = Now();
        return current is not null && now <= current.LastUpdated ? current.LastUpdated.AddMilliseconds(1) : now;
    }

    private async Task<RecordResult> WriteOneAsync(RequestContext context, string interaction, AuditEvent.AuditEventAction action, string type, FhirInteraction permission,
        Func<IWriteSession, Task<RecordResult>> write, CancellationToken cancellationToken)
    {
        EnsureType(type);
        Authorize(context, permission, type, interaction, action, type);
        try
        {
            await using var session = await store.BeginWriteAsync(cancellationToken);
            var result = await write(session);
            var changed = result.Status is HttpStatusCode.Created || (result.Status is HttpStatusCode.OK && interaction != "create") || (result.Status is HttpStatusCode.NoContent && result.Version > 0);
            if (changed)
            {
                await session.WriteAsync(audit.ToWrite(context, new AuditFacts(interaction, action, type, [result.VersionedReference], PatientsOf(type, result.Id, result.Json), true) { SelfClaimed = result.SelfClaimed }), cancellationToken);
                await session.CommitAsync(cancellationToken);
            }
            else
            {
                audit.Record(context, new AuditFacts(interaction, action, type, result.Version > 0 ? [result.VersionedReference] : [], PatientsOf(type, result.Id, result.Json), true));
            }

            return result;
        }
        catch (FhirException e)
        {
            var refusal = e as AccessDeniedException;
            audit.Record(context, new AuditFacts(interaction, action, type, [], refusal?.Patients ?? [], false, e.Message, Rule: refusal?.Rule));
            throw;
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private void Authorize(RequestContext context, FhirInteraction permission, string type, string interaction, AuditEvent.AuditEventAction action, string what)
    {
        var decision = policy.Decide(context.Principal, permission, type);
        if (decision.Allowed)
        {
            decision = policy.CheckPurpose(context.Principal, context.Purpose);
        }

        if (!decision.Allowed)
        {
            audit.Record(context, new AuditFacts(interaction, action, type, [what], [], false, decision.Reason, Rule: decision.Rule));
            throw new AccessDeniedException(decision.Reason);
        }
    }

    private static void EnsureType(string type)
    {
        if (!FhirIds.IsResourceType(type))
        {
            throw new ResourceNotFoundException($"'{type}' is not a FHIR R4 resource type.", OperationOutcome.IssueType.NotSupported);
        }
    }

    /// <summary>
    /// The type-level part of the access decision alone (scopes, role, purpose: may this caller do this interaction on
    /// this type at all?), for the HTTP edge to take before it reads and parses a body. The full decision is taken again
    /// on the parsed resource; both are audited alike.
    /// </summary>
    public void AuthorizeType(RequestContext context, FhirInteraction permission, string type, string interaction, AuditEvent.AuditEventAction action) =>
        Authorize(context, permission, type, interaction, action, type);

    /// <summary>Refuses writes to types that only CareHub writes (and unknown types), before any body is read.</summary>
    public static void EnsureWritableType(string type)
    {
        EnsureType(type);
        if (type == "AuditEvent")
        {
            throw new MethodNotAllowedException("AuditEvent resources are written by CareHub itself and cannot be changed through the API.");
        }
    }

    private static RecordResult Result(HttpStatusCode status, StoredResource stored) =>
        new(status, stored.Type, stored.Id, stored.Version, stored.LastUpdated, stored.Json);

    private static OperationOutcome Information(string text) => new()
    {
        Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Information, Code = OperationOutcome.IssueType.Informational, Diagnostics = text }],
    };

    /// <summary>
    /// Finds the single current resource matching a conditional query, among those the caller may see; several matches is
    /// 412 (R4 http.html). A record the caller may not see does not match: a conditional interaction must not tell a
    /// hidden record from a missing one, so it goes on as if there were none (docs/governance.md, "Conditional interactions").
    /// </summary>
    private async Task<StoredResource?> FindOneAsync(IWriteSession session, RequestContext context, string type, string criteria, string what, CancellationToken cancellationToken)
    {
        var parameters = QueryString.Parse(criteria);
        var request = SearchRequest.Parse(type, parameters, strict: true, context.SearchLimits);
        if (request.Clauses.Count == 0)
        {
            throw FhirException.BadRequest($"The {what} criteria '{criteria}' select nothing: give at least one search parameter.");
        }

        // Two conditional interactions on the same criteria must not both find nothing and both create.
        await session.LockAsync($"{type}?{criteria}", cancellationToken);
        var query = await GovernAsync(context, request.ToStoreQuery() with { Count = 2, After = null, Before = null }, FhirInteraction.Search, cancellationToken);
        var ids = await session.FindIdsAsync(query, cancellationToken);
        if (ids.Count > 1)
        {
            throw FhirException.PreconditionFailed($"The {what} criteria match more than one {type}.");
        }

        return ids.Count == 1 ? await session.ReadAsync(type, ids[0], cancellationToken) : null;
    }

    /// <summary>The patients a resource is about, for the audit record: the patient itself, or its subject/patient reference.</summary>
    internal static IReadOnlyCollection<string> PatientsOf(string type, string id, string? json)
    {
        if (type == "Patient")
        {
            return id.Length > 0 ? [$"Patient/{id}"] : [];
        }

        if (json is null)
        {
            return [];
        }

        var patients = new HashSet<string>(StringComparer.Ordinal);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        foreach (var name in (string[])["subject", "patient", "beneficiary"])
        {
            if (document.RootElement.TryGetProperty(name, out var element) && element.ValueKind == System.Text.Json.JsonValueKind.Object
                && element.TryGetProperty("reference", out var reference) && reference.GetString() is { } text && text.StartsWith("Patient/", StringComparison.Ordinal))
            {
                patients.Add(text);
            }
        }

        return patients;
    }
}
