using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using static CareHub.Bench.LoadRunner;

namespace CareHub.Bench;

/// <summary>The three benchmarks. Each runs the same load against CareHub and then against the ceiling, one server at a time.</summary>
public sealed class Benches(BenchOptions options, string serverDll)
{
    private const int PreloadBundleSize = 500;

    public async Task<BenchSummary> CreateAsync(CancellationToken cancellationToken)
    {
        var bodies = Workloads.CreateBodies(options.PatientsOnly);
        Console.WriteLine($"create: POST one resource per request, {options.Clients} clients, {Seconds(options.Warmup)} warm-up + {Seconds(options.Duration)} measured; "
            + $"{bodies.Count} bodies of the demo community ({Workloads.Mix(bodies)}), mean {bodies.Average(b => b.Json.Length):0} bytes");
        var results = await BothSidesAsync(async side =>
        {
            var result = await RunAsync(side, options.Clients, i =>
            {
                var body = bodies[(int)(i % bodies.Count)];
                return new LoadRequest(() => Post(side.CreatePath(body.Type), body.Json, minimal: false), 1);
            }, cancellationToken);
            return result;
        }, options.Clients, cancellationToken);
        return Summarise("create", results,
        [
            c => new Target($">= 2,500 res/s at {options.Clients} clients", c.CareHub!.ResourcesPerSecond >= 2_500),
            c => new Target("p95 < 20 ms", c.CareHub!.PercentileMs(0.95) < 20),
            c => c.Ratio is { } ratio ? new Target("ratio >= 0.5", ratio >= 0.5) : null,
        ]);
    }

    public async Task<BenchSummary> ReadAsync(CancellationToken cancellationToken)
    {
        // Distinct people (the demo community at the size asked), so the person index sees a realistic population rather
        // than thousands of copies of the same few patients.
        var patients = Workloads.CreateBodies(patientsOnly: true, patients: options.ReadResources);
        Console.WriteLine($"read: GET Patient by id over {Count(options.ReadResources)} pre-loaded Patients, {options.Clients} clients, "
            + $"{Seconds(options.Warmup)} warm-up + {Seconds(options.Duration)} measured");
        var results = await BothSidesAsync(async side =>
        {
            var started = Stopwatch.GetTimestamp();
            var ids = new List<string>(options.ReadResources);
            while (ids.Count < options.ReadResources)
            {
                var batch = Enumerable.Range(ids.Count, Math.Min(PreloadBundleSize, options.ReadResources - ids.Count)).Select(i => patients[i % patients.Count]);
                using var request = Post(side.BundlePath, Workloads.TransactionOf(batch), minimal: true);
                using var response = await side.Http.SendAsync(request, cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    throw new BenchException($"Pre-loading Patients into {side.Name} failed: {(int)response.StatusCode} {Shorten(text)}");
                }

                ids.AddRange(Workloads.IdsFromAnswer(text));
            }

            Console.WriteLine($"  {side.Name,-8}  pre-loaded {Count(ids.Count)} Patients in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
            return await RunAsync(side, options.Clients, _ =>
            {
                var id = ids[Random.Shared.Next(ids.Count)];
                return new LoadRequest(() => new HttpRequestMessage(HttpMethod.Get, side.ReadPath("Patient", id)), 1);
            }, cancellationToken);
        }, options.Clients, cancellationToken);
        return Summarise("read", results,
        [
            c => new Target($">= 8,000 res/s at {options.Clients} clients", c.CareHub!.ResourcesPerSecond >= 8_000),
            c => new Target("p95 < 5 ms", c.CareHub!.PercentileMs(0.95) < 5),
        ]);
    }

    public async Task<BenchSummary> IngestAsync(CancellationToken cancellationToken)
    {
        var set = IngestSet.Load(options.Quick);
        var entries = set.Transactions.Sum(t => t.Entries);
        Console.WriteLine($"ingest: transaction Bundles POSTed to the base with fresh urn:uuids each repetition, Prefer: return=minimal, "
            + $"{options.IngestClients} clients, {Seconds(options.Warmup)} warm-up + {Seconds(options.Duration)} measured");
        Console.WriteLine($"  source: {set.Source}");
        Console.WriteLine($"  {set.Transactions.Count} transaction Bundles, {Count(entries)} entries, mean {entries / set.Transactions.Count} entries "
            + $"and {set.Transactions.Average(t => t.Bytes) / 1024:0} KiB a Bundle; set-up: {set.Setup.Count} batch Bundle(s) loaded once first");
        var results = await BothSidesAsync(async side =>
        {
            var started = Stopwatch.GetTimestamp();
            foreach (var (name, json) in set.Setup)
            {
                using var request = Post(side.BundlePath, json, minimal: true);
                using var response = await side.Http.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    throw new BenchException($"Loading {name} into {side.Name} failed: {(int)response.StatusCode} {Shorten(await response.Content.ReadAsStringAsync(cancellationToken))}");
                }
            }

            Console.WriteLine($"  {side.Name,-8}  set-up loaded in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
            return await RunAsync(side, options.IngestClients, i =>
            {
                var template = set.Transactions[(int)(i % set.Transactions.Count)];
                return new LoadRequest(() => Post(side.BundlePath, template.Fresh(), minimal: true), template.Entries);
            }, cancellationToken);
        }, options.IngestClients, cancellationToken);
        return Summarise("ingest", results,
        [
            c => new Target(">= 3,000 res/s", c.CareHub!.ResourcesPerSecond >= 3_000),
        ]);
    }

    /// <summary>A side of the comparison: a running server and how its URLs are shaped.</summary>
    private sealed record Side(string Name, ServerProcess Server, HttpClient Http, bool IsCareHub)
    {
        public string CreatePath(string type) => IsCareHub ? $"fhir/{type}" : $"r/{type}";

        public string ReadPath(string type, string id) => IsCareHub ? $"fhir/{type}/{id}" : $"r/{type}/{id}";

        public string BundlePath => IsCareHub ? "fhir" : "bundle";
    }

    private async Task<(LoadResult? CareHub, LoadResult? Ceiling)> BothSidesAsync(Func<Side, Task<LoadResult>> run, int clients, CancellationToken cancellationToken)
    {
        LoadResult? carehub = null, ceiling = null;
        if (options.RunCareHub)
        {
            await using var server = await ServerProcess.StartCareHubAsync(serverDll, options.ServerEnvironment, cancellationToken);
            using var http = Client(server.BaseAddress, clients);
            http.DefaultRequestHeaders.Authorization = await TokenClient.GetAsync(http, cancellationToken);
            carehub = await run(new Side("carehub", server, http, IsCareHub: true));
            Console.WriteLine($"  {"carehub",-8}  {Detail(carehub, server)}");
        }

        if (options.RunCeiling)
        {
            await using var server = await ServerProcess.StartCeilingAsync(cancellationToken);
            using var http = Client(server.BaseAddress, clients);
            ceiling = await run(new Side("ceiling", server, http, IsCareHub: false));
            Console.WriteLine($"  {"ceiling",-8}  {Detail(ceiling, server)}");
        }

        return (carehub, ceiling);
    }

    private Task<LoadResult> RunAsync(Side side, int clients, Func<long, LoadRequest> next, CancellationToken cancellationToken) =>
        LoadRunner.RunAsync(side.Name, side.Http, clients, options.Warmup, options.Duration, next, side.Server, cancellationToken);

    private static string Detail(LoadResult result, ServerProcess server)
    {
        var text = $"{BenchSummary.Figures(result)}\n            {Count(result.Requests)} requests ({Count(result.RequestsPerSecond)}/s), {Count(result.Errors)} errors; "
            + $"{result.Load}\n            server CPU {CpuPerResource(result):0.000} ms a resource; server wrote {Count(server.OutputLines)} log lines; data {server.DataBytes() / (1024 * 1024)} MiB";
        foreach (var sample in result.ErrorSamples)
        {
            text += $"\n            error: {sample}";
        }

        return text;
    }

    /// <summary>Server CPU time per resource: less sensitive than throughput to what else the machine is doing.</summary>
    public static double CpuPerResource(LoadResult result) =>
        result.Resources == 0 ? double.NaN : result.Load.ServerCores * result.Window.TotalMilliseconds / result.Resources;

    private static BenchSummary Summarise(string name, (LoadResult? CareHub, LoadResult? Ceiling) results, IReadOnlyList<Func<BenchSummary, Target?>> targets)
    {
        var summary = new BenchSummary(name, results.CareHub, results.Ceiling, []);
        if (summary.CareHub is null)
        {
            return summary;
        }

        summary = summary with { Targets = [.. targets.Select(t => t(summary)).OfType<Target>()] };
        var ratio = summary.Ratio is { } r ? string.Create(CultureInfo.InvariantCulture, $"ratio to the ceiling {r:0.00}; ") : string.Empty;
        Console.WriteLine($"  {ratio}targets: {string.Join("; ", summary.Targets.Select(t => $"{t.Text} {(t.Met ? "met" : "MISSED")}"))}");
        return summary;
    }

    private static HttpRequestMessage Post(string path, byte[] body, bool minimal)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
        if (minimal)
        {
            message.Headers.Add("Prefer", "return=minimal");
        }

        return message;
    }

    private static HttpClient Client(Uri baseAddress, int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            AllowAutoRedirect = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromMinutes(2),
        };

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0} s";
}

/// <summary>A reported target: a bench's figure and the bound we report against.</summary>
public sealed record Target(string Text, bool Met);

/// <summary>What one bench found on both sides, and its targets.</summary>
public sealed record BenchSummary(string Name, LoadResult? CareHub, LoadResult? Ceiling, IReadOnlyList<Target> Targets)
{
    public double? Ratio => CareHub is { } c && Ceiling is { } r && r.ResourcesPerSecond > 0 ? c.ResourcesPerSecond / r.ResourcesPerSecond : null;

    public long Errors => (CareHub?.Errors ?? 0) + (Ceiling?.Errors ?? 0);

    /// <summary>The one-line summary: <c>create  carehub 2,731 res/s  p50 4.1 ms ... | ceiling 4,950 res/s | ratio 0.55</c>.</summary>
    public string Line()
    {
        var parts = new List<string>();
        if (CareHub is { } c)
        {
            parts.Add($"carehub {Figures(c)}");
        }

        if (Ceiling is { } r)
        {
            parts.Add(CareHub is null ? $"ceiling {Figures(r)}" : $"ceiling {Count(r.ResourcesPerSecond)} res/s");
        }

        if (Ratio is { } ratio)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"ratio {ratio:0.00}"));
        }

        return $"{Name,-7} {string.Join(" | ", parts)}";
    }

    public static string Figures(LoadResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{Count(r.ResourcesPerSecond)} res/s  p50 {r.PercentileMs(0.50):0.0} ms  p95 {r.PercentileMs(0.95):0.0} ms  p99 {r.PercentileMs(0.99):0.0} ms");
}

/// <summary>A bench could not be set up or run (a server did not start, a set-up load failed).</summary>
public sealed class BenchException(string message) : Exception(message);
