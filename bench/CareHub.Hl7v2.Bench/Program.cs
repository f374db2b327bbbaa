using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using CareHub.Hl7v2.Bench;

// Parse throughput over the shared HL7 v2 sample corpus, against the ceiling of a plain delimiter scan.
// --quick: a short Stopwatch measurement for automation; otherwise the full BenchmarkDotNet job.
byte[][] files = Corpus.Load();
long bytes = Corpus.TotalBytes(files);
Console.WriteLine($"corpus: {files.Length} messages, {bytes / 1024.0:0.0} KiB");

if (args.Contains("--quick"))
{
    double scan = Measure(() => Corpus.Scan(files));
    double parse = Measure(() => Corpus.Parse(files));
    double walk = Measure(() => Corpus.ParseAndWalk(files));
    Report(parse, walk, scan);
    return 0;
}

Summary summary = BenchmarkRunner.Run<ParseBenchmarks>(args: args.Where(a => a != "--quick").ToArray());
double MeanMbPerSecond(string method)
{
    BenchmarkReport? report = summary.Reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method);
    return report?.ResultStatistics is { } stats ? bytes / (stats.Mean / 1e9) / 1e6 : double.NaN;
}

Report(MeanMbPerSecond(nameof(ParseBenchmarks.Parse)), MeanMbPerSecond(nameof(ParseBenchmarks.ParseAndWalk)), MeanMbPerSecond(nameof(ParseBenchmarks.Scan)));
return 0;

// Runs the work repeatedly for about a second after a warm-up, and returns the best MB/s of five rounds.
double Measure(Func<int> work)
{
    int sink = 0;
    var warm = Stopwatch.StartNew();
    while (warm.ElapsedMilliseconds < 300)
    {
        sink += work();
    }

    double best = 0;
    for (int round = 0; round < 5; round++)
    {
        int iterations = 0;
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 200)
        {
            sink += work();
            iterations++;
        }

        best = Math.Max(best, bytes * (double)iterations / sw.Elapsed.TotalSeconds / 1e6);
    }

    GC.KeepAlive(sink);
    return best;
}

void Report(double parse, double walk, double scan)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse MB/s: {parse:0.0}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse+walk MB/s: {walk:0.0}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scan MB/s: {scan:0.0}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio: {parse / scan:0.00}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio (parse+walk): {walk / scan:0.00}"));
}
