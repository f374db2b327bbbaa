using CareHub.Terminology.Snomed;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub import snomed FOLDER: loads the Snapshot files of an RF2 release (an edition, or an extension over one
/// already loaded) into the SNOMED CT store, in one transaction, and prints what was loaded; a malformed file is
/// reported with its name and line and nothing is changed.
/// </summary>
public static class SnomedImportCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        if (options.Paths.Count != 2)
        {
            throw new UsageException("import snomed needs one folder: carehub import snomed FOLDER (an RF2 release, or its Snapshot folder).");
        }

        Rf2Release release;
        try
        {
            release = Rf2Release.Find(options.Paths[1]);
        }
        catch (Exception e) when (e is Rf2FormatException or DirectoryNotFoundException)
        {
            throw new UsageException(e.Message);
        }

        await using var local = await LocalRecords.OpenAsync(options);
        var store = local.Services.GetRequiredService<SnomedStore>();
        try
        {
            var result = await store.LoadAsync(release, line => Console.Error.WriteLine($"  {line}"), CancellationToken.None);
            Console.WriteLine($"Loaded SNOMED CT from {result.Source} in {result.Elapsed.TotalSeconds:F1} s: {result.Concepts} concepts, {result.Descriptions} descriptions, " +
                $"{result.Relationships} relationships, {result.RefsetMembers} refset members; closure {result.ClosureRows} rows (load {result.Generation}).");
            foreach (var skipped in result.Skipped)
            {
                Console.WriteLine($"  not loaded: {skipped}");
            }

            return 0;
        }
        catch (Rf2FormatException e)
        {
            Console.Error.WriteLine($"carehub: {e.Message} Nothing was loaded.");
            return 1;
        }
    }
}
