using System.Diagnostics;
using System.Globalization;
using CareHub.Identity.Matching;
using CareHub.Tests.Identity.Matching;

// Links the shared MPI datasets with default and EM-estimated parameters and prints pairwise
// precision and recall of the auto-link outcome, comparisons made and wall time.
// Usage: dotnet run -c Release --project bench/CareHub.Mpi.Bench [path to shared/data/mpi] [repeats]
//        dotnet run -c Release --project bench/CareHub.Mpi.Bench -- mpi-quality --input FILE [--input FILE...]
//          loads the records as Patients through the one door with the MPI on and scores Persons and the review queue.
//        dotnet run -c Release --project bench/CareHub.Mpi.Bench -- mpi-match [--patients N] [--quick] [--queries Q] [--creates C] [--data DIR]
//          $match latency and create throughput with matching over N synthetic patients (default 1,000,000).
if (args.Length > 0 && args[0] == "mpi-match")
{
    return await CareHub.Mpi.Bench.MatchBench.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "mpi-quality")
{
    var inputs = args.Zip(args.Skip(1)).Where(p => p.First == "--input").Select(p => p.Second).ToList();
    if (inputs.Count == 0)
    {
        Console.Error.WriteLine("usage: mpi-quality --input FILE [--input FILE...]");
        return 2;
    }

    // --auto-weight W and --review-weight W override the thresholds, to see what they trade.
    double? Option(string name) => args.Zip(args.Skip(1)).Where(p => p.First == name).Select(p => (double?)double.Parse(p.Second, CultureInfo.InvariantCulture)).LastOrDefault();
    var defaults = new CareHub.Identity.MpiOptions();
    var options = defaults with
    {
        AutoLinkWeight = Option("--auto-weight") ?? defaults.AutoLinkWeight,
        ReviewWeight = Option("--review-weight") ?? defaults.ReviewWeight,
        PossibleWeight = Math.Min(Option("--review-weight") ?? defaults.ReviewWeight, defaults.PossibleWeight),
    };
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"thresholds: automatic link >= {options.AutoLinkWeight}, review >= {options.ReviewWeight}"));
    return await CareHub.Mpi.Bench.QualityBench.RunAsync(inputs, options);
}

var folder = args.Length > 0 ? args[0] : FindData();
var repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
if (folder is null)
{
    Console.Error.WriteLine("shared/data/mpi not found: pass its path.");
    return 1;
}

var datasets = new[]
{
    MpiDatasets.SplinkFake1000(Path.Combine(folder, "splink_fake_1000.csv")),
    MpiDatasets.Febrl1(Path.Combine(folder, "febrl_dataset1.csv")),
};

foreach (var data in datasets)
{
    var matcher = new PersonMatcher();
    matcher.LinkAll(data.Records); // warm-up (JIT)
    var clock = Stopwatch.StartNew();
    LinkageRun run = null!;
    for (var i = 0; i < repeats; i++)
    {
        run = matcher.LinkAll(data.Records);
    }

    var perRun = clock.Elapsed.TotalSeconds / repeats;
    var blockedTrue = run.Results.Count(r => data.IsTrueMatch(r.Left, r.Right));
    Console.WriteLine($"{data.Name}: blocking keeps {blockedTrue} of {data.TruePairs} true pairs");
    Console.WriteLine("defaults:     " + LinkageScore.Of(data, run, MatchOutcome.Link, perRun));
    Console.WriteLine("  review queue: " + LinkageScore.Of(data, run, MatchOutcome.Review, perRun));

    clock.Restart();
    var estimate = ParameterEstimator.Estimate(data.Records, MatchSettings.Default);
    var emSeconds = clock.Elapsed.TotalSeconds;
    var emMatcher = new PersonMatcher(MatchSettings.Default with { Parameters = estimate.Parameters });
    clock.Restart();
    run = emMatcher.LinkAll(data.Records);
    Console.WriteLine("EM-estimated: " + LinkageScore.Of(data, run, MatchOutcome.Link, clock.Elapsed.TotalSeconds));
    Console.WriteLine("  outcomes: " + string.Join(", ", run.Results.GroupBy(r => r.Outcome).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()} (weights {g.Min(r => r.Weight):F1} to {g.Max(r => r.Weight):F1})")));
    Console.WriteLine("  review queue: " + LinkageScore.Of(data, run, MatchOutcome.Review, clock.Elapsed.TotalSeconds));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  EM: {estimate.Iterations} iterations, converged {estimate.Converged}, {estimate.BlockedPairs} blocked pairs, {estimate.RandomPairs} random pairs for u, match share {estimate.BlockedMatchShare:F3}, {emSeconds * 1000:F0} ms"));
    if (args.Contains("--levels"))
    {
        foreach (var (level, p) in estimate.Parameters.ToDictionary())
        {
            var d = MatchParameters.Default[level];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {level,-32} m {p.M:F4} (default {d.M:F4})  u {p.U:F6} (default {d.U:F6})  w {p.Weight,6:F2} (default {d.Weight,6:F2})"));
        }
    }
}

return 0;

static string? FindData()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "data", "mpi"), Path.Combine(dir.FullName, "..", "shared", "data", "mpi") })
        {
            if (Directory.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }
    }

    return null;
}
