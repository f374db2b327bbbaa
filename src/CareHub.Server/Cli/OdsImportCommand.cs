using CareHub.Directories;
using CareHub.Records;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub import ods FILE...: NHS Digital's ODS extracts into Organizations through the one door (docs/directories.md),
/// with a progress bar and a summary. Every file is checked before anything is written; a malformed one is named with
/// its line and nothing is loaded.
/// </summary>
public static class OdsImportCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Paths.Count == 0)
        {
            throw new UsageException("import ods needs at least one ODS extract: carehub import ods epraccur.csv (NHS Digital publishes them under 'ODS data downloads').");
        }

        List<OdsExtract> extracts;
        try
        {
            extracts = [.. options.Paths.Select(OdsExtract.Read)];
        }
        catch (OdsFormatException e)
        {
            Console.Error.WriteLine($"carehub: {e.Message} Nothing was imported.");
            return 1;
        }

        foreach (var extract in extracts)
        {
            Console.WriteLine($"{extract.Path}: {extract.Family.Describe()}, {extract.Rows.Count} organisations.");
        }

        await using var local = await LocalRecords.OpenAsync(options);
        var context = new RequestContext(ServeCommand.Loader("carehub-import"), "urn:carehub:import", "import-ods-" + Guid.NewGuid().ToString("N")[..8])
        {
            Return = ReturnPreference.Minimal,
        };
        var import = new OdsImport(local.Records);
        var summary = await import.ImportAsync(context, extracts, new OdsImportOptions { CloseMissing = !options.Partial, Progress = Bar }, CancellationToken.None);
        Console.Error.WriteLine();
        Console.WriteLine($"Read {summary.Read} organisations in {summary.Elapsed.TotalSeconds:F1} s: {summary.Added} new, {summary.Updated} updated, {summary.Unchanged} unchanged, {summary.Closed} closed.");
        if (summary.Added + summary.Updated + summary.Closed > 0)
        {
            var analysed = await local.RefreshStatisticsAsync();
            Console.WriteLine($"Planner statistics refreshed in {analysed.TotalSeconds:F1} s.");
        }

        return 0;
    }

    private static void Bar(int done, int total)
    {
        const int width = 30;
        var filled = total == 0 ? width : done * width / total;
        Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', width - filled)}] {done}/{total} organisations written");
    }
}
