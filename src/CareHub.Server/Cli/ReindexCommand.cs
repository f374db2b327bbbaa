using System.Diagnostics;

namespace CareHub.Server.Cli;

/// <summary>carehub reindex: rebuilds the search index of every stored resource (after an upgrade that changed what is indexed).</summary>
public static class ReindexCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        await using var local = await LocalRecords.OpenAsync(options);
        var watch = Stopwatch.StartNew();
        var count = await local.Records.ReindexAsync(CancellationToken.None);
        Console.WriteLine($"Reindexed {count} resources in {watch.Elapsed.TotalSeconds:F1} s.");
        var analysed = await local.RefreshStatisticsAsync();
        Console.WriteLine($"Planner statistics refreshed in {analysed.TotalSeconds:F1} s.");
        return 0;
    }
}
