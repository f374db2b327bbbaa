using CareHub.Governance;
using CareHub.Storage;

namespace CareHub.Records;

/// <summary>
/// An extension point of the one door's reads, the counterpart of <see cref="IWriteHook"/>: a capability whose resources
/// name other records (the master person index's Person links Patients; an AuditEvent lists what a request touched)
/// shapes what a caller under record-level rules is shown of them. The access policy decides whether the resource itself
/// may be seen; the view removes what it says about records the caller may not see, on every path that returns a
/// resource (read, vread, search matches, <c>_include</c>, history, <c>$everything</c>), and makes searches over its
/// types evaluate their parameters over what the caller may see. System clients are not shaped.
/// </summary>
public interface IReadView
{
    /// <summary>Whether the view shapes resources of the type (asked before anything is read).</summary>
    bool Shapes(string type);

    /// <summary>
    /// The resource's JSON as the caller may see it (the stored JSON itself when nothing is hidden), or null when nothing
    /// of this version may be shown: it then reads as a version that does not exist.
    /// </summary>
    Task<string?> ShowAsync(ReadScope scope, StoredResource resource, CancellationToken cancellationToken);

    /// <summary>
    /// Clauses a search over the type must also meet for this caller, so that its parameters find only what the shaped
    /// resources show. A parameter the view cannot evaluate so is refused with a 400 naming it.
    /// </summary>
    Task<IReadOnlyList<QueryClause>> SearchClausesAsync(ReadScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken);
}

/// <summary>What a view knows of the request it shapes: who asks, and which records they may see.</summary>
public sealed class ReadScope(RecordService records, IRecordLookups lookups, RequestContext context)
{
    public RequestContext Context => context;

    public Principal Principal => context.Principal;

    /// <summary>Committed data, for reading the records the caller may see (<see cref="VisibleAsync"/> says which).</summary>
    public IRecordLookups Lookups => lookups;

    /// <summary>Of <paramref name="ids"/>, the current resources of <paramref name="type"/> the caller may read.</summary>
    public Task<IReadOnlySet<string>> VisibleAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        records.VisibleIdsAsync(context, type, ids, FhirInteraction.Read, cancellationToken);

    /// <summary>The clause the resources of <paramref name="type"/> the caller may read meet; null when every one may be read.</summary>
    public ValueTask<QueryClause?> VisibleClauseAsync(string type, CancellationToken cancellationToken) =>
        records.ReadableClauseAsync(context, type, cancellationToken);
}
