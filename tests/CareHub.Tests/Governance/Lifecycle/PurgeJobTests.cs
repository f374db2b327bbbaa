using System.Text.Json.Nodes;
using CareHub.Governance;
using CareHub.Governance.Lifecycle;
using CareHub.Storage;
using CareHub.Storage.Postgres;
using CareHub.Storage.Sqlite;

namespace CareHub.Tests.Governance.Lifecycle;

/// <summary>The retention job over a real store: what it finds, what it removes, what it keeps, and its audit.</summary>
public abstract class PurgeJobTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Old = new(2010, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Recent = new(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset AsOf = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private SqlRecordStore? store;

    protected SqlRecordStore Store => store ?? throw new InvalidOperationException("The store is created in InitializeAsync.");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract ValueTask<SqlRecordStore> CreateStoreAsync();

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

    private static RetentionRule ObservationsAfterOneYear(string from = RetentionRule.LastUpdated) => new()
    {
        Name = "obs-1y",
        ResourceTypes = ["Observation"],
        RetainFor = RetentionPeriod.Parse("P1Y"),
        From = from,
    };

    private PurgeJob Job(params RetentionRule[] rules) =>
        new(Store, new RetentionPolicy(new RetentionOptions { Rules = [.. rules] }), TimeProvider.System);

    private async Task WriteAsync(string type, string id, int version, DateTimeOffset at, string? json, params IndexRow[] index)
    {
        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(new VersionWrite(type, id, version, at, version == 1 ? "POST" : json is null ? "DELETE" : "PUT", json, null, index), Ct);
        await session.CommitAsync(Ct);
    }

    private static string Observation(string id, string extra = "") =>
        $$"""{"resourceType":"Observation","id":"{{id}}","status":"final","code":{"text":"pulse"}{{extra}}}""";

    private static readonly ReferenceIndexRow OfP1 = new("subject", "Patient", "p1", null);

    [Fact]
    public async Task a_dry_run_lists_the_expired_with_their_rule_and_changes_nothing()
    {
        await WriteAsync("Observation", "old", 1, Old, Observation("old"));
        await WriteAsync("Observation", "new", 1, Recent, Observation("new"));

        var found = await Job(ObservationsAfterOneYear()).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct);

        var candidate = Assert.Single(found);
        Assert.Equal(("Observation", "old", Old, "obs-1y"), (candidate.Type, candidate.Id, candidate.LastUpdated, candidate.Rule));
        Assert.NotNull(await Store.ReadAsync("Observation", "old", null, Ct));
    }

    [Fact]
    public async Task a_purge_removes_history_and_writes_an_audit_record_without_content_and_keeps_the_chain()
    {
        await WriteAsync("Observation", "old", 1, Old, Observation("old", ""","note":[{"text":"secret"}]"""), OfP1);
        await WriteAsync("Observation", "old", 2, Old.AddDays(1), Observation("old"), OfP1);
        await WriteAsync("Observation", "new", 1, Recent, Observation("new"));

        var summary = await Job(ObservationsAfterOneYear()).RunAsync(AsOf, null, Ct);

        Assert.Equal(new PurgeSummary(1, 2, 0), summary);
        Assert.Null(await Store.ReadAsync("Observation", "old", 1, Ct));
        Assert.NotNull(await Store.ReadAsync("Observation", "new", null, Ct));
        var chain = await Store.ReadAuditChainAsync(Ct).ToListAsync(Ct);
        var audit = JsonNode.Parse(Assert.Single(chain).StoredBody!)!;
        Assert.Equal("Observation/old", audit["entity"]![0]!["what"]!["reference"]!.GetValue<string>());
        Assert.Equal("destroy", audit["entity"]![0]!["lifecycle"]!["code"]!.GetValue<string>());
        Assert.DoesNotContain("secret", audit.ToJsonString(), StringComparison.Ordinal);
        Assert.True((await AuditChain.VerifyAsync(Store, Ct)).Intact);
    }

    [Fact]
    public async Task a_legal_hold_on_the_current_version_keeps_an_expired_resource()
    {
        var hold = $$""","meta":{"tag":[{"system":"{{LifecycleCodes.System}}","code":"{{LifecycleCodes.LegalHold}}"}]}""";
        await WriteAsync("Observation", "held", 1, Old, Observation("held", hold));

        Assert.Empty(await Job(ObservationsAfterOneYear()).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct));
        Assert.Equal(new PurgeSummary(0, 0, 0), await Job(ObservationsAfterOneYear()).RunAsync(AsOf, null, Ct));
        Assert.NotNull(await Store.ReadAsync("Observation", "held", null, Ct));
    }

    [Fact]
    public async Task types_no_rule_names_and_resources_a_keep_rule_covers_are_kept()
    {
        var gp = $$""","meta":{"tag":[{"system":"{{LifecycleCodes.System}}","code":"{{LifecycleCodes.GpRecord}}"}]}""";
        await WriteAsync("Observation", "gp", 1, Old, Observation("gp", gp));
        await WriteAsync("Observation", "plain", 1, Old, Observation("plain"));
        await WriteAsync("Condition", "c1", 1, Old, """{"resourceType":"Condition","id":"c1"}""");
        var keepGp = new RetentionRule { Name = "gp", ResourceTypes = ["Observation"], Category = $"{LifecycleCodes.System}|{LifecycleCodes.GpRecord}", Keep = true };

        var found = await Job(keepGp, ObservationsAfterOneYear()).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct);

        Assert.Equal(["plain"], found.Select(c => c.Id));
    }

    [Fact]
    public async Task a_patient_rule_keeps_old_records_while_the_patient_has_recent_activity_and_a_birth_date_below_the_age()
    {
        await WriteAsync("Patient", "p1", 1, Old, """{"resourceType":"Patient","id":"p1","birthDate":"1950"}""");
        await WriteAsync("Observation", "o1", 1, Old, Observation("o1"), OfP1);
        var rule = ObservationsAfterOneYear(RetentionRule.PatientLastActivity) with { MinimumPatientAge = 26 };

        Assert.Equal(["o1"], (await Job(rule).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct)).Select(c => c.Id));

        await WriteAsync("Encounter", "e1", 1, Recent, """{"resourceType":"Encounter","id":"e1"}""", OfP1);
        Assert.Empty(await Job(rule).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct));

        var young = rule with { MinimumPatientAge = 80 };
        await WriteAsync("Encounter", "e1", 2, Recent, null);
        Assert.Empty(await Job(young).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct));
        Assert.Single(await Job(rule).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct));
    }

    [Fact]
    public async Task a_rule_can_count_from_a_date_element_and_keeps_a_resource_without_it()
    {
        await WriteAsync("Observation", "ended", 1, Recent, Observation("ended", ""","effectivePeriod":{"end":"2012-05"}"""));
        await WriteAsync("Observation", "open", 1, Recent, Observation("open"));
        var rule = ObservationsAfterOneYear("effectivePeriod.end");

        var found = await Job(rule).FindExpiredAsync(AsOf, Ct).ToListAsync(Ct);

        var candidate = Assert.Single(found);
        Assert.Equal(("ended", new DateTimeOffset(2013, 6, 1, 0, 0, 0, TimeSpan.Zero)), (candidate.Id, candidate.ExpiredAt));
    }

    [Fact]
    public async Task a_resource_updated_after_it_was_judged_is_skipped()
    {
        await WriteAsync("Observation", "old", 1, Old, Observation("old"));
        var job = Job(ObservationsAfterOneYear());
        var candidate = Assert.Single(await job.FindExpiredAsync(AsOf, Ct).ToListAsync(Ct));
        await WriteAsync("Observation", "old", 2, Recent, Observation("old"));

        Assert.Null(await job.PurgeAsync(candidate, Ct));
        Assert.Equal(2, (await Store.ReadAsync("Observation", "old", null, Ct))!.Version);
    }
}

public sealed class SqlitePurgeJobTests : PurgeJobTests
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "carehub-tests", $"{Guid.NewGuid():N}.db");

    protected override ValueTask<SqlRecordStore> CreateStoreAsync() => ValueTask.FromResult<SqlRecordStore>(new SqliteRecordStore(path));

    protected override ValueTask DropDatabaseAsync()
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>On PostgreSQL (CAREHUB_TEST_POSTGRES, set by ./carehub test), in a schema of its own.</summary>
public sealed class PostgresPurgeJobTests : PurgeJobTests
{
    private readonly string schema = $"carehub_test_{Guid.NewGuid():N}";
    private string? connectionString;

    protected override ValueTask<SqlRecordStore> CreateStoreAsync()
    {
        connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return ValueTask.FromResult<SqlRecordStore>(new PostgresRecordStore(connectionString, schema));
    }

    protected override async ValueTask DropDatabaseAsync()
    {
        await using var source = Npgsql.NpgsqlDataSource.Create(connectionString!);
        await using var command = source.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await command.ExecuteNonQueryAsync(Ct);
    }
}
