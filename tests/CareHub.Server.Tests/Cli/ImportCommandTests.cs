using System.Diagnostics;

namespace CareHub.Server.Tests.Cli;

/// <summary>carehub import, run as the real command line against a folder of mixed files.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-import-" + Guid.NewGuid().ToString("N"));

    public ImportCommandTests()
    {
        Directory.CreateDirectory(Path.Combine(folder, "in"));
        File.WriteAllText(Path.Combine(folder, "in", "a-transaction.json"), """
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:c0000000-0000-0000-0000-000000000001","resource":{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"imp-1"}]},"request":{"method":"POST","url":"Patient"}},
              {"resource":{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"urn:uuid:c0000000-0000-0000-0000-000000000001"}},"request":{"method":"POST","url":"Observation"}}]}
            """);
        File.WriteAllText(Path.Combine(folder, "in", "b-patients.ndjson"),
            "{\"resourceType\":\"Patient\",\"id\":\"nd-1\"}\n{\"resourceType\":\"Patient\",\"id\":\"nd-2\"}\n");
        File.WriteAllText(Path.Combine(folder, "in", "c-single.json"), "{\"resourceType\":\"Organization\",\"name\":\"Example Practice\"}");
        File.WriteAllText(Path.Combine(folder, "in", "d-broken.json"), "{\"resourceType\":\"Patient\",");
    }

    [Fact]
    public async Task imports_bundles_ndjson_and_single_resources_and_reports_what_failed()
    {
        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "CareHub.Server.dll"), "import", "--data", Path.Combine(folder, "data"), Path.Combine(folder, "in") },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var text = await output;
        await errors;

        // One file failed, so the exit code says so; everything else is loaded.
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("Imported 5 resources from 4 files", text, StringComparison.Ordinal);
        Assert.Contains("d-broken.json", text, StringComparison.Ordinal);
        Assert.Equal(1, text.Split('\n').Count(l => l.Contains("failed:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task a_missing_path_is_a_usage_error()
    {
        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "CareHub.Server.dll"), "import", "--data", Path.Combine(folder, "data"), Path.Combine(folder, "nowhere") },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var errors = await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("neither a file nor a folder", errors, StringComparison.Ordinal);
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
