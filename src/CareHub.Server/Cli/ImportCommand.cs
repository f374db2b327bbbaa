using System.Diagnostics;
using System.Globalization;
using CareHub.Fhir;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub import: loads files through the one door, with a progress line and a summary. Batch bundles are loaded before
/// transactions, because transactions commonly refer to what batches create (organisations, practitioners).
/// </summary>
public static class ImportCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        if (options.Paths.Count > 0 && options.Paths[0] == "ods")
        {
            return await OdsImportCommand.RunAsync(options with { Paths = options.Paths.Skip(1).ToList() });
        }

        if (options.Paths.Count > 0 && options.Paths[0] == "snomed")
        {
            return await SnomedImportCommand.RunAsync(options);
        }

        if (options.Paths.Count == 0)
        {
            throw new UsageException("import needs at least one file or folder: carehub import PATH...");
        }

        var files = new List<string>();
        foreach (var path in options.Paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                throw new UsageException($"'{path}' is neither a file nor a folder.");
            }
        }

        await using var local = await LocalRecords.OpenAsync(options);
        var records = local.Records;
        var context = new RequestContext(ServeCommand.Loader("carehub-import"), "urn:carehub:import", "import-" + Guid.NewGuid().ToString("N")[..8]) { Return = ReturnPreference.Minimal };

        var result = await ImportAsync(records, context, files, new ConsoleProgress(), CancellationToken.None);
        Console.Error.WriteLine();
        Console.WriteLine($"Imported {result.Loaded} resources from {files.Count} files in {result.Elapsed.TotalSeconds:F1} s; {result.Failures.Count} failed.");
        if (result.Loaded > 0)
        {
            var analysed = await local.RefreshStatisticsAsync();
            Console.WriteLine($"Planner statistics refreshed in {analysed.TotalSeconds:F1} s.");
        }

        foreach (var failure in result.Failures.Take(50))
        {
            Console.WriteLine($"  failed: {failure}");
        }

        return result.Failures.Count == 0 ? 0 : 1;
    }

    public sealed record ImportResult(int Loaded, IReadOnlyList<string> Failures, TimeSpan Elapsed);

    public interface IProgress
    {
        void Report(int filesDone, int filesTotal, int resources);
    }

    /// <summary>Loads the files; one bad file or entry is reported and the rest go on.</summary>
    public static async Task<ImportResult> ImportAsync(RecordService records, RequestContext context, IReadOnlyList<string> files, IProgress? progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var failures = new List<string>();
        var loaded = 0;
        var parsed = new List<(string File, List<Resource> Resources)>();
        foreach (var file in files)
        {
            try
            {
                parsed.Add((file, Read(file)));
            }
            catch (FhirException e)
            {
                failures.Add($"{file}: {e.Message}");
            }
        }

        // Batches (shared organisations, practitioners) first, then everything else, in file order.
        parsed = parsed.OrderBy(p => p.Resources.Count == 1 && p.Resources[0] is Bundle { Type: Bundle.BundleType.Batch } ? 0 : 1).ToList();
        var done = 0;
        foreach (var (file, resources) in parsed)
        {
            foreach (var resource in resources)
            {
                try
                {
                    loaded += await LoadAsync(records, context, resource, file, failures, cancellationToken);
                }
                catch (FhirException e)
                {
                    failures.Add($"{file}: {e.Message}");
                }
            }

            progress?.Report(++done, parsed.Count, loaded);
        }

        return new ImportResult(loaded, failures, watch.Elapsed);
    }

    private static List<Resource> Read(string file)
    {
        if (file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase))
        {
            var list = new List<Resource>();
            var number = 0;
            foreach (var line in File.ReadLines(file))
            {
                number++;
                if (line.Length > 0)
                {
                    try
                    {
                        list.Add(FhirSerialization.Parse(line, FhirFormat.Json));
                    }
                    catch (FhirException e)
                    {
                        throw FhirException.BadRequest($"line {number.ToString(CultureInfo.InvariantCulture)}: {e.Message}");
                    }
                }
            }

            return list;
        }

        return [FhirSerialization.Parse(File.ReadAllText(file), file.EndsWith(".xml", StringComparison.OrdinalIgnoreCase) ? FhirFormat.Xml : FhirFormat.Json)];
    }

    private static async Task<int> LoadAsync(RecordService records, RequestContext context, Resource resource, string file, List<string> failures, CancellationToken cancellationToken)
    {
        switch (resource)
        {
            case Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch } bundle:
                var response = await records.ProcessBundleAsync(context, bundle, cancellationToken);
                var ok = 0;
                for (var i = 0; i < response.Entry.Count; i++)
                {
                    var status = response.Entry[i].Response?.Status ?? string.Empty;
                    if (status.StartsWith('2'))
                    {
                        ok++;
                    }
                    else
                    {
                        var why = response.Entry[i].Response?.Outcome is OperationOutcome outcome ? string.Join("; ", outcome.Issue.Select(x => x.Diagnostics)) : status;
                        failures.Add($"{file}: entry {i.ToString(CultureInfo.InvariantCulture)}: {why}");
                    }
                }

                return ok;
            case Bundle { Type: Bundle.BundleType.Collection or Bundle.BundleType.Searchset } collection:
                var count = 0;
                foreach (var entry in collection.Entry.Where(e => e.Resource is not null))
                {
                    count += await LoadAsync(records, context, entry.Resource!, file, failures, cancellationToken);
                }

                return count;
            default:
                if (string.IsNullOrEmpty(resource.Id))
                {
                    await records.CreateAsync(context, resource, null, cancellationToken);
                }
                else
                {
                    await records.UpdateAsync(context, resource.TypeName, resource.Id, resource, null, cancellationToken);
                }

                return 1;
        }
    }

    private sealed class ConsoleProgress : IProgress
    {
        public void Report(int filesDone, int filesTotal, int resources)
        {
            const int width = 30;
            var filled = filesTotal == 0 ? width : filesDone * width / filesTotal;
            Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', width - filled)}] {filesDone}/{filesTotal} files, {resources} resources");
        }
    }
}
