using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using CareHub.Storage;

namespace CareHub.Terminology.Snomed;

/// <summary>Loading an RF2 release: every file, the closure and the terms shown, in one transaction.</summary>
public abstract partial class SnomedStore
{
    /// <summary>
    /// Loads the Snapshot files of <paramref name="release"/> over what is stored (a component replaces a stored one of
    /// the same id when its effective time is the same or later, so an extension loads over its edition), rebuilds the
    /// closure of the active is-a hierarchy from every module's relationships and works out each concept's preferred
    /// term (GB English, then US English, then the fully specified name), all in one transaction: a malformed file
    /// (<see cref="Rf2FormatException"/>) or a cycle in the hierarchy leaves the store as it was.
    /// </summary>
    public async Task<SnomedLoadResult> LoadAsync(Rf2Release release, Action<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(release);
        var started = Stopwatch.GetTimestamp();
        var counts = new Dictionary<SnomedTable, long>();
        await using (var scope = await BeginLoadAsync(cancellationToken))
        {
            var (connection, transaction) = (scope.Connection, scope.Transaction);
            foreach (var file in release.Files)
            {
                var rows = await UpsertAsync(connection, transaction, file.Table, file.Rows(), cancellationToken);
                counts[file.Table] = counts.GetValueOrDefault(file.Table) + rows;
                progress?.Invoke($"{Path.GetFileName(file.Path)}: {rows} rows");
            }

            var closureRows = await RebuildClosureAsync(connection, transaction, cancellationToken);
            progress?.Invoke($"closure: {closureRows} rows");
            await SqlCommands.ExecuteAsync(connection, transaction, PreferredTermsSql, cancellationToken);
            var generation = Convert.ToInt64(await SqlCommands.ScalarAsync(connection, transaction, "SELECT COALESCE(MAX(generation), 0) + 1 FROM sct_load", cancellationToken), CultureInfo.InvariantCulture);
            var result = new SnomedLoadResult(generation, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(release.Folder))),
                counts.GetValueOrDefault(SnomedTable.Concept), counts.GetValueOrDefault(SnomedTable.Description), counts.GetValueOrDefault(SnomedTable.Relationship),
                counts.GetValueOrDefault(SnomedTable.RefsetMember), closureRows, release.Skipped, Stopwatch.GetElapsedTime(started));
            await SqlCommands.ExecuteAsync(connection, transaction,
                "INSERT INTO sct_load (generation, loaded, source, concepts, descriptions, relationships, refset_members, closure_rows) VALUES (@g, @t, @s, @c, @d, @r, @m, @x)",
                cancellationToken, ("@g", generation), ("@t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)), ("@s", result.Source),
                ("@c", result.Concepts), ("@d", result.Descriptions), ("@r", result.Relationships), ("@m", result.RefsetMembers), ("@x", closureRows));
            await AnalyzeAsync(connection, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return result with { Elapsed = Stopwatch.GetElapsedTime(started) };
        }
    }

    /// <summary>
    /// The preferred term of each concept: the active synonym preferred in the GB English language refset, else in the
    /// US English one; the fully specified name when neither has one.
    /// </summary>
    private static readonly string PreferredTermsSql =
        $"UPDATE sct_concept SET fsn = (SELECT d.term FROM sct_description d WHERE d.concept_id = sct_concept.id AND d.active = 1 AND d.type_id = {Snomed.FullySpecifiedName} ORDER BY d.effective_time DESC, d.id LIMIT 1), " +
        // CROSS JOIN keeps SQLite's loops in this order (the concept's descriptions, then their members): driven from the
        // language refset's members instead, it read every member for every concept.
        "preferred_term = (SELECT d.term FROM sct_description d CROSS JOIN sct_refset_member m " +
        $"WHERE d.concept_id = sct_concept.id AND d.active = 1 AND d.type_id = {Snomed.Synonym} AND m.referenced_component_id = d.id " +
        $"AND m.active = 1 AND m.acceptability_id = {Snomed.Preferred} AND m.refset_id IN ({Snomed.GbLanguage}, {Snomed.UsLanguage}) " +
        $"ORDER BY CASE WHEN m.refset_id = {Snomed.GbLanguage} THEN 0 ELSE 1 END, d.id LIMIT 1)";

    /// <summary>Replaces the closure with every (ancestor, descendant) pair of the active is-a relationships; a cycle is refused.</summary>
    private async Task<long> RebuildClosureAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        var parents = new Dictionary<long, List<long>>();
        await using (var command = SqlCommands.Command(connection, transaction, $"SELECT source_id, destination_id FROM sct_relationship WHERE type_id = {Snomed.IsA} AND active = 1"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var child = reader.GetInt64(0);
                if (!parents.TryGetValue(child, out var list))
                {
                    parents[child] = list = [];
                }

                list.Add(reader.GetInt64(1));
            }
        }

        var ancestors = new Dictionary<long, long[]>(parents.Count);
        var pairs = new List<(long Ancestor, long Descendant)>();
        foreach (var concept in parents.Keys)
        {
            foreach (var ancestor in AncestorsOf(concept, parents, ancestors, []))
            {
                pairs.Add((ancestor, concept));
            }
        }

        pairs.Sort();
        await SqlCommands.ExecuteAsync(connection, transaction, "DELETE FROM sct_closure", cancellationToken);
        await InsertAsync(connection, transaction, SnomedTable.Closure, pairs.Select(p => new object?[] { p.Ancestor, p.Descendant }), cancellationToken);
        return pairs.Count;
    }

    private static long[] AncestorsOf(long concept, Dictionary<long, List<long>> parents, Dictionary<long, long[]> known, HashSet<long> path)
    {
        if (known.TryGetValue(concept, out var done))
        {
            return done;
        }

        if (!parents.TryGetValue(concept, out var direct))
        {
            return known[concept] = [];
        }

        if (!path.Add(concept))
        {
            throw new Rf2FormatException("sct2_Relationship", 0, $"the active is-a relationships make a cycle through concept {concept}; the hierarchy must be acyclic.");
        }

        var set = new HashSet<long>();
        foreach (var parent in direct)
        {
            set.Add(parent);
            set.UnionWith(AncestorsOf(parent, parents, known, path));
        }

        path.Remove(concept);
        return known[concept] = [.. set];
    }
}
