using CareHub.Governance.Lifecycle;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub purge [--dry-run] [--as-of DATE]: removes the resources whose retention has ended under CareHub:Retention
/// (docs/lifecycle.md), with their history, index rows and change-feed events, one audited transaction each. A dry run
/// lists what would go and changes nothing.
/// </summary>
public static class PurgeCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        if (options.Paths.Count > 0)
        {
            throw new UsageException($"purge takes no paths ('{options.Paths[0]}'). Usage: carehub purge [--dry-run] [--as-of DATE] [--data DIR | --postgres CONNSTRING]");
        }

        var (dryRun, asOf) = (options.DryRun, options.AsOf);
        await using var local = await LocalRecords.OpenAsync(options);
        var retention = local.Services.GetRequiredService<RetentionOptions>();
        var job = new PurgeJob(local.Governance, new RetentionPolicy(retention), TimeProvider.System);
        var when = asOf ?? DateTimeOffset.UtcNow;
        Console.WriteLine($"{(dryRun ? "Would purge" : "Purging")} resources whose retention ended by {when:yyyy-MM-dd} (rules: {string.Join(", ", retention.EffectiveRules.Select(r => r.Name))}).");
        if (dryRun)
        {
            var count = 0;
            await foreach (var candidate in job.FindExpiredAsync(when, CancellationToken.None))
            {
                count++;
                Console.WriteLine(Line(candidate));
            }

            Console.WriteLine($"{count} resources would be purged; nothing was changed (dry run).");
            return 0;
        }

        var summary = await job.RunAsync(when, (candidate, versions) => Console.WriteLine($"{Line(candidate)}\t{versions} versions"), CancellationToken.None);
        Console.WriteLine($"Purged {summary.Purged} resources ({summary.Versions} versions); {summary.Skipped} skipped because they changed meanwhile.");
        return 0;
    }

    private static string Line(PurgeCandidate c) =>
        $"{c.Type}/{c.Id}\tlastUpdated {c.LastUpdated:O}{(c.Deleted ? " (deleted)" : string.Empty)}\trule {c.Rule}\texpired {c.ExpiredAt:yyyy-MM-dd}";
}
