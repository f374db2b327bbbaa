using System.Diagnostics;
using System.Globalization;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage.Sqlite;
using CareHub.Terminology;
using CareHub.Terminology.Snomed;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Bench;

/// <summary>
/// ./carehub bench terminology [--concepts N] [--postgres CONNSTRING]: generates a synthetic SNOMED CT release of N
/// concepts (350,000 by default, about 4.4 relationships each), loads it into a fresh SNOMED CT store, then times, in
/// this process through the one door, <c>$lookup</c>, the subsumption test (the store's closure probe, and
/// <c>$subsumes</c>) and <c>$expand</c> of <c>&lt;&lt;73211009</c> (about a hundred concepts at any scale) with the
/// expansion cache off and on; each figure is printed beside its target.
/// </summary>
public static class TerminologyBench
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var concepts = 350_000;
        string? postgres = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--concepts" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    concepts = n;
                    i++;
                    break;
                case "--postgres" when i + 1 < args.Length:
                    postgres = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"bench terminology: unknown option '{args[i]}' (--concepts N, --postgres CONNSTRING).");
                    return 2;
            }
        }

        var folder = Path.Combine(Path.GetTempPath(), "carehub-bench-sct-" + Guid.NewGuid().ToString("N")[..8]);
        var schema = $"carehub_bench_sct_{Guid.NewGuid():N}"[..30];
        try
        {
            var started = Stopwatch.GetTimestamp();
            SyntheticRelease.Write(Path.Combine(folder, "release"), concepts);
            Console.WriteLine($"generated a synthetic release of {concepts:N0} concepts in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
            await using SnomedStore store = postgres is null
                ? new SqliteSnomedStore(Path.Combine(folder, SqliteSnomedStore.FileName))
                : new PostgresSnomedStore(postgres, schema);
            await store.MigrateAsync(cancellationToken);
            var load = await store.LoadAsync(Rf2Release.Find(Path.Combine(folder, "release")), null, cancellationToken);
            Console.WriteLine($"{store.Backend}: RF2 load of {load.Concepts:N0} concepts, {load.Descriptions:N0} descriptions, {load.Relationships:N0} relationships, " +
                $"{load.RefsetMembers:N0} refset members, closure {load.ClosureRows:N0} rows: {load.Elapsed.TotalSeconds:0.0} s (target < 180 s)");

            await using var records = new SqliteRecordStore(Path.Combine(folder, "carehub.db"));
            await records.MigrateAsync(cancellationToken);
            await using var audit = new AuditTrail(records, TimeProvider.System, NullLogger<AuditTrail>.Instance);
            var door = new RecordService(records, new ScopeAccessPolicy(), audit, TimeProvider.System);
            var context = new RequestContext(Stages.ServerPrincipal(), "http://localhost/fhir", "bench");
            var random = new Random(21);
            var ids = Enumerable.Range(0, 1000).Select(_ => 9_100_000_000L + random.Next(Math.Max(1, concepts - SyntheticRelease.Concepts.Count - 1))).Append(73211009).ToArray();
            var uncached = new TerminologyService(door, store, new TerminologyOptions { CachedExpansions = 0 });
            var cached = new TerminologyService(door, store, new TerminologyOptions());

            await TimeAsync("$lookup (SNOMED CT)", 2, "ms", 1000, i => uncached.LookupAsync(context, Input(("system", Snomed.System), ("code", ids[i % ids.Length].ToString(CultureInfo.InvariantCulture))), cancellationToken));
            await TimeAsync("subsumption (closure probe)", 0.050, "ms", 10_000, i => store.IsBelowAsync(ids[i % ids.Length], ids[(i * 7 + 3) % ids.Length], cancellationToken));
            await TimeAsync("$subsumes", 2, "ms", 1000, i => uncached.SubsumesAsync(context, Input(("system", Snomed.System), ("codeA", "73211009"), ("codeB", ids[i % ids.Length].ToString(CultureInfo.InvariantCulture))), cancellationToken));
            var expand = Input(("url", "http://snomed.info/sct?fhir_vs=ecl/<<73211009"));
            var size = (await uncached.ExpandAsync(context, null, expand, cancellationToken)).Expansion?.Total;
            await TimeAsync($"$expand <<73211009 ({size} concepts), no cache", 20, "ms", 200, _ => uncached.ExpandAsync(context, null, expand, cancellationToken));
            await TimeAsync($"$expand <<73211009 ({size} concepts), cached", 20, "ms", 1000, _ => cached.ExpandAsync(context, null, expand, cancellationToken));
            await TimeAsync("$expand ?fhir_vs filter=diabetes count=20", 20, "ms", 200, _ => uncached.ExpandAsync(context, null, Input(("url", "http://snomed.info/sct?fhir_vs"), ("filter", "diabetes variant 9"), ("count", "20")), cancellationToken));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (postgres is not null)
            {
                await using var connection = new Npgsql.NpgsqlConnection(postgres);
                await connection.OpenAsync(CancellationToken.None);
                await using var drop = new Npgsql.NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }

            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        return 0;
    }

    private static Parameters Input(params (string Name, string Value)[] values)
    {
        var parameters = new Parameters();
        foreach (var (name, value) in values)
        {
            parameters.Add(name, new FhirString(value));
        }

        return parameters;
    }

    /// <summary>Runs <paramref name="runs"/> calls after a tenth as many untimed, and prints p50, p95 and the target.</summary>
    private static async System.Threading.Tasks.Task TimeAsync<T>(string label, double targetMs, string unit, int runs, Func<int, Task<T>> call)
    {
        for (var i = 0; i < runs / 10; i++)
        {
            await call(i);
        }

        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await call(i);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        times.Sort();
        double Percentile(double p) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(p * times.Count) - 1)];
        var scale = targetMs < 1 ? 1000 : 1;
        var shown = targetMs < 1 ? "µs" : unit;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {label,-48} p50 {Percentile(0.50) * scale,8:0.00} {shown}   p95 {Percentile(0.95) * scale,8:0.00} {shown}   (target p95 < {targetMs * scale:0.##} {shown})"));
    }
}
