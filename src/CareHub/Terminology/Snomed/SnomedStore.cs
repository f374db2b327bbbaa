using System.Data.Common;
using System.Globalization;
using CareHub.Storage;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// SNOMED CT as loaded from RF2 Snapshot files: concepts, descriptions, relationships, refset members (simple, language,
/// map) and the transitive closure of the active is-a hierarchy, in a store of its own (docs/terminology.md says why)
/// with its own migrations and version table, <c>terminology_schema_version</c>. The SQL here is shared; the SQLite and
/// PostgreSQL providers override connections, the bulk writes of a load and the migration lock.
/// </summary>
public abstract partial class SnomedStore : IAsyncDisposable
{
    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 1;

    public abstract string Backend { get; }

    /// <summary>Folder (resource name prefix) of this provider's numbered migration scripts.</summary>
    protected abstract string MigrationPrefix { get; }

    /// <summary>A connection for reading.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A connection and transaction for a load; SQLite takes its write lock here.</summary>
    protected abstract Task<LoadScope> BeginLoadAsync(CancellationToken cancellationToken);

    /// <summary>Writes rows into <paramref name="table"/>, replacing rows of the same id that are not newer; answers the rows read.</summary>
    protected abstract Task<long> UpsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken);

    /// <summary>Appends rows to <paramref name="table"/>, which has no rows with their keys.</summary>
    protected abstract Task InsertAsync(DbConnection connection, DbTransaction transaction, SnomedTable table, IEnumerable<object?[]> rows, CancellationToken cancellationToken);

    /// <summary>Brings the planner's statistics up to date at the end of a load, where the database keeps them.</summary>
    protected virtual Task AnalyzeAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();

    /// <summary>A load's connection and transaction, and the in-process lock it holds (SQLite's single writer).</summary>
    protected sealed class LoadScope(DbConnection connection, DbTransaction transaction, SemaphoreSlim? writer) : IAsyncDisposable
    {
        public DbConnection Connection { get; } = connection;

        public DbTransaction Transaction { get; } = transaction;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Transaction.DisposeAsync();
                await Connection.DisposeAsync();
            }
            finally
            {
                writer?.Release();
            }
        }
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await PrepareForMigrationAsync(connection, cancellationToken);
        try
        {
            await SqlMigrations.ApplyAsync(connection, "terminology_schema_version", SchemaVersion,
                SqlMigrations.Load(MigrationPrefix, problem => new InvalidOperationException($"The {Backend} terminology store's {problem}.")),
                current => new SchemaVersionException(
                    $"The {Backend} terminology store is at schema version {current} but this build of CareHub knows only up to {SchemaVersion}. Upgrade CareHub, or point it at another database."),
                cancellationToken);
        }
        finally
        {
            // Not cancellable: a pooled connection must not go back to the pool still holding the migration lock.
            await FinishMigrationAsync(connection, CancellationToken.None);
        }
    }

    // ---- reads ---------------------------------------------------------------------------------------------------

    /// <summary>The number of the last load (0 when nothing is loaded); it changes whenever the content does.</summary>
    public async Task<long> GenerationAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return Convert.ToInt64(await SqlCommands.ScalarAsync(connection, null, "SELECT COALESCE(MAX(generation), 0) FROM sct_load", cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>A concept, active or not; null when the store has no concept with that id.</summary>
    public async Task<SnomedConcept?> ConceptAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT id, active, module_id, effective_time, definition_status_id, preferred_term, fsn FROM sct_concept WHERE id = @id", ("@id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadConcept(reader) : null;
    }

    private static SnomedConcept ReadConcept(DbDataReader reader) => new(
        reader.GetInt64(0), reader.GetInt32(1) == 1, reader.GetInt64(2), reader.GetInt32(3), reader.GetInt64(4),
        reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6));

    /// <summary>The concept's active descriptions, each with its acceptability in the language refsets that list it.</summary>
    public async Task<IReadOnlyList<SnomedDescription>> DescriptionsAsync(long conceptId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT d.id, d.term, d.type_id, d.language_code, m.refset_id, m.acceptability_id FROM sct_description d " +
            "LEFT JOIN sct_refset_member m ON m.referenced_component_id = d.id AND m.active = 1 AND m.acceptability_id IS NOT NULL " +
            "WHERE d.concept_id = @id AND d.active = 1 ORDER BY d.type_id, d.id", ("@id", conceptId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var descriptions = new List<SnomedDescription>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetInt64(0);
            if (descriptions.Count == 0 || descriptions[^1].Id != id)
            {
                descriptions.Add(new SnomedDescription(id, reader.GetString(1), reader.GetInt64(2), reader.GetString(3), new List<(long, long)>()));
            }

            if (!reader.IsDBNull(4))
            {
                ((List<(long, long)>)descriptions[^1].Acceptability).Add((reader.GetInt64(4), reader.GetInt64(5)));
            }
        }

        return descriptions;
    }

    /// <summary>The active relationships from the concept (is-a and attributes), with their targets' preferred terms.</summary>
    public Task<IReadOnlyList<SnomedRelationship>> RelationshipsAsync(long conceptId, CancellationToken cancellationToken) =>
        RelationshipsAsync("r.source_id = @id", "r.destination_id", conceptId, cancellationToken);

    /// <summary>The concept's direct children (the active is-a relationships to it).</summary>
    public Task<IReadOnlyList<SnomedRelationship>> ChildrenAsync(long conceptId, CancellationToken cancellationToken) =>
        RelationshipsAsync($"r.destination_id = @id AND r.type_id = {Snomed.IsA}", "r.source_id", conceptId, cancellationToken);

    private async Task<IReadOnlyList<SnomedRelationship>> RelationshipsAsync(string where, string other, long conceptId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            $"SELECT r.type_id, {other}, r.relationship_group, c.preferred_term FROM sct_relationship r LEFT JOIN sct_concept c ON c.id = {other} " +
            $"WHERE {where} AND r.active = 1 ORDER BY r.relationship_group, r.type_id, {other}", ("@id", conceptId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<SnomedRelationship>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new SnomedRelationship(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return list;
    }

    /// <summary>True when <paramref name="descendant"/> is below <paramref name="ancestor"/> in the active is-a hierarchy (not when they are the same).</summary>
    public async Task<bool> IsBelowAsync(long ancestor, long descendant, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlCommands.ScalarAsync(connection, null, "SELECT 1 FROM sct_closure WHERE ancestor_id = @a AND descendant_id = @d",
            cancellationToken, ("@a", ancestor), ("@d", descendant)) is not null;
    }

    /// <summary>
    /// The active concepts among <paramref name="ids"/> (a query that selects a column <c>id</c>, such as a compiled
    /// ECL expression), in id order: the total, and the page from <paramref name="offset"/> of at most
    /// <paramref name="count"/>; with <paramref name="words"/>, only concepts with an active description that contains
    /// every word (case-insensitively, ASCII letters).
    /// </summary>
    public async Task<SnomedPage> SelectAsync(string ids, IReadOnlyList<string> words, int offset, int count, CancellationToken cancellationToken)
    {
        var where = $"c.active = 1 AND c.id IN ({ids})";
        var parameters = new List<(string, object?)>();
        for (var i = 0; i < words.Count; i++)
        {
            where += $" AND EXISTS (SELECT 1 FROM sct_description d WHERE d.concept_id = c.id AND d.active = 1 AND LOWER(d.term) LIKE @w{i} ESCAPE '\\')";
            parameters.Add(($"@w{i}", "%" + words[i].ToLowerInvariant().Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%"));
        }

        await using var connection = await OpenAsync(cancellationToken);
        var total = Convert.ToInt64(await SqlCommands.ScalarAsync(connection, null, $"SELECT COUNT(*) FROM sct_concept c WHERE {where}", cancellationToken, [.. parameters]), CultureInfo.InvariantCulture);
        var concepts = new List<(long, string?)>();
        if (count > 0 && offset < total)
        {
            await using var command = SqlCommands.Command(connection, null, $"SELECT c.id, c.preferred_term FROM sct_concept c WHERE {where} ORDER BY c.id LIMIT {count} OFFSET {offset}", [.. parameters]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                concepts.Add((reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
        }

        return new SnomedPage(total, concepts);
    }

    /// <summary>True when the active concept <paramref name="id"/> is selected by <paramref name="ids"/> (a compiled expression).</summary>
    public async Task<bool> SelectsAsync(string ids, long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlCommands.ScalarAsync(connection, null, $"SELECT 1 FROM sct_concept c WHERE c.id = @id AND c.active = 1 AND c.id IN ({ids})",
            cancellationToken, ("@id", id)) is not null;
    }

    /// <summary>The active map refset members whose source is <paramref name="conceptId"/>, or, reversed, whose target is <paramref name="target"/>.</summary>
    public async Task<IReadOnlyList<SnomedMap>> MapsAsync(long? conceptId, string? target, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT m.refset_id, m.referenced_component_id, m.map_target, m.map_group, m.map_priority, m.map_advice, m.correlation_id FROM sct_refset_member m " +
            $"WHERE m.active = 1 AND m.map_target IS NOT NULL AND m.map_target <> '' AND {(conceptId is null ? "m.map_target = @v" : "m.referenced_component_id = @v")} " +
            "ORDER BY m.refset_id, m.map_group, m.map_priority, m.map_target", ("@v", conceptId is null ? target : conceptId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<SnomedMap>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new SnomedMap(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetInt64(6)));
        }

        return list;
    }

    /// <summary>The last load, or null when nothing is loaded.</summary>
    public async Task<SnomedLoadResult?> LastLoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT generation, source, concepts, descriptions, relationships, refset_members, closure_rows FROM sct_load ORDER BY generation DESC LIMIT 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new SnomedLoadResult(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), [], TimeSpan.Zero)
            : null;
    }
}

/// <summary>A concept: its status, module and the terms CareHub shows for it.</summary>
public sealed record SnomedConcept(long Id, bool Active, long ModuleId, int EffectiveTime, long DefinitionStatusId, string? PreferredTerm, string? Fsn)
{
    /// <summary>The term to show: the preferred term, else the fully specified name, else the id.</summary>
    public string Display => PreferredTerm ?? Fsn ?? Id.ToString(CultureInfo.InvariantCulture);
}

/// <summary>An active description and its acceptability (preferred or acceptable) in each language refset that lists it.</summary>
public sealed record SnomedDescription(long Id, string Term, long TypeId, string LanguageCode, IReadOnlyList<(long Refset, long Acceptability)> Acceptability);

/// <summary>An active relationship: its type, the concept at its other end and that concept's preferred term.</summary>
public sealed record SnomedRelationship(long TypeId, long Other, int Group, string? OtherTerm);

/// <summary>A page of concepts selected by an expression: how many there are in all, and this page's ids and terms.</summary>
public sealed record SnomedPage(long Total, IReadOnlyList<(long Id, string? Term)> Concepts);

/// <summary>A member of a map refset: from a concept to a code of another scheme.</summary>
public sealed record SnomedMap(long RefsetId, long ConceptId, string Target, int? Group, int? Priority, string? Advice, long? CorrelationId);

/// <summary>What a load wrote: its generation, the rows read from each kind of file and the closure, and the files passed over.</summary>
public sealed record SnomedLoadResult(long Generation, string Source, long Concepts, long Descriptions, long Relationships, long RefsetMembers, long ClosureRows,
    IReadOnlyList<string> Skipped, TimeSpan Elapsed);
