using CareHub.Identity.Matching;
using CareHub.Storage;

namespace CareHub.Identity;

/// <summary>
/// A bounded cache of stored Patients prepared for comparison (names folded, phonetic codes, birth date, postcode...), so
/// a record that is somebody's blocking candidate again and again is parsed and normalised once, not on every write.
/// An entry is keyed by id and only used for the very version it was made from: same version number and the same stored
/// JSON (by length and hash), so a version that was written and rolled back, or a write by another node, can never be
/// mistaken for the current one. The cache never answers without a read of the current version: it saves the parse, not
/// the read. Two generations bound it: when the young one is full it becomes the old one and the previous old one is
/// dropped, so the most recently used entries survive (an approximate LRU without per-hit bookkeeping).
/// </summary>
internal sealed class PreparedPatients(int capacity)
{
    private readonly Lock gate = new();
    private Dictionary<string, Entry> young = new(StringComparer.Ordinal);
    private Dictionary<string, Entry> old = new(StringComparer.Ordinal);

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    /// <summary>The prepared form of this stored version of a Patient: from the cache, or parsed and prepared now.</summary>
    public PreparedPatient Get(StoredResource stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var json = stored.Json ?? throw new ArgumentException("A deleted version has nothing to prepare.", nameof(stored));
        var hash = json.GetHashCode(StringComparison.Ordinal);
        if (capacity > 0)
        {
            lock (gate)
            {
                if (Find(stored.Id) is { } hit && hit.Version == stored.Version && hit.Length == json.Length && hit.Hash == hash)
                {
                    Hits++;
                    return hit.Prepared;
                }

                Misses++;
            }
        }

        // Straight from the stored JSON: a Firely parse of every candidate not yet prepared was most of a match's cost.
        var (person, merged) = PatientJsonMapper.Read(json, PersonLinker.SourceSystem);
        var prepared = new PreparedPatient(PreparedPerson.From(person), merged);
        Put(stored.Id, new Entry(stored.Version, json.Length, hash, prepared));
        return prepared;
    }

    private void Put(string id, Entry entry)
    {
        if (capacity <= 0)
        {
            return;
        }

        lock (gate)
        {
            if (young.Count >= (capacity + 1) / 2 && !young.ContainsKey(id))
            {
                old = young;
                young = new Dictionary<string, Entry>(StringComparer.Ordinal);
            }

            young[id] = entry;
        }
    }

    private Entry? Find(string id)
    {
        if (young.TryGetValue(id, out var entry))
        {
            return entry;
        }

        if (old.TryGetValue(id, out entry))
        {
            // Used again: move it to the young generation so it outlives the old one.
            old.Remove(id);
            if (young.Count < (capacity + 1) / 2)
            {
                young[id] = entry;
            }

            return entry;
        }

        return null;
    }

    private sealed record Entry(int Version, int Length, int Hash, PreparedPatient Prepared);
}

/// <summary>A stored Patient as matching sees it: normalised once, and whether it was merged into another record.</summary>
internal sealed record PreparedPatient(PreparedPerson Person, bool Merged);
