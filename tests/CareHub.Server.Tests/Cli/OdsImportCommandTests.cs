namespace CareHub.Server.Tests.Cli;

/// <summary>carehub import ods, run as the real command line: the summary, the idempotent re-run, and a malformed file's line-numbered error.</summary>
public sealed class OdsImportCommandTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-import-ods-" + Guid.NewGuid().ToString("N"));

    public OdsImportCommandTests() => Directory.CreateDirectory(folder);

    private string Data => Path.Combine(folder, "data");

    [Fact]
    public async Task imports_an_extract_then_finds_it_unchanged_and_closes_what_a_later_one_leaves_out()
    {
        var first = Write("first", "RXA,FIRST TRUST,Y55,Q77,HQ,,,TOWN,,AB1 2CD,20110701,,,,,,,,,,,0,,F", "RXB,SECOND TRUST,Y55,Q77,HQ,,,TOWN,,AB1 2CE,20110701,,,,,,,,,,,0,,F");
        var later = Write("later", "RXA,FIRST TRUST,Y55,Q77,HQ,,,TOWN,,AB1 2CD,20110701,,,,,,,,,,,0,,F");

        var loaded = await CarehubProcess.RunAsync(["import", "ods", "--data", Data, first]);
        var again = await CarehubProcess.RunAsync(["import", "ods", "--data", Data, first]);
        var closing = await CarehubProcess.RunAsync(["import", "ods", "--data", Data, later]);

        Assert.True(loaded.Code == 0, loaded.Output);
        Assert.Contains("etr (NHS trusts), 2 organisations", loaded.Output, StringComparison.Ordinal);
        Assert.Contains("2 new, 0 updated, 0 unchanged, 0 closed", loaded.Output, StringComparison.Ordinal);
        Assert.Contains("0 new, 0 updated, 2 unchanged, 0 closed", again.Output, StringComparison.Ordinal);
        Assert.Contains("0 new, 0 updated, 1 unchanged, 1 closed", closing.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_malformed_extract_is_named_with_its_line_and_nothing_is_imported()
    {
        var bad = Write("bad", "RXA,FIRST TRUST,Y55,Q77,HQ,,,TOWN,,AB1 2CD,20110701,,,,,,,,,,,0,,F", "RXB,SECOND TRUST,Y55,Q77,HQ,,,TO");

        var result = await CarehubProcess.RunAsync(["import", "ods", "--data", Data, bad]);

        Assert.Equal(1, result.Code);
        Assert.Contains($"{bad}, line 2: has 8 columns", result.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was imported.", result.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Data), "a refused file must not even create the store");
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

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(folder, name, "etr.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Join('\n', lines));
        return path;
    }
}
