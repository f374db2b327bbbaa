using System.Diagnostics;
using CareHub.Identity;
using CareHub.Records;

namespace CareHub.Server.Cli;

/// <summary>carehub mpi rematch: re-runs master person index matching for every stored Patient (docs/mpi.md).</summary>
public static class MpiCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        if (options.Paths is not ["rematch"])
        {
            throw new UsageException("mpi takes one subcommand: carehub mpi rematch [--data DIR | --postgres CONNSTRING]");
        }

        await using var local = await LocalRecords.OpenAsync(options);
        var context = new RequestContext(ServeCommand.Loader("carehub-mpi-rematch"), "urn:carehub:mpi-rematch", "rematch-" + Guid.NewGuid().ToString("N")[..8])
        {
            Return = ReturnPreference.Minimal,
        };
        var watch = Stopwatch.StartNew();
        var summary = await local.Mpi.RematchAsync(context, new ConsoleProgress(watch), CancellationToken.None);
        Console.Error.WriteLine();
        Console.WriteLine($"Rematched {summary.Patients} patients in {watch.Elapsed.TotalSeconds:F1} s: {summary.Links} links made, {summary.Reviews} reviews opened.");
        return 0;
    }

    /// <summary>One line on standard error, rewritten after each page (System.Progress would report on the thread pool, out of order).</summary>
    private sealed class ConsoleProgress(Stopwatch watch) : IProgress<RematchSummary>
    {
        public void Report(RematchSummary value) =>
            Console.Error.Write($"\r{value.Patients} patients, {value.Links} links, {value.Reviews} reviews ({watch.Elapsed.TotalSeconds:F0} s)");
    }
}
