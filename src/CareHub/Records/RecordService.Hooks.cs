using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>
/// The one door's extension points: write hooks that act inside a write's transaction, and operations (such as
/// <c>$merge</c> or <c>$match</c>) that read or write several resources under one access decision and one audit record.
/// </summary>
public sealed partial class RecordService
{
    /// <summary>The hooks run on every version written (see <see cref="IWriteHook"/>), in this order.</summary>
    public IReadOnlyList<IWriteHook> WriteHooks { get; } = [.. writeHooks ?? []];

    /// <summary>Who knows a Patient's other records of the same person, for <c>$everything</c>'s opt-in parameter; none by default.</summary>
    public IPatientLinks? PatientLinks { get; } = patientLinks;

    /// <summary>
    /// Runs a write operation in one transaction: the caller must be allowed <paramref name="permission"/> on
    /// <paramref name="type"/>; <paramref name="work"/> writes through the <see cref="IRecordWriter"/> (hooks included),
    /// and everything it wrote is audited as one event and committed together. A <see cref="FhirException"/> from
    /// <paramref name="work"/> rolls everything back.
    /// </summary>
    public async Task<T> WriteOperationAsync<T>(RequestContext context, string operation, string type, FhirInteraction permission,
        Func<IRecordWriter, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        EnsureType(type);
        Authorize(context, permission, type, operation, AuditEvent.AuditEventAction.E, type);
        try
        {
            await using var session = await store.BeginWriteAsync(cancellationToken);
            var writer = new HookWriter(this, session);
            var result = await work(writer);
            if (writer.Written.Count > 0)
            {
                var patients = writer.Written.SelectMany(w => PatientsOf(w.Type, w.Id, w.Json)).ToHashSet(StringComparer.Ordinal);
                await session.WriteAsync(audit.ToWrite(context, new AuditFacts(operation, AuditEvent.AuditEventAction.E, type,
                    writer.Written.Select(w => w.VersionedReference).ToList(), patients, true)), cancellationToken);
            }

            // Rebuilt index rows and a feed position are no new version (nothing to audit), but they must commit all the same.
            if (writer.Written.Count > 0 || writer.ChangedWithoutVersions)
            {
                await session.CommitAsync(cancellationToken);
            }

            return result;
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts(operation, AuditEvent.AuditEventAction.E, type, [], [], false, e.Message));
            throw;
        }
    }

    /// <summary>
    /// Runs a read-only operation: the caller must be allowed to search <paramref name="type"/>; what
    /// <paramref name="work"/> discloses through the <see cref="IRecordReader"/> is audited as one event.
    /// </summary>
    public async Task<T> ReadOperationAsync<T>(RequestContext context, string operation, string type, Func<IRecordReader, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        EnsureType(type);
        Authorize(context, FhirInteraction.Search, type, operation, AuditEvent.AuditEventAction.E, type);
        var reader = new OperationReader(this, context);
        try
        {
            var result = await work(reader);
            audit.Record(context, new AuditFacts(operation, AuditEvent.AuditEventAction.E, type, reader.Disclosed.Select(s => $"{s.Type}/{s.Id}").Distinct(StringComparer.Ordinal).ToList(),
                reader.Disclosed.SelectMany(s => PatientsOf(s.Type, s.Id, s.Json)).ToHashSet(StringComparer.Ordinal), true));
            return result;
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts(operation, AuditEvent.AuditEventAction.E, type, [], [], false, e.Message));
            throw;
        }
    }

    private List<IndexRow> WithHookRows(List<IndexRow> rows, Resource resource)
    {
        foreach (var hook in WriteHooks)
        {
            rows.AddRange(hook.IndexRows(resource));
        }

        return rows;
    }

    /// <summary>Runs the hooks before a write; answers the context to give them after it (null when there are none).</summary>
    private async Task<WriteHookContext?> BeforeHooksAsync(IWriteSession session, RequestContext? request, Resource resource, string type, string id, StoredResource? current, bool internalWrite, CancellationToken cancellationToken)
    {
        if (WriteHooks.Count == 0)
        {
            return null;
        }

        var context = new WriteHookContext(new HookWriter(this, session), type, id, resource, current, internalWrite) { Request = request };
        foreach (var hook in WriteHooks)
        {
            await hook.BeforeWriteAsync(context, cancellationToken);
        }

        return context;
    }

    private async Task AfterHooksAsync(WriteHookContext context, CancellationToken cancellationToken)
    {
        foreach (var hook in WriteHooks)
        {
            await hook.AfterWriteAsync(context, cancellationToken);
        }
    }

    private async Task AfterDeleteHooksAsync(IWriteSession session, string type, string id, StoredResource current, CancellationToken cancellationToken, bool internalWrite = false)
    {
        if (WriteHooks.Count == 0)
        {
            return;
        }

        await AfterHooksAsync(new WriteHookContext(new HookWriter(this, session), type, id, null, current, internalWrite), cancellationToken);
    }

    /// <summary>Writes for hooks and operations inside one transaction, recording what it wrote for the audit.</summary>
    private sealed class HookWriter(RecordService owner, IWriteSession session) : IRecordWriter
    {
        public IWriteSession Session => session;

        public List<RecordResult> Written { get; } = [];

        private IChangeFeedSession Feed => session as IChangeFeedSession
            ?? throw new InvalidOperationException("This record store keeps no change feed, so no reader of it can keep a position there.");

        /// <summary>Index rows were rebuilt or a feed position set: no new version, but work to commit.</summary>
        public bool ChangedWithoutVersions { get; private set; }

        public async Task<Resource?> ReindexAsync(string type, string id, CancellationToken cancellationToken)
        {
            if (await session.ReadAsync(type, id, cancellationToken) is not { Json: { } json } current)
            {
                return null;
            }

            var resource = StoredJson.Parse(json);
            await session.ReplaceIndexAsync(current.Type, current.Id, owner.WithHookRows(IndexRows(resource), resource), cancellationToken);
            ChangedWithoutVersions = true;
            return resource;
        }

        public async Task StartFeedPositionAsync(string name, CancellationToken cancellationToken)
        {
            await Feed.StartFeedPositionAsync(name, cancellationToken);
            ChangedWithoutVersions = true;
        }

        public async Task<bool> SetFeedPositionAsync(string name, long from, long to, CancellationToken cancellationToken)
        {
            var moved = await Feed.SetFeedPositionAsync(name, from, to, cancellationToken);
            ChangedWithoutVersions |= moved;
            return moved;
        }

        public async Task<RecordResult> WriteAsync(Resource resource, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(resource);
            var type = resource.TypeName;
            EnsureWritableType(type);
            // An id made up here is new (a time-ordered UUID): nothing to read, so a session not yet started stays so.
            var fresh = string.IsNullOrEmpty(resource.Id);
            var id = fresh ? FhirIds.NewId() : resource.Id!;
            var current = fresh ? null : await session.ReadAsync(type, id, cancellationToken);
            var result = await owner.WriteVersionAsync(session, null, resource, type, id, current, current is null || current.Deleted ? "POST" : "PUT", cancellationToken, internalWrite: true, freshId: fresh);
            Written.Add(result);
            return result;
        }

        public async Task DeleteAsync(string type, string id, CancellationToken cancellationToken)
        {
            EnsureWritableType(type);
            var current = await session.ReadAsync(type, id, cancellationToken);
            if (current is null || current.Deleted)
            {
                return;
            }

            var now = owner.NextTimestamp(current);
            await session.WriteAsync(new VersionWrite(type, id, current.Version + 1, now, "DELETE", null, current.Version, []), cancellationToken);
            Written.Add(new RecordResult(HttpStatusCode.NoContent, type, id, current.Version + 1, now, null));
            await owner.AfterDeleteHooksAsync(session, type, id, current, cancellationToken, internalWrite: true);
        }
    }

    /// <summary>Reads for an operation, recording what it disclosed for the audit.</summary>
    /// <remarks>Reads and searches go through the access policy: an operation cannot disclose what a search would hide.</remarks>
    private sealed class OperationReader(RecordService owner, RequestContext context) : IRecordReader
    {
        public List<StoredResource> Disclosed { get; } = [];

        public async Task<IReadOnlyList<StoredResource>> SearchAsync(StoreQuery query, CancellationToken cancellationToken) =>
            (await owner.Store.SearchAsync(await owner.RestrictAsync(context, query, FhirInteraction.Search, cancellationToken), cancellationToken)).Resources;

        public async Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken) =>
            await owner.Store.FindIdsAsync(await owner.RestrictAsync(context, query, FhirInteraction.Search, cancellationToken), cancellationToken);

        public async Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken)
        {
            var stored = FhirIds.IsValidId(id) ? await owner.Store.ReadAsync(type, id, null, cancellationToken) : null;
            return stored is { Deleted: false } && await owner.CheckRecordAsync(owner.FindInStore(cancellationToken), context, type, id, FhirInteraction.Read, cancellationToken) is not null
                ? null
                : stored;
        }

        public void Disclose(StoredResource resource) => Disclosed.Add(resource);
    }
}

/// <summary>Reads of current resources for an operation (<see cref="RecordService.ReadOperationAsync{T}"/>).</summary>
public interface IRecordReader
{
    Task<IReadOnlyList<StoredResource>> SearchAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>The ids <see cref="SearchAsync"/> would answer, without reading the resources.</summary>
    Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken);

    /// <summary>The current version (a tombstone when deleted), or null when there is none.</summary>
    Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>Records that the operation's answer carries this resource, for the audit: what was only looked at is not listed.</summary>
    void Disclose(StoredResource resource);
}
