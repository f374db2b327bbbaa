using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CareHub.Bench;

/// <summary>
/// The search targets of the FHIR search issue: a database of N resources made by replaying the Synthea transaction
/// Bundles with fresh ids, then the p50/p95 of its five searches, and the index's size on disk against the JSON's.
/// Everything runs in this process through the one door (<see cref="RecordService"/>: parsing, access policy, index
/// extraction, audit), without HTTP, so the figures are the record's own and not the network's; the result Bundles are
/// serialised to JSON inside the timed part, as a server would. Patients are written without the MPI's write hook
/// (person matching is not what is measured here).
/// </summary>
public static class SearchBench
{
    private const int Iterations = 200;
    private const int Warmup = 20;

    /// <summary>The most frequent Observation code of the shared Synthea Bundles (they pad LOINC codes to 36 characters).</summary>
    private const string CommonCode = "1271AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var set = IngestSet.Load(quick: false);
        if (!set.Source.StartsWith("Synthea", StringComparison.Ordinal))
        {
            Console.Error.WriteLine("bench: search needs the Synthea Bundles of ../shared/data/synthea, which were not found.");
            return 2;
        }

        var target = options.SearchResources;
        Console.WriteLine($"search bench: {LoadRunner.Count(target)} resources from {set.Source}, {Iterations} timed searches of each kind ({Iterations / 4} of $everything) after {Warmup} untimed");
        var folder = Path.Combine(Path.GetTempPath(), $"carehub-bench-search-{Guid.NewGuid():N}");
        try
        {
            if (options.SearchSqlite)
            {
                await using var sqlite = new SqliteRecordStore(Path.Combine(folder, "carehub.db"));
                await RunOneAsync("SQLite", sqlite, set, target, options, () => SqliteSizesAsync(Path.Combine(folder, "carehub.db"), cancellationToken), cancellationToken);
            }

            if (options.Postgres is { } connectionString)
            {
                await BenchStores.InThrowawaySchemaAsync(connectionString, (postgres, schema) =>
                    RunOneAsync("PostgreSQL", postgres, set, target, options, () => PostgresSizesAsync(connectionString, schema, cancellationToken), cancellationToken));
            }
        }
        finally
        {
            BenchStores.RemoveSqliteFolder(folder);
        }

        return 0;
    }

    private static async System.Threading.Tasks.Task RunOneAsync(string name, IRecordStore store, IngestSet set, long target, BenchOptions options, Func<Task<Sizes>> sizes, CancellationToken cancellationToken)
    {
        await store.MigrateAsync(cancellationToken);
        await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System);
        var context = new RequestContext(Stages.ServerPrincipal(), "http://localhost/fhir", "bench");
        Console.WriteLine();
        Console.WriteLine($"{name}: loading...");
        var loaded = await LoadAsync(records, context, set, target, options.IngestClients, cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: loaded {LoadRunner.Count(loaded.Resources)} resources ({loaded.Patients.Count} patients) in {loaded.Elapsed.TotalSeconds:0} s: {LoadRunner.Count(loaded.Resources / loaded.Elapsed.TotalSeconds)} resources/s with {options.IngestClients} concurrent transaction Bundles"));

        var samples = await SamplesAsync(records, context, loaded, cancellationToken);
        var searches = new (string Label, Func<int, (string Kind, string Path)> Query)[]
        {
            ("Patient?identifier=system|value", i => ("Patient", $"identifier={Uri.EscapeDataString(samples[i % samples.Count].Identifier)}")),
            ("Patient?name=smi", _ => ("Patient", "name=smi")),
            ("Observation?subject&code=8867-4&date=ge2020", i => ("Observation", $"subject=Patient/{samples[i % samples.Count].Id}&code=http://loinc.org|8867-4&date=ge2020-01-01")),
            // The shared Synthea data has no 8867-4 and nothing after 2018: the same search with its most common code.
            ("Observation?subject&code=(most common)&date=ge2010", i => ("Observation", $"subject=Patient/{samples[i % samples.Count].Id}&code=http://loinc.org|{CommonCode}&date=ge2010-01-01")),
            ("Encounter?patient&_include&_revinclude", i => ("Encounter", $"patient={samples[i % samples.Count].Id}&_include=Encounter:practitioner&_revinclude=Condition:encounter")),
            ($"Patient/x/$everything ({LoadRunner.Count(loaded.LargestSize)} res.)", _ => ("$everything", $"_count={SearchRequest.MaxCount}")),
        };

        foreach (var (label, query) in searches)
        {
            var times = new List<double>();
            var entries = 0L;
            // $everything returns a thousand resources a time: fewer runs of it keep the bench within its time.
            var iterations = label.StartsWith("Patient/x", StringComparison.Ordinal) ? Iterations / 4 : Iterations;
            for (var i = 0; i < Warmup + iterations; i++)
            {
                var (kind, path) = query(i);
                var started = Stopwatch.GetTimestamp();
                var bundle = kind == "$everything"
                    ? await records.EverythingAsync(context, loaded.LargestPatient, Records.QueryString.Parse(path), cancellationToken)
                    : await records.SearchAsync(context, kind, Records.QueryString.Parse(path), cancellationToken);
                _ = FhirSerialization.ToJson(bundle);
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (i >= Warmup)
                {
                    times.Add(elapsed);
                    entries += bundle.Entry.Count;
                }
            }

            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-10} {label,-48} p50 {Percentile(times, 0.50),7:0.0} ms   p95 {Percentile(times, 0.95),7:0.0} ms   mean entries {entries / (double)times.Count,6:0.0}"));
        }

        var size = await sizes();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-10} on disk: JSON of current versions {Mb(size.JsonBytes)}, search index (tables + indexes) {Mb(size.IndexBytes)} = {size.IndexBytes / (double)size.JsonBytes:0.00} x the JSON; whole database {Mb(size.DatabaseBytes)}"));
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:#,0} MB");

    private sealed record Loaded(long Resources, List<string> Patients, string LargestPatient, int LargestSize, TimeSpan Elapsed);

    /// <summary>
    /// The batch Bundles once (hospitals, practitioners), then the transaction Bundles round-robin with fresh GUIDs until
    /// <paramref name="target"/> resources are written, <paramref name="clients"/> Bundles at a time.
    /// </summary>
    private static async Task<Loaded> LoadAsync(RecordService records, RequestContext context, IngestSet set, long target, int clients, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        long written = 0;
        foreach (var (_, json) in set.Setup)
        {
            var response = await records.ProcessBundleAsync(context, (Bundle)FhirSerialization.Parse(Encoding.UTF8.GetString(json), FhirFormat.Json), cancellationToken);
            written += response.Entry.Count(e => e.Response?.Status?.StartsWith("201", StringComparison.Ordinal) == true);
        }

        var largest = set.Transactions.MaxBy(t => t.Entries)!;
        var patients = new List<string>();
        string? largestPatient = null;
        var next = -1L;
        var lastReport = Stopwatch.GetTimestamp();
        var gate = new object();
        await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, clients).Select(_ => System.Threading.Tasks.Task.Run(async () =>
        {
            while (Interlocked.Read(ref written) < target)
            {
                var template = set.Transactions[(int)(Interlocked.Increment(ref next) % set.Transactions.Count)];
                var bundle = (Bundle)FhirSerialization.Parse(Encoding.UTF8.GetString(template.Fresh()), FhirFormat.Json);
                var response = await records.ProcessBundleAsync(context, bundle, cancellationToken);
                var patient = response.Entry.Select(e => e.Response?.Location).FirstOrDefault(l => l?.StartsWith("Patient/", StringComparison.Ordinal) == true)?.Split('/')[1];
                var total = Interlocked.Add(ref written, response.Entry.Count);
                lock (gate)
                {
                    if (patient is not null)
                    {
                        patients.Add(patient);
                        if (template == largest)
                        {
                            largestPatient ??= patient;
                        }
                    }

                    if (Stopwatch.GetElapsedTime(lastReport).TotalSeconds >= 30)
                    {
                        lastReport = Stopwatch.GetTimestamp();
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  ... {LoadRunner.Count(total)} resources, {LoadRunner.Count(total / Stopwatch.GetElapsedTime(started).TotalSeconds)}/s"));
                    }
                }
            }
        }, cancellationToken)));

        return new Loaded(written, patients, largestPatient ?? patients[0], largest.Entries, Stopwatch.GetElapsedTime(started));
    }

    private sealed record Sample(string Id, string Identifier);

    /// <summary>Patients to search for, spread over the load, each with an identifier (system|value) it holds.</summary>
    private static async Task<List<Sample>> SamplesAsync(RecordService records, RequestContext context, Loaded loaded, CancellationToken cancellationToken)
    {
        var samples = new List<Sample>();
        var step = Math.Max(1, loaded.Patients.Count / 100);
        for (var i = 0; i < loaded.Patients.Count && samples.Count < 100; i += step)
        {
            var result = await records.ReadAsync(context, "Patient", loaded.Patients[i], null, cancellationToken);
            if (result.ToResource() is Patient { Identifier: { Count: > 0 } identifiers } && identifiers.FirstOrDefault(x => x.System is not null && x.Value is not null) is { } identifier)
            {
                samples.Add(new Sample(loaded.Patients[i], $"{identifier.System}|{identifier.Value}"));
            }
        }

        return samples;
    }

    private sealed record Sizes(long JsonBytes, long IndexBytes, long DatabaseBytes);

    private static readonly string[] IndexTables = ["search_token", "search_string", "search_date", "search_number", "search_quantity", "search_reference", "search_uri"];

    /// <summary>
    /// SQLite as shipped with Microsoft.Data.Sqlite has no dbstat table, so the index's share is measured by difference:
    /// the database compacted (VACUUM INTO), then a copy of that without the search tables and their indexes, compacted again.
    /// </summary>
    private static async Task<Sizes> SqliteSizesAsync(string path, CancellationToken cancellationToken)
    {
        var whole = path + ".whole";
        var bare = path + ".bare";
        try
        {
            long json;
            await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
            {
                await connection.OpenAsync(cancellationToken);
                json = await ScalarAsync(connection, "SELECT COALESCE(SUM(length(CAST(v.body AS BLOB))), 0) FROM resource_current c JOIN resource_version v ON v.seq = c.seq WHERE c.deleted = 0", cancellationToken);
                foreach (var table in IndexTables)
                {
                    Console.WriteLine($"    {table}: {LoadRunner.Count(await ScalarAsync(connection, $"SELECT COUNT(*) FROM {table}", cancellationToken))} rows");
                }

                Console.WriteLine($"    of which _text and _content words: {LoadRunner.Count(await ScalarAsync(connection, "SELECT COUNT(*) FROM search_string WHERE param IN ('_text', '_content')", cancellationToken))} rows");
                await ScalarAsync(connection, $"VACUUM INTO '{whole}'", cancellationToken);
            }

            File.Copy(whole, bare);

            await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={bare};Pooling=False"))
            {
                await connection.OpenAsync(cancellationToken);
                foreach (var table in IndexTables)
                {
                    await ScalarAsync(connection, $"DROP TABLE {table}", cancellationToken);
                }

                await ScalarAsync(connection, "VACUUM", cancellationToken);
            }

            var wholeBytes = new FileInfo(whole).Length;
            return new Sizes(json, wholeBytes - new FileInfo(bare).Length, wholeBytes);
        }
        finally
        {
            File.Delete(whole);
            File.Delete(bare);
        }
    }

    private static async Task<Sizes> PostgresSizesAsync(string connectionString, string schema, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var json = await ScalarAsync(connection,
            $"SELECT COALESCE(SUM(octet_length(v.body::text)), 0) FROM \"{schema}\".resource_current c JOIN \"{schema}\".resource_version v ON v.seq = c.seq WHERE c.deleted = 0", cancellationToken);
        var index = await ScalarAsync(connection,
            $"SELECT {string.Join(" + ", IndexTables.Select(t => $"pg_total_relation_size('\"{schema}\".{t}')"))}", cancellationToken);
        foreach (var table in IndexTables)
        {
            Console.WriteLine($"    {table}: {Mb(await ScalarAsync(connection, $"SELECT pg_total_relation_size('\"{schema}\".{table}')", cancellationToken))} " +
                $"({LoadRunner.Count(await ScalarAsync(connection, $"SELECT COUNT(*) FROM \"{schema}\".{table}", cancellationToken))} rows)");
        }

        var database = await ScalarAsync(connection,
            $"SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}' AND c.relkind = 'r'", cancellationToken);
        return new Sizes(json, index, database);
    }

    private static async Task<long> ScalarAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 600;
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : 0;
    }
}
