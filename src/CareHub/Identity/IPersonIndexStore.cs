using CareHub.Storage;

namespace CareHub.Identity;

/// <summary>
/// What the master person index reads from the store besides the one door: its candidates by blocking key, committed
/// (<see cref="IRecordLookups"/>) or as the write transaction sees them, and what changed since it read them. Patients are
/// compared before the write transaction starts (so a single-writer store does not hold its writer for the comparison)
/// and confirmed inside it with a few cheap statements. Both SQL stores implement it. The methods that take an
/// <see cref="IWriteSession"/> run in that transaction; it must be a session of the same store (the one
/// <see cref="Records.IRecordWriter.Session"/> hands to a write hook or operation).
/// </summary>
public interface IPersonIndexStore : IRecordLookups
{
    /// <summary>
    /// For each of <paramref name="codes"/>, the ids of the current resources of <paramref name="type"/> with a token index
    /// row <paramref name="param"/> = that code and no system, at most <paramref name="limit"/> each, in one statement: the
    /// blocks of a set of blocking keys.
    /// </summary>
    Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The position of the last committed change event (0 when there is none). Read before reading committed data, it
    /// marks what a later transaction must look at again: <see cref="ChangedSinceAsync"/>.
    /// </summary>
    Task<long> FeedEndAsync(CancellationToken cancellationToken);

    /// <summary><see cref="TokenPostingsAsync(string, string, IReadOnlyList{string}, int, CancellationToken)"/> as the transaction sees the index.</summary>
    Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(IWriteSession session, string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The current version numbers of those of <paramref name="ids"/> that exist and are not deleted, as the transaction
    /// sees them, in one statement and without locking them: to tell whether what was read before the transaction is still
    /// current (a committed version number never names other content).
    /// </summary>
    Task<IReadOnlyDictionary<string, int>> CurrentVersionsAsync(IWriteSession session, string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>
    /// The ids of <paramref name="type"/> with a change event after <paramref name="afterPosition"/>, as the transaction
    /// sees them, that have a token row of <paramref name="param"/> without a system and with one of
    /// <paramref name="codes"/>; and the session's own writes of the type, whatever their rows: what was written since a
    /// read made before the transaction. Null when more than <paramref name="max"/> were written, for the caller to read
    /// again in full instead.
    /// </summary>
    Task<IReadOnlyCollection<string>?> ChangedSinceAsync(IWriteSession session, string type, long afterPosition, string param, IReadOnlyList<string> codes, int max, CancellationToken cancellationToken);
}
