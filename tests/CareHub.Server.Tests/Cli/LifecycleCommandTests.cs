using Microsoft.Data.Sqlite;

namespace CareHub.Server.Tests.Cli;

/// <summary>carehub audit verify and carehub purge, run as the real command line over an embedded store.</summary>
public sealed class LifecycleCommandTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-lifecycle-" + Guid.NewGuid().ToString("N"));

    private string Data => Path.Combine(folder, "data");

    public LifecycleCommandTests()
    {
        Directory.CreateDirectory(Path.Combine(folder, "in"));
        File.WriteAllText(Path.Combine(folder, "in", "bundle.json"), """
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:c0000000-0000-0000-0000-000000000001","resource":{"resourceType":"Patient","birthDate":"1950-01-01"},"request":{"method":"POST","url":"Patient"}},
              {"resource":{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"urn:uuid:c0000000-0000-0000-0000-000000000001"}},"request":{"method":"POST","url":"Observation"}}]}
            """);
    }

    private static readonly (string, string)[] ObservationRule =
    [
        ("CareHub__Retention__Rules__0__Name", "obs-test"),
        ("CareHub__Retention__Rules__0__ResourceTypes__0", "Observation"),
        ("CareHub__Retention__Rules__0__RetainFor", "P1Y"),
    ];

    private async Task ImportAsync() =>
        Assert.Equal(0, (await CarehubProcess.RunAsync(["import", "--data", Data, Path.Combine(folder, "in")])).Code);

    [Fact]
    public async Task audit_verify_passes_a_clean_chain_and_names_the_entry_whose_body_was_changed()
    {
        await ImportAsync();

        var clean = await CarehubProcess.RunAsync(["audit", "verify", "--data", Data]);
        Assert.Equal(0, clean.Code);
        Assert.Contains("Audit chain intact: 1 entries verified", clean.Output, StringComparison.Ordinal);

        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(Data, "carehub.db")};Pooling=False"))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE resource_version SET body = replace(body, '\"outcome\":\"0\"', '\"outcome\":\"8\"') WHERE type = 'AuditEvent'";
            Assert.Equal(1, await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken));
        }

        var broken = await CarehubProcess.RunAsync(["audit", "verify", "--data", Data]);
        Assert.Equal(1, broken.Code);
        Assert.Contains("BROKEN at entry 1", broken.Output, StringComparison.Ordinal);
        Assert.Contains("body changed", broken.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task purge_dry_run_lists_what_would_go_then_purge_removes_it_and_the_chain_still_verifies()
    {
        await ImportAsync();

        var dry = await CarehubProcess.RunAsync(["purge", "--dry-run", "--as-of", "2040-01-01", "--data", Data], ObservationRule);
        Assert.Equal(0, dry.Code);
        Assert.Contains("rule obs-test", dry.Output, StringComparison.Ordinal);
        Assert.Contains("1 resources would be purged; nothing was changed", dry.Output, StringComparison.Ordinal);

        var early = await CarehubProcess.RunAsync(["purge", "--as-of", "2025-01-01", "--data", Data], ObservationRule);
        Assert.Contains("Purged 0 resources", early.Output, StringComparison.Ordinal);

        var purge = await CarehubProcess.RunAsync(["purge", "--as-of", "2040-01-01", "--data", Data], ObservationRule);
        Assert.Equal(0, purge.Code);
        Assert.Contains("Purged 1 resources (1 versions)", purge.Output, StringComparison.Ordinal);

        var again = await CarehubProcess.RunAsync(["purge", "--dry-run", "--as-of", "2040-01-01", "--data", Data], ObservationRule);
        Assert.Contains("0 resources would be purged", again.Output, StringComparison.Ordinal);

        var verify = await CarehubProcess.RunAsync(["audit", "verify", "--data", Data]);
        Assert.Equal(0, verify.Code);
        Assert.Contains("Audit chain intact: 2 entries verified", verify.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task purge_refuses_a_rule_naming_audit_events()
    {
        var result = await CarehubProcess.RunAsync(["purge", "--dry-run", "--data", Data],
            ("CareHub__Retention__Rules__0__Name", "audit"), ("CareHub__Retention__Rules__0__ResourceTypes__0", "AuditEvent"), ("CareHub__Retention__Rules__0__RetainFor", "P6Y"));

        Assert.Equal(2, result.Code);
        Assert.Contains("never purged", result.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
