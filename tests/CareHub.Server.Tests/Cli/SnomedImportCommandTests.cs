using CareHub.Terminology.Snomed;

namespace CareHub.Server.Tests.Cli;

/// <summary>carehub import snomed, run as the real command line: a release loads; a malformed file is named with its line and loads nothing.</summary>
public sealed class SnomedImportCommandTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-import-snomed-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task loads_a_release_and_refuses_a_malformed_one_with_its_line()
    {
        SyntheticRelease.Write(Path.Combine(folder, "good"));
        SyntheticRelease.WriteExtension(Path.Combine(folder, "bad"));
        var relationships = Directory.EnumerateFiles(Path.Combine(folder, "bad"), "sct2_Relationship_*", SearchOption.AllDirectories).Single();
        File.AppendAllText(relationships, "9299999998\t20250401\t1\t999000011000000103\t73211009\r\n");
        var data = Path.Combine(folder, "data");

        var (loaded, output) = await CarehubProcess.RunAsync(["import", "snomed", "--data", data, Path.Combine(folder, "good")]);
        var (refused, error) = await CarehubProcess.RunAsync(["import", "snomed", "--data", data, Path.Combine(folder, "bad")]);

        Assert.Equal(0, loaded);
        Assert.Contains($"{SyntheticRelease.Concepts.Count + 1} concepts", output, StringComparison.Ordinal);
        Assert.Equal(1, refused);
        Assert.Contains($"{Path.GetFileName(relationships)}, line 3: the row has 5 fields but the header has 10 columns. Nothing was loaded.", error, StringComparison.Ordinal);
        await using var store = new SqliteSnomedStore(Path.Combine(data, SqliteSnomedStore.FileName));
        Assert.Null(await store.ConceptAsync(SyntheticRelease.ExtensionConcept, TestContext.Current.CancellationToken));
        Assert.Equal(1, await store.GenerationAsync(TestContext.Current.CancellationToken));
    }
}
