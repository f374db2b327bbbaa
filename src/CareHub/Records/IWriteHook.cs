using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>
/// An extension point of the one door: a capability (the master person index, say) that must act on writes of some
/// resources inside their transaction, so what it does commits or rolls back with the write. Hooks run in the order
/// given to <see cref="RecordService.WriteHooks"/>, for every version written, from the API, bundles, channels and
/// imports alike. A hook must not hold state between calls: several transactions run it at once.
/// </summary>
public interface IWriteHook
{
    /// <summary>
    /// Extra token index rows of a resource about to be written, derived from its content alone (so rebuilding the index
    /// from stored resources gives the same rows). Parameter names a hook owns start with an underscore and its own
    /// prefix (e.g. <c>_mpi-block</c>), so they never collide with a FHIR search parameter.
    /// </summary>
    IEnumerable<TokenIndexRow> IndexRows(Resource resource);

    /// <summary>
    /// Before the version is written: may reject it (throw <see cref="Fhir.FhirException"/>; nothing is written) or adjust
    /// <see cref="WriteHookContext.Resource"/>. Not called for deletions. For a create nothing has opened the database
    /// transaction yet, so on a single-writer store this is where a hook's expensive reads belong: of committed data, through
    /// the look-up interface the hook was given (<see cref="IRecordLookups"/> or its own), kept in <see cref="WriteHookContext.Items"/> for
    /// <see cref="AfterWriteAsync"/> to confirm inside the transaction.
    /// </summary>
    Task BeforeWriteAsync(WriteHookContext write, CancellationToken cancellationToken);

    /// <summary>
    /// After the version (or the deletion, when <see cref="WriteHookContext.Resource"/> is null) is written, in the same
    /// transaction: may read and write other resources through <see cref="WriteHookContext.Writer"/>.
    /// </summary>
    Task AfterWriteAsync(WriteHookContext write, CancellationToken cancellationToken);
}

/// <summary>One write as a hook sees it.</summary>
/// <param name="Writer">The transaction, and a way to write other resources through the one door's version path.</param>
/// <param name="Resource">The resource being written (null for a deletion); after the write it carries its id and meta.</param>
/// <param name="Previous">The version this write replaces, if any (deleted ones included, as tombstones).</param>
/// <param name="Internal">True when a hook wrote this resource itself through <see cref="IRecordWriter"/>.</param>
public sealed record WriteHookContext(IRecordWriter Writer, string Type, string Id, Resource? Resource, StoredResource? Previous, bool Internal)
{
    /// <summary>What the hooks found before the write, for their own use after it: the same object in both calls of one write.</summary>
    public Dictionary<object, object> Items { get; } = [];

    /// <summary>The request that wrote this version (who, through which face); null for a hook's own writes.</summary>
    public RequestContext? Request { get; init; }
}

/// <summary>
/// Writes inside an open transaction through the same path as the API's writes (version, meta, index rows including the
/// hooks' rows, change event), without a second access decision: the caller was authorised for the interaction that opened
/// the transaction. Writes made here are marked <see cref="WriteHookContext.Internal"/> for the hooks they trigger.
/// </summary>
public interface IRecordWriter
{
    /// <summary>The transaction, for reads and locks inside it and for a capability's own queries that take it (the MPI's).</summary>
    IWriteSession Session { get; }

    /// <summary>Writes a new version of <paramref name="resource"/>: a new resource when its id is empty, else the next version.</summary>
    Task<RecordResult> WriteAsync(Resource resource, CancellationToken cancellationToken);

    /// <summary>Deletes the current version of a resource; deleting what is not there writes nothing.</summary>
    Task DeleteAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Rebuilds the index rows of a resource's current version from its stored body, the hooks' rows included, without
    /// writing a version (a bulk job that changes what a hook indexes, such as the MPI's rematch). Answers the resource,
    /// or null when it is not there or deleted.
    /// </summary>
    Task<Resource?> ReindexAsync(string type, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Records how far a reader of the change feed has read, committed with what this operation writes (and committed even
    /// when it writes nothing else): see <see cref="IChangeFeedSession.SetFeedPositionAsync"/>.
    /// </summary>
    Task<bool> SetFeedPositionAsync(string name, long from, long to, CancellationToken cancellationToken);

    /// <summary>Starts a change-feed reader at the end of the feed unless it has a position (<see cref="IChangeFeedSession.StartFeedPositionAsync"/>).</summary>
    Task StartFeedPositionAsync(string name, CancellationToken cancellationToken);
}

/// <summary>
/// An extension of <c>Patient/[id]/$everything</c>: the other Patient records that are the same person (a master person
/// index's links), whose compartments a client may ask to have included with <see cref="Parameter"/>=true.
/// </summary>
public interface IPatientLinks
{
    /// <summary>The $everything parameter that asks for the linked records; its owner's prefix, like a hook's index rows.</summary>
    string Parameter { get; }

    /// <summary>The ids of the other Patients linked to <paramref name="patientId"/> (not itself); none when it is not linked.</summary>
    Task<IReadOnlyList<string>> LinkedAsync(IRecordLookups store, string patientId, CancellationToken cancellationToken);
}
