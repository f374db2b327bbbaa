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
    /// <param name="blocksOf">The block of each key, in order (at most <see cref="Limit"/> ids each).</param>
    /// <param name="read">The current, non-deleted versions of a list of Patient ids, bodies included.</param>
    public static async Task<List<(StoredResource Stored, PreparedPatient Prepared)>> ReadAsync(
        Func<IReadOnlyList<string>, Task<IReadOnlyList<IReadOnlyList<string>>>> blocksOf, Func<IReadOnlyList<string>, Task<IReadOnlyList<StoredResource>>> read,
        IReadOnlyList<string> keys, string? self, int maxBlockSize, int maxCandidates, PreparedPatients prepared)
    {
        ArgumentNullException.ThrowIfNull(blocksOf);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(prepared);
        var chosen = Choose(await blocksOf(keys), self, maxBlockSize, maxCandidates);
        if (chosen.Count == 0)
        {
            return [];
        }

        var stored = (await read(chosen)).ToDictionary(s => s.Id, StringComparer.Ordinal);
        return chosen.Where(stored.ContainsKey).Select(id => (stored[id], prepared.Get(stored[id]))).ToList();
    }

    /// <summary>Blocks one key at a time through <paramref name="findIds"/> (an access-checked reader, say).</summary>
    public static Func<IReadOnlyList<string>, Task<IReadOnlyList<IReadOnlyList<string>>>> KeyByKey(Func<StoreQuery, Task<IReadOnlyList<string>>> findIds, int maxBlockSize)
    {
        ArgumentNullException.ThrowIfNull(findIds);
        return async keys =>
        {
            var blocks = new List<IReadOnlyList<string>>(keys.Count);
            foreach (var key in keys)
            {
                blocks.Add(await findIds(PersonLinker.ByToken("Patient", MpiCodes.BlockParam, key, Limit(maxBlockSize))));
            }

            return blocks;
        };
    }

    /// <summary>How many of a block to find: one more than the cap (and one for the record itself), so an oversized block is known as such.</summary>
    public static int Limit(int maxBlockSize) => maxBlockSize + 2;

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
