using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CareHub.Governance;
using CareHub.Identity;
using CareHub.Storage;

namespace CareHub.Tests.Storage;

/// <summary>
/// The store's contracts: every provider runs these tests unchanged. The door's <see cref="IRecordStore"/> here and in the
/// search part; the master person index's <see cref="IPersonIndexStore"/> in the person-index part; the governance jobs'
/// <see cref="IGovernanceStore"/> in the governance part: one store implements all three, so each test reaches the
/// store through the interface its consumer uses. Each test gets a store over an empty database of its own (a fresh file
/// or schema), already migrated, so tests never see each other's data.
/// </summary>
public abstract partial class RecordStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private SqlRecordStore? store;

    /// <summary>The store as the one door uses it.</summary>
    protected IRecordStore Store => Provider;

    /// <summary>The store as the master person index uses it.</summary>
    protected IPersonIndexStore PersonIndex => Provider;

    /// <summary>The store as the audit chain verification and the retention job use it.</summary>
    protected IGovernanceStore Governance => Provider;

    private SqlRecordStore Provider => store ?? throw new InvalidOperationException("The store is created in InitializeAsync.");

    /// <summary>The store's change feed (both SQL stores keep one).</summary>
    protected IChangeFeed Feed => Provider;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A new, unmigrated store over an empty database that belongs to this test alone.</summary>
    protected abstract ValueTask<SqlRecordStore> CreateStoreAsync();

    /// <summary>Runs SQL against the test's database, behind the store's back.</summary>
    protected abstract Task ExecuteSqlAsync(string sql);

    protected abstract Task<long> ScalarSqlAsync(string sql);

    /// <summary>Removes the test's database once the store is disposed.</summary>
    protected abstract ValueTask DropDatabaseAsync();

    public async ValueTask InitializeAsync()
    {
        store = await CreateStoreAsync();
        await store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (store is not null)
        {
            await store.DisposeAsync();
            await DropDatabaseAsync();
        }

        GC.SuppressFinalize(this);
    }

    private static DateTimeOffset At(int minute) => T0.AddMinutes(minute);

    private static string Body(string type, string id, int version) =>
        $$$"""{"resourceType":"{{{type}}}","id":"{{{id}}}","meta":{"versionId":"{{{version}}}"},"text":{"div":"<div>v{{{version}}}</div>"}}""";

    protected static VersionWrite Version(string type, string id, int version, int minute, int? expected, params IndexRow[] rows) =>
        new(type, id, version, At(minute), version == 1 ? "POST" : "PUT", Body(type, id, version), expected, rows);

    private static VersionWrite Tombstone(string type, string id, int version, int minute, int? expected) =>
        new(type, id, version, At(minute), "DELETE", null, expected, []);

    private static TokenIndexRow Identifier(string? system, string code) => new("identifier", system, code);

    protected async Task CommitAsync(params VersionWrite[] writes)
    {
        await using var session = await Store.BeginWriteAsync(Ct);
        foreach (var write in writes)
        {
            await session.WriteAsync(write, Ct);
        }

        await session.CommitAsync(Ct);
    }

    private Task<SearchPage> SearchAsync(string type, params QueryClause[] clauses) =>
        Store.SearchAsync(new StoreQuery(type, clauses, 100) { Scope = QueryScope.Internal("test") }, Ct);

    private static string[] Ids(SearchPage page) => [.. page.Resources.Select(r => r.Id)];

    private static void AssertPage(SearchPage page, string[] ids, bool hasMore, bool hasPrevious, long? total)
    {
        Assert.Equal(ids, Ids(page));
        Assert.Equal((hasMore, hasPrevious, total), (page.HasMore, page.HasPrevious, page.Total));
    }

    private static TokenClause Token(params TokenMatch[] anyOf) => new("identifier", anyOf);

    private static DateClause LastUpdated(Prefix prefix, DateTimeOffset low, DateTimeOffset high) =>
        new("_lastUpdated", [new DateMatch(prefix, low.ToUnixTimeMilliseconds(), high.ToUnixTimeMilliseconds())]);

    /// <summary>Bodies are compared as JSON: a store may normalise the text (PostgreSQL's jsonb reorders keys).</summary>
    private static void AssertBody(string expected, string? actual)
    {
        Assert.NotNull(actual);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}, got {actual}");
    }

    private static void AssertVersion(StoredResource? resource, string type, string id, int version, int minute, string method)
    {
        Assert.NotNull(resource);
        Assert.Equal((type, id, version, At(minute), method), (resource.Type, resource.Id, resource.Version, resource.LastUpdated, resource.Method));
        AssertBody(Body(type, id, version), resource.Json);
    }

    // ---- Migrations ----

    [Fact]
    public async Task migrate_is_idempotent_and_records_the_schema_version()
    {
        await Store.MigrateAsync(Ct);
        await Store.MigrateAsync(Ct);

        Assert.Equal(MigrationCount(Store.Backend), await ScalarSqlAsync("SELECT COUNT(*) FROM schema_version"));
        Assert.Equal(SqlRecordStore.SchemaVersion, await ScalarSqlAsync("SELECT MAX(version) FROM schema_version"));
        await CommitAsync(Version("Patient", "p1", 1, 0, 0));
        Assert.NotNull(await Store.ReadAsync("Patient", "p1", null, Ct));
    }

    [Fact]
    public async Task a_database_newer_than_the_build_is_refused()
    {
        await ExecuteSqlAsync($"INSERT INTO schema_version (version, applied) VALUES ({SqlRecordStore.SchemaVersion + 1}, 'by a newer build')");

        var error = await Assert.ThrowsAsync<SchemaVersionException>(() => Store.MigrateAsync(Ct));
        Assert.Contains($"schema version {SqlRecordStore.SchemaVersion + 1}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>How many migration scripts a provider embeds (numbers may have gaps while branches land).</summary>
    protected static int MigrationCount(string backend) =>
        typeof(SqlRecordStore).Assembly.GetManifestResourceNames().Count(n =>
            n.StartsWith(backend == "sqlite" ? "CareHub.Storage.Sqlite.Migrations." : "CareHub.Storage.Postgres.Migrations.", StringComparison.Ordinal));

    [Fact]
    public async Task a_migration_missing_below_the_highest_applied_is_still_applied()
    {
        // A database that got a later migration first (branches landing out of order) still gets the earlier one.
        await ExecuteSqlAsync("DROP TABLE audit_chain_start; DROP TABLE audit_chain; DROP INDEX ix_outbox_resource; DELETE FROM schema_version WHERE version = 4");

        await Store.MigrateAsync(Ct);

        Assert.Equal(0, await ScalarSqlAsync("SELECT COUNT(*) FROM audit_chain"));
        Assert.Equal(MigrationCount(Store.Backend), await ScalarSqlAsync("SELECT COUNT(*) FROM schema_version"));
    }

    // ---- Planner statistics ----

    [Fact]
    public async Task refreshing_statistics_after_a_bulk_load_measures_what_was_loaded()
    {
        for (var n = 0; n < 30; n++)
        {
            await CommitAsync(Version("Patient", $"s{n}", 1, n, 0, Identifier("urn:mrn", $"m{n}")));
        }

        await Store.RefreshStatisticsAsync(Ct);

        // The store's statistics now describe the 30 loaded resources, not a guess (SQLite: the shipped baseline; PostgreSQL:
        // nothing until autovacuum's first analyse).
        Assert.Equal(30, await ScalarSqlAsync(Store.Backend == "sqlite"
            ? "SELECT CAST(substr(stat, 1, instr(stat, ' ') - 1) AS INTEGER) FROM sqlite_stat1 WHERE idx = 'ix_search_token_resource'"
            : "SELECT CAST(reltuples AS bigint) FROM pg_class WHERE oid = 'search_token'::regclass"));
    }

    [Fact]
    public async Task a_rule_about_the_patient_inside_one_patients_compartment_is_decided_for_every_patient_the_record_names()
    {
        // The access policy's patient rules inside $everything: decided for the compartment's patient once, and for any
        // other patient a record names as before. p1 does not meet the rule, p2 does.
        static ReferenceIndexRow Subject(string patient) => new("subject", "Patient", patient, null);
        static ReferenceIndexRow Names(string patient) => new("names", "Patient", patient, null);
        await CommitAsync(
            Version("Patient", "p1", 1, 1, 0, Identifier("urn:flag", "no"), Names("p1")),
            Version("Patient", "p2", 1, 1, 0, Identifier("urn:flag", "yes"), Names("p2")),
            Version("Observation", "only-p1", 1, 1, 0, Subject("p1"), Names("p1")),
            Version("Observation", "p1-and-p2", 1, 1, 0, Subject("p1"), Names("p1"), Names("p2")));
        var compartment = new CompartmentClause("Patient", "p1", new Dictionary<string, IReadOnlyList<string>> { ["Observation"] = ["subject"], ["Patient"] = [] });
        QueryClause Rule(string flag) => new CorrelatedClause(new ChainClause("names", ["Patient"], new TokenClause("identifier", [new TokenMatch("urn:flag", flag, AnySystem: false)])));
        string[] Visible(string flag) => [.. Store.SearchAsync(new StoreQuery("Observation", [compartment, Rule(flag)], 10) { Scope = QueryScope.Internal("test"), Types = ["Observation", "Patient"] }, Ct)
            .GetAwaiter().GetResult().Resources.Select(r => $"{r.Type}/{r.Id}")];

        Assert.Equal(["Observation/p1-and-p2"], Visible("yes"));
        Assert.Equal(["Observation/only-p1", "Observation/p1-and-p2", "Patient/p1"], Visible("no"));
        Assert.Empty(Visible("maybe"));
        Assert.Equal(["p1-and-p2"], await Store.FindIdsAsync(new StoreQuery("Observation", [compartment, Rule("yes")], 10) { Scope = QueryScope.Internal("test") }, Ct));
    }

    // ---- Writes and reads ----

    [Fact]
    public async Task writes_and_reads_the_current_version_and_any_given_version()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Patient", "p1", 2, 2, 1));

        AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 2, 2, "PUT");
        AssertVersion(await Store.ReadAsync("Patient", "p1", 1, Ct), "Patient", "p1", 1, 1, "POST");
        AssertVersion(await Store.ReadAsync("Patient", "p1", 2, Ct), "Patient", "p1", 2, 2, "PUT");
        Assert.Null(await Store.ReadAsync("Patient", "p1", 3, Ct));
        Assert.Null(await Store.ReadAsync("Patient", "p2", null, Ct));
        Assert.Null(await Store.ReadAsync("Observation", "p1", null, Ct));
    }

    [Fact]
    public async Task an_update_with_the_expected_version_succeeds_and_without_a_check_too()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Patient", "p1", 2, 2, 1));
        await CommitAsync(Version("Patient", "p1", 3, 3, null));

        AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 3, 3, "PUT");
    }

    [Fact]
    public async Task a_conflicting_expected_version_throws_and_leaves_nothing_written()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "old")));

        foreach (var expected in new[] { 0, 2 })
        {
            await using var session = await Store.BeginWriteAsync(Ct);
            var conflict = await Assert.ThrowsAsync<VersionConflictException>(() =>
                session.WriteAsync(Version("Patient", "p1", 2, 2, expected, Identifier("s", "new")), Ct));
            Assert.Equal(("Patient", "p1", expected, 1), (conflict.Type, conflict.Id, conflict.Expected, conflict.Actual));
        }

        AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 1, 1, "POST");
        Assert.Null(await Store.ReadAsync("Patient", "p1", 2, Ct));
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "old", false)))));
        Assert.Empty(Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "new", false)))));
        Assert.Single(await Feed.ReadChangesAsync(0, 100, Ct));
    }

    [Fact]
    public async Task an_update_of_a_resource_that_does_not_exist_conflicts()
    {
        await using var session = await Store.BeginWriteAsync(Ct);
        var conflict = await Assert.ThrowsAsync<VersionConflictException>(() => session.WriteAsync(Version("Patient", "p1", 2, 1, 1), Ct));
        Assert.Null(conflict.Actual);
    }

    [Fact]
    public async Task a_session_disposed_without_commit_leaves_nothing_visible()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "one")));

        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            await session.WriteAsync(Version("Patient", "p1", 2, 2, 1, Identifier("s", "two")), Ct);
            await session.WriteAsync(Version("Patient", "p2", 1, 2, 0, Identifier("s", "two")), Ct);
            AssertVersion(await session.ReadAsync("Patient", "p2", Ct), "Patient", "p2", 1, 2, "POST");

            // Not visible to readers while the transaction is open either.
            AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 1, 1, "POST");
            Assert.Null(await Store.ReadAsync("Patient", "p2", null, Ct));
        }

        AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 1, 1, "POST");
        Assert.Null(await Store.ReadAsync("Patient", "p1", 2, Ct));
        Assert.Null(await Store.ReadAsync("Patient", "p2", null, Ct));
        Assert.Null(await Store.ReadAsync("Patient", "p2", 1, Ct));
        Assert.Empty(Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "two", false)))));
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "one", false)))));
        Assert.Single(await Feed.ReadChangesAsync(0, 100, Ct));
        Assert.Equal(1, (await Store.HistoryAsync(new HistoryQuery(null, null, null, null, 100), Ct)).Total);

        // Nothing is left locked: the same writes commit now.
        await CommitAsync(Version("Patient", "p1", 2, 3, 1), Version("Patient", "p2", 1, 3, 0));
        Assert.Equal(2, (await Store.ReadAsync("Patient", "p1", null, Ct))!.Version);
    }

    [Fact]
    public async Task a_delete_writes_a_tombstone_and_the_resource_can_be_created_again()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "1")));
        await CommitAsync(Tombstone("Patient", "p1", 2, 2, 1));

        var deleted = await Store.ReadAsync("Patient", "p1", null, Ct);
        Assert.NotNull(deleted);
        Assert.True(deleted.Deleted);
        Assert.Equal((2, "DELETE", At(2)), (deleted.Version, deleted.Method, deleted.LastUpdated));
        Assert.Null((await Store.ReadAsync("Patient", "p1", 2, Ct))!.Json);
        AssertVersion(await Store.ReadAsync("Patient", "p1", 1, Ct), "Patient", "p1", 1, 1, "POST");
        Assert.Empty(Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "1", false)))));

        // Expected version 0 means "absent or deleted".
        await CommitAsync(Version("Patient", "p1", 3, 3, 0, Identifier("s", "1")));
        AssertVersion(await Store.ReadAsync("Patient", "p1", null, Ct), "Patient", "p1", 3, 3, "PUT");
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "1", false)))));
    }

    // ---- History ----

    [Fact]
    public async Task instance_history_is_newest_first()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Patient", "p2", 1, 2, 0));
        await CommitAsync(Version("Patient", "p1", 2, 3, 1));
        await CommitAsync(Tombstone("Patient", "p1", 3, 4, 2));

        var page = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", null, null, 10), Ct);

        Assert.Equal([3, 2, 1], page.Versions.Select(v => v.Version));
        Assert.True(page.Versions[0].Deleted);
        Assert.Equal(3, page.Total);
        Assert.Null(page.NextBeforeSequence);
    }

    [Fact]
    public async Task type_and_system_history_are_newest_first_and_leave_out_appended_audit_events()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Observation", "o1", 1, 2, 0));
        await CommitAsync(Version("Patient", "p2", 1, 3, 0));
        await Store.AppendAsync([Version("AuditEvent", "a1", 1, 4, 0)], Ct);
        await CommitAsync(Version("Patient", "p1", 2, 5, 1));

        var type = await Store.HistoryAsync(new HistoryQuery("Patient", null, null, null, 10), Ct);
        var system = await Store.HistoryAsync(new HistoryQuery(null, null, null, null, 10), Ct);
        var audit = await Store.HistoryAsync(new HistoryQuery("AuditEvent", null, null, null, 10), Ct);

        Assert.Equal(["p1/2", "p2/1", "p1/1"], type.Versions.Select(v => $"{v.Id}/{v.Version}"));
        Assert.Equal(3, type.Total);
        Assert.Equal(["Patient/p1/2", "Patient/p2/1", "Observation/o1/1", "Patient/p1/1"], system.Versions.Select(v => $"{v.Type}/{v.Id}/{v.Version}"));
        Assert.Equal(4, system.Total);
        Assert.Equal(["a1"], audit.Versions.Select(v => v.Id));
    }

    [Fact]
    public async Task history_pages_by_keyset_and_concurrent_writes_do_not_shift_the_pages()
    {
        for (var version = 1; version <= 5; version++)
        {
            await CommitAsync(Version("Patient", "p1", version, version, version - 1));
        }

        var first = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", null, null, 2), Ct);
        await CommitAsync(Version("Patient", "p1", 6, 6, 5));
        var second = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", null, first.NextBeforeSequence, 2), Ct);
        var third = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", null, second.NextBeforeSequence, 2), Ct);

        Assert.Equal([5, 4], first.Versions.Select(v => v.Version));
        Assert.NotNull(first.NextBeforeSequence);
        Assert.Equal([3, 2], second.Versions.Select(v => v.Version));
        Assert.NotNull(second.NextBeforeSequence);
        Assert.Equal([1], third.Versions.Select(v => v.Version));
        Assert.Null(third.NextBeforeSequence);
        Assert.Equal(6, third.Total);

        // Exactly one page's worth left: no next page is promised.
        var exact = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", null, null, 6), Ct);
        Assert.Equal(6, exact.Versions.Count);
        Assert.Null(exact.NextBeforeSequence);
    }

    [Fact]
    public async Task history_since_keeps_versions_updated_at_or_after_the_instant()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Patient", "p2", 1, 2, 0));
        await CommitAsync(Version("Patient", "p1", 2, 3, 1));
        await CommitAsync(Version("Observation", "o1", 1, 4, 0));

        var type = await Store.HistoryAsync(new HistoryQuery("Patient", null, At(2), null, 10), Ct);
        var instance = await Store.HistoryAsync(new HistoryQuery("Patient", "p1", At(2), null, 10), Ct);
        var system = await Store.HistoryAsync(new HistoryQuery(null, null, At(3), null, 1), Ct);

        Assert.Equal(["p1/2", "p2/1"], type.Versions.Select(v => $"{v.Id}/{v.Version}"));
        Assert.Equal(2, type.Total);
        Assert.Equal([2], instance.Versions.Select(v => v.Version));
        Assert.Equal(["o1"], system.Versions.Select(v => v.Id));
        Assert.Equal(2, system.Total);
        var rest = await Store.HistoryAsync(new HistoryQuery(null, null, At(3), system.NextBeforeSequence, 1), Ct);
        Assert.Equal(["p1"], rest.Versions.Select(v => v.Id));
        Assert.Null(rest.NextBeforeSequence);
    }

    // ---- Search ----

    [Fact]
    public async Task search_by_id_finds_current_resources_of_the_type_only()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0), Version("Patient", "p2", 1, 1, 0), Version("Patient", "p3", 1, 1, 0), Version("Observation", "p1", 1, 1, 0));

        var page = await SearchAsync("Patient", new IdClause(["p3", "p1", "nope"]));

        Assert.Equal(["p1", "p3"], Ids(page));
        Assert.All(page.Resources, r => Assert.Equal("Patient", r.Type));
        AssertVersion(page.Resources[0], "Patient", "p1", 1, 1, "POST");
        Assert.Empty(Ids(await SearchAsync("Patient", new IdClause([]))));
    }

    [Fact]
    public async Task search_by_token_honours_system_and_code_forms()
    {
        await CommitAsync(
            Version("Patient", "a", 1, 1, 0, Identifier("urn:s1", "123")),
            Version("Patient", "b", 1, 1, 0, Identifier(null, "123")),
            Version("Patient", "c", 1, 1, 0, Identifier("urn:s2", "123")),
            Version("Patient", "d", 1, 1, 0, Identifier("urn:s1", "456"), new TokenIndexRow("gender", null, "123")),
            Version("Observation", "e", 1, 1, 0, Identifier("urn:s1", "123")));

        // system|code
        Assert.Equal(["a"], Ids(await SearchAsync("Patient", Token(new TokenMatch("urn:s1", "123", false)))));
        // |code: no system at all
        Assert.Equal(["b"], Ids(await SearchAsync("Patient", Token(new TokenMatch(null, "123", false)))));
        // code: any system, or none
        Assert.Equal(["a", "b", "c"], Ids(await SearchAsync("Patient", Token(new TokenMatch(null, "123", true)))));
        // system|: any code in the system
        Assert.Equal(["a", "d"], Ids(await SearchAsync("Patient", Token(new TokenMatch("urn:s1", null, false)))));
        // values of one parameter are ORed
        Assert.Equal(["a", "c"], Ids(await SearchAsync("Patient", Token(new TokenMatch("urn:s1", "123", false), new TokenMatch("urn:s2", "123", false)))));
        // another parameter's rows do not match
        Assert.Equal(["d"], Ids(await SearchAsync("Patient", new TokenClause("gender", [new TokenMatch(null, "123", true)]))));
        Assert.Empty(Ids(await SearchAsync("Patient", Token(new TokenMatch("urn:s3", "123", false)))));
        Assert.Empty(Ids(await SearchAsync("Patient", Token())));
    }

    [Fact]
    public async Task search_by_last_updated_uses_a_half_open_interval()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0), Version("Patient", "p2", 1, 2, 0), Version("Patient", "p3", 1, 3, 0));

        Assert.Equal(["p2"], Ids(await SearchAsync("Patient", LastUpdated(Prefix.Eq, At(2), At(3)))));
        Assert.Equal(["p2", "p3"], Ids(await SearchAsync("Patient", LastUpdated(Prefix.Ge, At(2), At(2).AddMilliseconds(1)))));
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", LastUpdated(Prefix.Eb, At(2), At(3)))));
    }

    [Fact]
    public async Task search_clauses_are_anded()
    {
        await CommitAsync(
            Version("Patient", "p1", 1, 1, 0, Identifier("s", "x")),
            Version("Patient", "p2", 1, 2, 0, Identifier("s", "x")),
            Version("Patient", "p3", 1, 2, 0, Identifier("s", "y")),
            Version("Patient", "p4", 1, 2, 0, Identifier("s", "x")));

        var page = await SearchAsync("Patient",
            Token(new TokenMatch("s", "x", false)),
            LastUpdated(Prefix.Ge, At(2), At(2).AddMilliseconds(1)),
            new IdClause(["p1", "p2", "p3"]));

        Assert.Equal(["p2"], Ids(page));
    }

    [Fact]
    public async Task search_pages_forwards_and_backwards_by_id_and_counts_the_total_on_request()
    {
        foreach (var id in new[] { "p05", "p02", "p07", "p01", "p04", "p06", "p03" })
        {
            await CommitAsync(Version("Patient", id, 1, 1, 0));
        }

        await CommitAsync(Version("Observation", "p035", 1, 1, 0));

        var first = await Store.SearchAsync(new StoreQuery("Patient", [], 3, CountTotal: true) { Scope = QueryScope.Internal("test") }, Ct);
        var second = await Store.SearchAsync(new StoreQuery("Patient", [], 3, After: first.NextCursor, CountTotal: true) { Scope = QueryScope.Internal("test") }, Ct);
        var last = await Store.SearchAsync(new StoreQuery("Patient", [], 3, After: second.NextCursor) { Scope = QueryScope.Internal("test") }, Ct);
        var back = await Store.SearchAsync(new StoreQuery("Patient", [], 3, Before: last.PreviousCursor) { Scope = QueryScope.Internal("test") }, Ct);
        var backToStart = await Store.SearchAsync(new StoreQuery("Patient", [], 3, Before: back.PreviousCursor) { Scope = QueryScope.Internal("test") }, Ct);

        AssertPage(first, ["p01", "p02", "p03"], hasMore: true, hasPrevious: false, total: 7);
        AssertPage(second, ["p04", "p05", "p06"], hasMore: true, hasPrevious: true, total: 7);
        AssertPage(last, ["p07"], hasMore: false, hasPrevious: true, total: null);
        AssertPage(back, ["p04", "p05", "p06"], hasMore: true, hasPrevious: true, total: null);
        AssertPage(backToStart, ["p01", "p02", "p03"], hasMore: true, hasPrevious: false, total: null);
    }

    [Fact]
    public async Task search_orders_ids_by_their_bytes()
    {
        // FHIR ids are [A-Za-z0-9\-\.]{1,64}; every store must order them the same way for keyset paging.
        string[] ids = ["a-b", "aB", "Ab", "a.b", "ab", "A-1", "0"];
        foreach (var id in ids)
        {
            await CommitAsync(Version("Patient", id, 1, 1, 0));
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), Ids(await SearchAsync("Patient")));
    }

    [Fact]
    public async Task search_leaves_out_deleted_resources()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "x")), Version("Patient", "p2", 1, 1, 0, Identifier("s", "x")));
        await CommitAsync(Tombstone("Patient", "p1", 2, 2, 1));

        Assert.Equal(["p2"], Ids(await SearchAsync("Patient")));
        Assert.Equal(["p2"], Ids(await SearchAsync("Patient", new IdClause(["p1", "p2"]))));
        var counted = await Store.SearchAsync(new StoreQuery("Patient", [Token(new TokenMatch("s", "x", false))], 10, CountTotal: true) { Scope = QueryScope.Internal("test") }, Ct);
        AssertPage(counted, ["p2"], hasMore: false, hasPrevious: false, total: 1);

        await using var session = await Store.BeginWriteAsync(Ct);
        Assert.Equal(["p2"], await session.FindIdsAsync(new StoreQuery("Patient", [], 10) { Scope = QueryScope.Internal("test") }, Ct));
    }

    [Fact]
    public async Task index_rows_are_replaced_on_update()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "old"), Identifier("s", "kept")));
        await CommitAsync(Version("Patient", "p1", 2, 2, 1, Identifier("s", "new"), Identifier("s", "kept"), Identifier("s", "kept")));

        Assert.Empty(Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "old", false)))));
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "new", false)))));
        Assert.Equal(["p1"], Ids(await SearchAsync("Patient", Token(new TokenMatch("s", "kept", false)))));
        var page = await SearchAsync("Patient", Token(new TokenMatch(null, "kept", true), new TokenMatch("s", "new", false)));
        AssertVersion(Assert.Single(page.Resources), "Patient", "p1", 2, 2, "PUT");
    }

    [Fact]
    public async Task find_ids_in_a_session_sees_its_own_uncommitted_writes()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "x")), Version("Patient", "p3", 1, 1, 0, Identifier("s", "x")));
        var byToken = new StoreQuery("Patient", [Token(new TokenMatch("s", "x", false))], 10) { Scope = QueryScope.Internal("test") };

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "p2", 1, 2, 0, Identifier("s", "x")), Ct);
        await session.WriteAsync(Tombstone("Patient", "p3", 2, 2, 1), Ct);

        Assert.Equal(["p1", "p2"], await session.FindIdsAsync(byToken, Ct));
        Assert.Equal(["p1"], await session.FindIdsAsync(byToken with { Count = 1 }, Ct));
        AssertVersion(await session.ReadAsync("Patient", "p2", Ct), "Patient", "p2", 1, 2, "POST");
        Assert.True((await session.ReadAsync("Patient", "p3", Ct))!.Deleted);
        Assert.Equal(["p1", "p3"], Ids(await Store.SearchAsync(byToken, Ct)));
    }

    // ---- Change feed ----

    [Fact]
    public async Task the_change_feed_is_ordered_complete_and_readable_from_a_position()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Patient", "p2", 1, 2, 0), Version("Observation", "o1", 1, 2, 0));
        await CommitAsync(Version("Patient", "p1", 2, 3, 1));
        await CommitAsync(Tombstone("Patient", "p2", 2, 4, 1));

        var all = await Feed.ReadChangesAsync(0, 100, Ct);

        Assert.Equal(
            ["Patient/p1/1/POST@1", "Patient/p2/1/POST@2", "Observation/o1/1/POST@2", "Patient/p1/2/PUT@3", "Patient/p2/2/DELETE@4"],
            all.Select(e => $"{e.Type}/{e.Id}/{e.Version}/{e.Method}@{(e.Time - T0).TotalMinutes}"));
        Assert.True(all.Zip(all.Skip(1)).All(pair => pair.First.Position < pair.Second.Position), "positions increase");
        Assert.Equal(all.Skip(2), await Feed.ReadChangesAsync(all[1].Position, 100, Ct));
        Assert.Equal(all.Skip(1).Take(2), await Feed.ReadChangesAsync(all[0].Position, 2, Ct));
        Assert.Empty(await Feed.ReadChangesAsync(all[^1].Position, 100, Ct));
    }

    [Fact]
    public async Task a_feed_position_starts_at_the_end_of_the_feed_and_moves_only_from_where_it_is()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        var end = (await Feed.ReadChangesAsync(0, 100, Ct))[^1].Position;
        Assert.Equal(0, await Feed.GetFeedPositionAsync("reader", Ct));

        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            await ((IChangeFeedSession)session).StartFeedPositionAsync("reader", Ct);
            await session.CommitAsync(Ct);
        }

        Assert.Equal(end, await Feed.GetFeedPositionAsync("reader", Ct));
        await CommitAsync(Version("Patient", "p2", 1, 2, 0));
        var later = (await Feed.ReadChangesAsync(end, 100, Ct)).Single().Position;
        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            // A reader with a position keeps it.
            await ((IChangeFeedSession)session).StartFeedPositionAsync("reader", Ct);
            Assert.False(await ((IChangeFeedSession)session).SetFeedPositionAsync("reader", end - 1, later, Ct));
            Assert.True(await ((IChangeFeedSession)session).SetFeedPositionAsync("reader", end, later, Ct));
            await session.CommitAsync(Ct);
        }

        Assert.Equal(later, await Feed.GetFeedPositionAsync("reader", Ct));
        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            Assert.True(await ((IChangeFeedSession)session).SetFeedPositionAsync("reader", later, later + 10, Ct));
            // Not committed: rolled back with the session.
        }

        Assert.Equal(later, await Feed.GetFeedPositionAsync("reader", Ct));
        Assert.Equal(0, await Feed.GetFeedPositionAsync("another reader", Ct));
    }

    [Fact]
    public async Task append_writes_records_without_change_events()
    {
        await Store.AppendAsync([], Ct);
        await Store.AppendAsync([Version("AuditEvent", "a1", 1, 1, null), Version("AuditEvent", "a2", 1, 1, null)], Ct);
        await CommitAsync(Version("Patient", "p1", 1, 2, 0), Version("Patient", "p2", 1, 2, 0) with { ChangeEvent = false });

        AssertVersion(await Store.ReadAsync("AuditEvent", "a2", null, Ct), "AuditEvent", "a2", 1, 1, "POST");
        Assert.Equal(["a1", "a2"], Ids(await SearchAsync("AuditEvent")));
        var changes = await Feed.ReadChangesAsync(0, 100, Ct);
        Assert.Equal(["Patient/p1"], changes.Select(e => $"{e.Type}/{e.Id}"));
    }

    // ---- Concurrency ----

    [Fact]
    public async Task parallel_writers_of_distinct_resources_all_commit()
    {
        const int writers = 16, versions = 4;
        var start = new TaskCompletionSource();
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await start.Task;
            for (var version = 1; version <= versions; version++)
            {
                await CommitAsync(Version("Patient", $"w{w:D2}", version, version, version - 1, Identifier("s", $"v{version}")));
            }
        }, Ct)).ToList();
        start.SetResult();
        await Task.WhenAll(tasks);

        for (var w = 0; w < writers; w++)
        {
            AssertVersion(await Store.ReadAsync("Patient", $"w{w:D2}", null, Ct), "Patient", $"w{w:D2}", versions, versions, "PUT");
        }

        Assert.Equal(writers, (await SearchAsync("Patient", Token(new TokenMatch("s", $"v{versions}", false)))).Resources.Count);
        Assert.Equal(writers * versions, (await Feed.ReadChangesAsync(0, 1000, Ct)).Count);
    }

    [Fact]
    public async Task concurrent_sessions_that_roll_back_leave_the_others_committed()
    {
        // SQLite commits concurrent sessions as a group: a session that rolls back must undo only its own work.
        const int sessions = 32;
        var start = new TaskCompletionSource();
        var tasks = Enumerable.Range(0, sessions).Select(n => Task.Run(async () =>
        {
            await start.Task;
            await using var session = await Store.BeginWriteAsync(Ct);
            await session.WriteAsync(Version("Patient", $"g{n:D2}", 1, 1, 0, Identifier("group", $"g{n:D2}")), Ct);
            if (n % 2 == 0)
            {
                await session.CommitAsync(Ct);
            }
        }, Ct)).ToList();
        start.SetResult();
        await Task.WhenAll(tasks);

        for (var n = 0; n < sessions; n++)
        {
            var stored = await Store.ReadAsync("Patient", $"g{n:D2}", null, Ct);
            if (n % 2 == 0)
            {
                Assert.NotNull(stored);
            }
            else
            {
                Assert.Null(stored);
            }
        }

        Assert.Equal(sessions / 2, (await SearchAsync("Patient", new TokenClause("identifier", [new TokenMatch("group", null, false)]))).Resources.Count);
        Assert.Equal(sessions / 2, (await Feed.ReadChangesAsync(0, 1000, Ct)).Count);
    }

    [Fact]
    public async Task racing_writers_of_one_resource_exactly_one_wins_each_round()
    {
        const int racers = 8, rounds = 4;
        for (var round = 0; round < rounds; round++)
        {
            var expected = round;
            var start = new TaskCompletionSource();
            var tasks = Enumerable.Range(0, racers).Select(racer => Task.Run(async () =>
            {
                await start.Task;
                try
                {
                    await using var session = await Store.BeginWriteAsync(Ct);
                    await session.WriteAsync(Version("Patient", "race", expected + 1, expected + 1, expected, Identifier("racer", $"{racer}")), Ct);
                    await session.CommitAsync(Ct);
                    return true;
                }
                catch (VersionConflictException)
                {
                    return false;
                }
            }, Ct)).ToList();
            start.SetResult();
            var won = await Task.WhenAll(tasks);

            Assert.Equal(1, won.Count(w => w));
            var current = await Store.ReadAsync("Patient", "race", null, Ct);
            Assert.Equal(expected + 1, current!.Version);
            var winner = Array.IndexOf(won, true);
            Assert.Equal(["race"], Ids(await SearchAsync("Patient", Token(new TokenMatch("racer", $"{winner}", false)))));
        }

        Assert.Equal(rounds, (await Feed.ReadChangesAsync(0, 1000, Ct)).Count);
        Assert.Equal(rounds, (await Store.HistoryAsync(new HistoryQuery("Patient", "race", null, null, 100), Ct)).Total);
    }

    [Fact]
    public async Task a_concurrent_reader_of_the_change_feed_misses_nothing_and_positions_strictly_increase()
    {
        const int writers = 16, writes = 8;
        var done = false;
        var seen = new List<ChangeEvent>();
        var reader = Task.Run(async () =>
        {
            // Poll the feed as a dispatcher would while commits race: a position committed late below one already read
            // would be skipped for good.
            long position = 0;
            while (true)
            {
                var finished = Volatile.Read(ref done);
                var batch = await Feed.ReadChangesAsync(position, 1000, Ct);
                seen.AddRange(batch);
                if (batch.Count > 0)
                {
                    position = batch[^1].Position;
                }
                else if (finished)
                {
                    return;
                }
            }
        }, Ct);
        var committed = new ConcurrentBag<string>();
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var version = 1; version <= writes; version++)
            {
                await CommitAsync(Version("Patient", $"w{w:D2}", version, version, version - 1));
                committed.Add($"w{w:D2}/{version}");
            }
        }, Ct)).ToList();
        await Task.WhenAll(tasks);
        Volatile.Write(ref done, true);
        await reader;

        Assert.True(seen.Zip(seen.Skip(1)).All(pair => pair.First.Position < pair.Second.Position), "positions strictly increase");
        Assert.Equal(committed.Order(StringComparer.Ordinal), seen.Select(e => $"{e.Id}/{e.Version}").Order(StringComparer.Ordinal));
        // Per resource, the feed carries versions in the order they were committed.
        Assert.All(seen.GroupBy(e => e.Id), g => Assert.Equal(Enumerable.Range(1, writes), g.Select(e => e.Version)));
    }
}
