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
