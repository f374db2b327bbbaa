using System.Diagnostics;
using System.Globalization;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Mpi.Bench;

/// <summary>
/// <c>mpi-match [--patients N] [--quick] [--queries Q] [--creates C] [--concurrency K] [--data DIR] [--matching-only] [--max-candidates M] [--duplicates-percent P] [--queued] [--queue-batch B] [--postgres CONN]</c>: the MPI at scale, on a SQLite store (or PostgreSQL).
/// <list type="number">
/// <item>Loads N synthetic UK patients (<see cref="SyntheticPatients"/>) through the one door in transaction bundles, with
/// the MPI's own write hook giving each its blocking keys and NHS Number check, but not matching them (that is what a load
/// with matching off followed by a rematch gives before the rematch; matching every record is what step 3 measures). With
/// <c>--data DIR</c> the store is kept and a later run with the same N reuses it.</item>
/// <item>Times Q <c>Patient/$match</c> calls through <see cref="MasterPersonIndex.MatchAsync"/>, the code the HTTP API calls,
/// each with a perturbed copy of a loaded person, and prints p50/p95/p99 and how often the person was found.</item>
/// <item>Times C Patient creates with matching on (half of them perturbed copies of loaded people, half new people), one
/// after another as a feed sends them and from <c>--concurrency</c> writers (default 4) as a server meets them, and the
/// same with matching off, for the door's own cost. With <c>--queued</c> the creates are matched by the queued matcher
/// (<see cref="QueuedMatcher"/>, batches of B) running beside the writers, and the bench also prints when every create was
/// matched: the end-to-end rate.</item>
/// </list>
/// </summary>
internal static class MatchBench
{
    private const int Seed = 20240601;
    private const int BundleSize = 500;

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        int Option(string name, int fallback) =>
            args.Zip(args.Skip(1)).Where(p => p.First == name).Select(p => int.Parse(p.Second, CultureInfo.InvariantCulture)).LastOrDefault(fallback);
        var patients = Option("--patients", quick ? 20_000 : 1_000_000);
        var queries = Option("--queries", quick ? 200 : 1_000);
        var creates = Option("--creates", quick ? 500 : 2_000);
        var concurrency = Option("--concurrency", 4);
        var keep = args.Zip(args.Skip(1)).Where(p => p.First == "--data").Select(p => p.Second).LastOrDefault();
        var directory = keep ?? Path.Combine(Path.GetTempPath(), "carehub-mpi-match-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);

        var options = new MpiOptions();
        options = options with { MaxCandidates = Option("--max-candidates", options.MaxCandidates), QueueBatchSize = Option("--queue-batch", options.QueueBatchSize) };
        var matcher = new PersonMatcher(options.ToMatchSettings());
        // --postgres CONN: the same on PostgreSQL, in schema mpi_match (kept, with --data, for a later run) or a throwaway one.
        var postgres = args.Zip(args.Skip(1)).Where(p => p.First == "--postgres").Select(p => p.Second).LastOrDefault();
        var schema = keep is null ? "mpi_match_" + Guid.NewGuid().ToString("N")[..10] : "mpi_match";
        SqlRecordStore store = postgres is null
            ? new SqliteRecordStore(Path.Combine(directory, "carehub.db"))
            : new CareHub.Storage.Postgres.PostgresRecordStore(postgres, schema);
        try
        {
            await store.MigrateAsync(CancellationToken.None);
            await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
            var context = new RequestContext(
                new Principal { Kind = PrincipalKind.System, Subject = "mpi-match", ClientId = "mpi-match", Issuer = "bench", Scopes = ScopeSet.Parse("system/*.cruds") },
                "urn:carehub:bench", "mpi-match") { Return = ReturnPreference.Minimal };
            var people = new SyntheticPatients(Seed);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mpi-match: {patients:N0} patients, {queries} $match queries, {creates} creates; store {(postgres is null ? directory : "PostgreSQL schema " + schema)}"));
            await LoadAsync(store, audit, context, options, matcher, people, patients, directory);

            var index = new MasterPersonIndex(new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System), store, options, matcher, TimeProvider.System);
            if (queries > 0)
            {
                await MatchAsync(index, store, context, patients, queries);
            }

            if (creates > 0)
            {
                await CreateAsync(store, audit, context, options, matcher, people, patients, creates, concurrency, args.Contains("--matching-only"),
                    Option("--duplicates-percent", 50) / 100.0, args.Contains("--queued"));
            }
        }
        finally
        {
            await store.DisposeAsync();
            if (postgres is not null && keep is null)
            {
                await using var connection = new Npgsql.NpgsqlConnection(postgres);
                await connection.OpenAsync(CancellationToken.None);
                await using var drop = new Npgsql.NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }

            if (keep is null)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        return 0;
    }

    private static async Task LoadAsync(SqlRecordStore store, AuditTrail audit, RequestContext context, MpiOptions options, PersonMatcher matcher,
        SyntheticPatients people, int patients, string directory)
    {
        var marker = Path.Combine(directory, "mpi-match-loaded.txt");
        var loaded = File.Exists(marker) ? int.Parse(File.ReadAllText(marker).Trim(), CultureInfo.InvariantCulture) : 0;
        if (loaded >= patients)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load: reusing {loaded:N0} patients already in {directory}"));
            return;
        }

        var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System, writeHooks: [new KeysOnly(new MpiWriteHook(options, store, matcher, TimeProvider.System))]);
        var clock = Stopwatch.StartNew();
        var lap = Stopwatch.StartNew();
        var lapFrom = loaded;
        for (var from = loaded; from < patients; from += BundleSize)
        {
            var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
            for (var i = from; i < Math.Min(from + BundleSize, patients); i++)
            {
                bundle.Entry.Add(new Bundle.EntryComponent { Resource = people.Person(i), Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" } });
            }

            await records.ProcessBundleAsync(context, bundle, CancellationToken.None);
            var done = Math.Min(from + BundleSize, patients);
            await File.WriteAllTextAsync(marker, done.ToString(CultureInfo.InvariantCulture));
            if (done % 50_000 == 0 || done == patients)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"load: {done:N0} patients, {(done - lapFrom) / lap.Elapsed.TotalSeconds:F0}/s lately, {(done - loaded) / clock.Elapsed.TotalSeconds:F0}/s overall"));
                lap.Restart();
                lapFrom = done;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"load: {patients - loaded:N0} patients in {clock.Elapsed.TotalSeconds:F0} s ({(patients - loaded) / clock.Elapsed.TotalSeconds:F0}/s), transaction bundles of {BundleSize}"));
    }

    /// <summary>Loaded person <paramref name="i"/> as stored (read by its local number, outside any timing).</summary>
    private static async Task<Patient> StoredAsync(SqlRecordStore store, int i)
    {
        var page = await store.SearchAsync(new StoreQuery("Patient",
            [new TokenClause("identifier", [new TokenMatch(SyntheticPatients.LocalSystem, "P" + i.ToString(CultureInfo.InvariantCulture), false)])], 1) { Scope = QueryScope.Internal("benchmark") }, CancellationToken.None);
        return (Patient)StoredJson.Parse(page.Resources.Single().Json!);
    }

    private static async Task MatchAsync(MasterPersonIndex index, SqlRecordStore store, RequestContext context, int patients, int queries)
    {
        var random = new Random(Seed + 1);
        var timings = new List<double>(queries);
        var found = 0;
        var first = 0;
        var returned = 0L;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        // Warm-up (JIT, SQLite page cache for the index), not counted.
        for (var q = -Math.Min(50, queries); q < queries; q++)
        {
            var who = random.Next(patients);
            var parameters = new Parameters();
            parameters.Parameter.Add(new Parameters.ParameterComponent { Name = "resource", Resource = SyntheticPatients.Perturbed(await StoredAsync(store, who), random) });
            var clock = Stopwatch.StartNew();
            var bundle = await index.MatchAsync(context, parameters, CancellationToken.None);
            var ms = clock.Elapsed.TotalMilliseconds;
            if (q < 0)
            {
                cpu = Process.GetCurrentProcess().TotalProcessorTime;
                continue;
            }

            timings.Add(ms);
            returned += bundle.Entry.Count;
            var local = "P" + who.ToString(CultureInfo.InvariantCulture);
            var at = bundle.Entry.FindIndex(e => e.Resource is Patient p && p.Identifier.Any(i => i.System == SyntheticPatients.LocalSystem && i.Value == local));
            found += at >= 0 ? 1 : 0;
            first += at == 0 ? 1 : 0;
        }

        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        timings.Sort();
        double P(double p) => timings[Math.Min(timings.Count - 1, (int)Math.Ceiling(p * timings.Count) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"$match: {queries} perturbed queries over {patients:N0} patients: p50 {P(0.50):F1} ms, p95 {P(0.95):F1} ms, p99 {P(0.99):F1} ms, max {timings[^1]:F1} ms, mean {timings.Average():F1} ms, CPU {cpuMs / queries:F1} ms/query"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"$match: the person was among the answers {100.0 * found / queries:F1}% of the time, first {100.0 * first / queries:F1}%; {(double)returned / queries:F1} records answered per query"));
    }

    private static async Task CreateAsync(SqlRecordStore store, AuditTrail audit, RequestContext context, MpiOptions options, PersonMatcher matcher,
        SyntheticPatients people, int patients, int creates, int concurrency, bool matchingOnly, double duplicates, bool queued)
    {
        // New people start at a random point past the loaded ones, so a rerun on a kept store makes new people again.
        var next = patients + (Random.Shared.Next(1, 50) * 100_000);
        foreach (var (enabled, writers) in new[] { (true, 1), (true, concurrency), (false, 1), (false, concurrency) })
        {
            if (matchingOnly && !enabled)
            {
                continue;
            }

            var mpi = options with { Enabled = enabled, Matching = enabled && queued ? MpiMatching.Queued : MpiMatching.Inline };
            var hook = new MpiWriteHook(mpi, store, matcher, TimeProvider.System);
            var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System, writeHooks: [hook]);
            // --queued: the matcher runs beside the writers, as the server runs it, from where the last run left it.
            var queue = mpi.Matching == MpiMatching.Queued
                ? new QueuedMatcher(records, store, (IChangeFeed)store, mpi, matcher, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<QueuedMatcher>.Instance)
                : null;
            using var stopQueue = new CancellationTokenSource();
            using var reader = queue is null ? null
                : new ChangeFeedReader((IChangeFeed)store, [queue], TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ChangeFeedReader>.Instance);
            System.Threading.Tasks.Task? matching = null;
            if (queue is not null)
            {
                await queue.DrainAsync(CancellationToken.None);
                hook.Queued = queue.Wake;
                matching = reader!.RunAsync(stopQueue.Token);
            }

            var random = new Random(Seed + next);
            // Another system's copy of a loaded person (--duplicates-percent, default half) or a new person; made before the clock starts.
            var batch = new List<Patient>();
            for (var c = 0; c < creates + 50; c++)
            {
                batch.Add(random.NextDouble() < duplicates ? SyntheticPatients.Perturbed(await StoredAsync(store, random.Next(patients)), random) : people.Person(next++));
            }

            foreach (var patient in batch.Take(50))
            {
                try
                {
                    await records.CreateAsync(context, patient, null, CancellationToken.None);
                }
                catch (FhirException)
                {
                    // Warm-up only.
                }
            }

            var work = new System.Collections.Concurrent.ConcurrentQueue<Patient>(batch.Skip(50));
            var clock = Stopwatch.StartNew();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var groupsBefore = (store as SqliteRecordStore)?.GroupCommits;
            var gcPause = GC.GetTotalPauseDuration();
            var gcs = GC.CollectionCount(0);
            var gc2 = GC.CollectionCount(2);
            var alloc = GC.GetTotalAllocatedBytes();
            var refused = 0;
            await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, writers).Select(_ => System.Threading.Tasks.Task.Run(async () =>
            {
                while (work.TryDequeue(out var patient))
                {
                    try
                    {
                        await records.CreateAsync(context, patient, null, CancellationToken.None);
                    }
                    catch (FhirException)
                    {
                        // A perturbation can make a record the door refuses (a birth date moved into the future): counted.
                        Interlocked.Increment(ref refused);
                    }
                }
            })));
            var seconds = clock.Elapsed.TotalSeconds;
            var pendingAtEnd = 0;
            if (queue is not null)
            {
                // Creates are done: the time until the matcher has matched every one of them is the end-to-end rate.
                pendingAtEnd = (await queue.StatusAsync(CancellationToken.None)).Pending;
                while ((await queue.StatusAsync(CancellationToken.None)).Pending > 0)
                {
                    await System.Threading.Tasks.Task.Delay(20);
                }
            }

            var allMatched = clock.Elapsed.TotalSeconds;
            var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
            var mode = !enabled ? "off" : queue is null ? "on " : "queued";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"create, matching {mode}, {writers} writer{(writers == 1 ? " " : "s")}: {creates} Patients over {patients:N0}: {creates / seconds:F0}/s, CPU {cpuMs / creates:F2} ms each{(refused > 0 ? $", {refused} refused" : string.Empty)}"));
            if (queue is not null)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  queued matching: {pendingAtEnd} of {creates} still to match when the last create returned; all matched after {allMatched:F1} s, {creates / allMatched:F0}/s end to end"));
                await stopQueue.CancelAsync();
                await matching!;
            }

            if (store is SqliteRecordStore sqlite && groupsBefore is { } before)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {sqlite.GroupCommits.Sessions - before.Sessions} write sessions committed in {sqlite.GroupCommits.Groups - before.Groups} group commits"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  GC: {(GC.GetTotalPauseDuration() - gcPause).TotalMilliseconds / creates:F2} ms paused per create, {GC.CollectionCount(0) - gcs} gen0 and {GC.CollectionCount(2) - gc2} gen2 collections, {(GC.GetTotalAllocatedBytes() - alloc) / creates / 1024} KB allocated per create"));
        }
    }

    /// <summary>The MPI's index rows and write checks without its matching: what a bulk load with matching off stores.</summary>
    private sealed class KeysOnly(MpiWriteHook mpi) : IWriteHook
    {
        public IEnumerable<TokenIndexRow> IndexRows(Resource resource) => mpi.IndexRows(resource);

        public System.Threading.Tasks.Task BeforeWriteAsync(WriteHookContext write, CancellationToken cancellationToken) => mpi.BeforeWriteAsync(write, cancellationToken);

        public System.Threading.Tasks.Task AfterWriteAsync(WriteHookContext write, CancellationToken cancellationToken) => System.Threading.Tasks.Task.CompletedTask;
    }
}
