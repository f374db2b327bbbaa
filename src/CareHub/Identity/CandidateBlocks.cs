using CareHub.Storage;

namespace CareHub.Identity;

/// <summary>
/// Chooses, from the blocks of a record's blocking keys, the candidates worth comparing. A block larger than the block cap
/// is skipped (as in the bulk linkage, <see cref="Matching.Blocking.CandidatePairs"/>). The rest are ranked by how many of
/// the record's keys they share, then by the size of the smallest block they share, and only the first
/// <c>maxCandidates</c> are kept: a record of the same person shares its birth date, name codes, postcode or NHS Number,
/// so it shares several keys or a rare one, while a record that shares one common key (a popular name in the same year)
/// is rarely the same person. So the cost of a write or a <c>$match</c> stays bounded however large the record grows,
/// and what the cap cuts is the least likely.
/// </summary>
internal static class CandidateBlocks
{
    /// <summary>
    /// Finds the blocks of <paramref name="keys"/> (ids only), chooses the candidates and reads them in one query: the
    /// current, non-deleted versions, best prospects first, each with its prepared form.
    /// </summary>
    /// <param name="findIds">Ids matching a query (the store, the session or an access-checked reader).</param>
    /// <param name="read">Current resources matching a query, bodies included.</param>
    public static async Task<List<(StoredResource Stored, PreparedPatient Prepared)>> ReadAsync(
        Func<StoreQuery, Task<IReadOnlyList<string>>> findIds, Func<StoreQuery, Task<IReadOnlyList<StoredResource>>> read,
        IEnumerable<string> keys, string? self, int maxBlockSize, int maxCandidates, PreparedPatients prepared)
    {
        ArgumentNullException.ThrowIfNull(findIds);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(prepared);
        var chosen = await FindAsync(findIds, keys, self, maxBlockSize, maxCandidates);
        if (chosen.Count == 0)
        {
            return [];
        }

        var stored = (await read(new StoreQuery("Patient", [new IdClause(chosen)], chosen.Count))).ToDictionary(s => s.Id, StringComparer.Ordinal);
        return chosen.Where(stored.ContainsKey).Select(id => (stored[id], prepared.Get(stored[id]))).ToList();
    }

    /// <summary>Finds the blocks of <paramref name="keys"/> and chooses the candidates among them (<see cref="Choose"/>).</summary>
    public static async Task<List<string>> FindAsync(Func<StoreQuery, Task<IReadOnlyList<string>>> findIds, IEnumerable<string> keys, string? self, int maxBlockSize, int maxCandidates)
    {
        ArgumentNullException.ThrowIfNull(findIds);
        ArgumentNullException.ThrowIfNull(keys);
        var blocks = new List<IReadOnlyList<string>>();
        foreach (var key in keys)
        {
            // One more than the cap (and one for the record itself), so an oversized block is known as such.
            blocks.Add(await findIds(PersonLinker.ByToken("Patient", MpiCodes.BlockParam, key, maxBlockSize + 2)));
        }

        return Choose(blocks, self, maxBlockSize, maxCandidates);
    }

    /// <summary>The candidate ids, best prospects first, at most <paramref name="maxCandidates"/>.</summary>
    /// <param name="blocks">Each key's block as found (up to one more than the cap, so an oversized block is known).</param>
    /// <param name="self">The record's own id, never its own candidate (null for a $match probe).</param>
    public static List<string> Choose(IEnumerable<IReadOnlyList<string>> blocks, string? self, int maxBlockSize, int maxCandidates)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var shared = new Dictionary<string, (int Keys, int SmallestBlock)>(StringComparer.Ordinal);
        foreach (var block in blocks)
        {
            var size = block.Count(id => id != self);
            if (size == 0 || size > maxBlockSize)
            {
                continue;
            }

            foreach (var id in block.Distinct(StringComparer.Ordinal))
            {
                if (id == self)
                {
                    continue;
                }

                shared[id] = shared.TryGetValue(id, out var s) ? (s.Keys + 1, Math.Min(s.SmallestBlock, size)) : (1, size);
            }
        }

        return shared
            .OrderByDescending(c => c.Value.Keys)
            .ThenBy(c => c.Value.SmallestBlock)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .Take(maxCandidates)
            .Select(c => c.Key)
            .ToList();
    }
}
