using System.Diagnostics;
using System.Globalization;
using System.Text;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Bench;

/// <summary>
/// Where the time of a create goes, measured in this process without HTTP or authentication: each stage of
/// RecordService's write path timed on its own over the create bench's bodies, then the store's share (the part done
/// under SQLite's single-writer lock) with one transaction per create and with many creates per transaction, then
/// RecordService.CreateAsync end to end. A diagnostic for when the create figures disappoint, not a reported figure.
/// </summary>
public static class Stages
{
    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var bodies = Workloads.CreateBodies(options.PatientsOnly).Select(b => Encoding.UTF8.GetString(b.Json)).ToList();
        var count = options.Quick ? 2_000 : 10_000;
        Console.WriteLine($"stages of a create, in-process (no HTTP, no auth), {Count(count)} creates of the create bench's bodies each; mean per create:");

        // Every body once, untimed, so that JIT compilation and first-use caches of each resource shape are not timed.
        foreach (var body in bodies)
        {
            FhirSerialization.ToJson(FhirSerialization.Parse(body, FhirFormat.Json));
        }

        var parsed = new Resource[count];
        Time("parse + validate (FhirSerialization.Parse)", count, i => parsed[i] = FhirSerialization.Parse(bodies[i % bodies.Count], FhirFormat.Json));
        Time("validate alone (FhirSerialization.Validate)", count, i => FhirSerialization.Validate(parsed[i]));
        var utf8 = bodies.Select(Encoding.UTF8.GetBytes).ToList();
        Time("input check alone (FhirInputCheck: UTF-8, nesting, strings)", count, i => FhirInputCheck.Check(utf8[i % utf8.Count], FhirFormat.Json, FhirInputCheck.DefaultMaxDepth));
        var strict = new FhirJsonDeserializer(new DeserializerSettings().UsingMode(DeserializationMode.Strict));
        var lenient = new FhirJsonDeserializer(new DeserializerSettings().UsingMode(DeserializationMode.Ostrich));
        Time("deserialise alone, Firely strict mode (as Parse does)", count, i => strict.DeserializeResource(bodies[i % bodies.Count]));
        Time("deserialise alone, Firely ostrich mode (no element checks)", count, i => lenient.DeserializeResource(bodies[i % bodies.Count]));
        Time("System.Text.Json JsonDocument.Parse of the body", count, i => System.Text.Json.JsonDocument.Parse(bodies[i % bodies.Count]).Dispose());
        var json = new string[count];
        Time("serialise (FhirSerialization.ToJson)", count, i => json[i] = FhirSerialization.ToJson(parsed[i]));

        // The MPI prepares every blocking candidate it has not seen before from its stored JSON (PreparedPatients).
        var patients = json.Where((_, i) => parsed[i] is Patient).ToArray();
        if (patients.Length > 0)
        {
            Time("MPI candidate: StoredJson.Parse + PatientMapper + prepare", count, i =>
                CareHub.Identity.Matching.PreparedPerson.From(CareHub.Identity.Matching.PatientMapper.ToPersonRecord((Patient)StoredJson.Parse(patients[i % patients.Length]), "carehub")));
            Time("MPI candidate: PatientJsonMapper (stored JSON) + prepare", count, i =>
                CareHub.Identity.Matching.PreparedPerson.From(CareHub.Identity.Matching.PatientJsonMapper.Read(patients[i % patients.Length], "carehub").Person));
        }

        var folder = Path.Combine(Path.GetTempPath(), $"carehub-bench-stages-{Guid.NewGuid():N}");
        try
        {
            await using var store = new SqliteRecordStore(Path.Combine(folder, "carehub.db"));
            await store.MigrateAsync(cancellationToken);
            await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
            var context = new RequestContext(ServerPrincipal(), "http://localhost/fhir", "bench");
            var audits = new VersionWrite[count];
            Time("audit record (AuditTrail.ToWrite: build + serialise)", count, i => audits[i] = audit.ToWrite(context,
                new AuditFacts("create", AuditEvent.AuditEventAction.C, parsed[i].TypeName, [$"{parsed[i].TypeName}/x/_history/1"], [], true)));
            // RecordService.PatientsOf (internal) parses the stored JSON again to find the audit's patient.
            Time("re-parse of the stored JSON (as RecordService.PatientsOf)", count, i => System.Text.Json.JsonDocument.Parse(json[i]).Dispose());

            // The index rows the door writes with each version (RecordService.IndexRows: the search parameters and the
            // governance rows), extracted once here so the store stages time the store alone.
            var indexes = new List<IndexRow>[count];
            Time("index rows (IndexExtractor.Extract + GovernanceIndex.Rows)", count, i =>
            {
                var rows = CareHub.Search.IndexExtractor.Extract(parsed[i]);
                rows.AddRange(GovernanceIndex.Rows(parsed[i], rows).ToList());
                indexes[i] = rows;
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  (index rows a create: {indexes.Average(r => r.Count):0.0}; an audit record: {audits.Average(a => a.Index.Count):0.0})"));

            VersionWrite Write(int i) => new(parsed[i].TypeName, FhirIds.NewId(), 1, DateTimeOffset.UtcNow, "POST", json[i], null, indexes[i]);
            await TimeAsync("store: 1 create + its audit per transaction", count, async i =>
            {
                await using var session = await store.BeginWriteAsync(cancellationToken);
                await session.WriteAsync(Write(i), cancellationToken);
                await session.WriteAsync(audits[i], cancellationToken);
                await session.CommitAsync(cancellationToken);
            });
            await TimeAsync("store: 1 create, no audit", count, async i =>
            {
                await using var session = await store.BeginWriteAsync(cancellationToken);
                await session.WriteAsync(Write(i), cancellationToken);
                await session.CommitAsync(cancellationToken);
            });
            const int group = 16;
            await TimeAsync($"store: {group} creates + audits per transaction (group commit)", count / group, async g =>
            {
                await using var session = await store.BeginWriteAsync(cancellationToken);
                for (var i = g * group; i < (g + 1) * group; i++)
                {
                    await session.WriteAsync(Write(i), cancellationToken);
                    await session.WriteAsync(audits[i] with { Id = FhirIds.NewId() }, cancellationToken);
                }

                await session.CommitAsync(cancellationToken);
            }, perItem: group);

            var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System);
            foreach (var callers in new[] { 1, options.Clients })
            {
                var next = -1;
                var groupsBefore = store.GroupCommits;
                var started = Stopwatch.GetTimestamp();
                await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < count)
                    {
                        var resource = FhirSerialization.Parse(bodies[i % bodies.Count], FhirFormat.Json);
                        await records.CreateAsync(context, resource, null, cancellationToken);
                    }
                }, cancellationToken)));
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var groups = store.GroupCommits;
                var sessionsPerGroup = (double)(groups.Sessions - groupsBefore.Sessions) / Math.Max(1, groups.Groups - groupsBefore.Groups);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {$"RecordService.CreateAsync incl. parse, {callers} caller(s)",-62} {seconds * 1e6 / count,8:0} us   {Count(count / seconds)} creates/s, {sessionsPerGroup:0.0} per group commit"));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }

        return 0;
    }

    /// <summary>The in-process benches' caller: a system with every scope.</summary>
    internal static Principal ServerPrincipal() => new()
    {
        Kind = PrincipalKind.System,
        Subject = "bench",
        ClientId = "bench",
        Issuer = "carehub-bench",
        Scopes = ScopeSet.Parse("system/*.cruds"),
    };

    private static void Time(string what, int count, Action<int> stage)
    {
        // A first pass over a few items, so that JIT compilation is not timed.
        for (var i = 0; i < Math.Min(200, count); i++)
        {
            stage(i);
        }

        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            stage(i);
        }

        Report(what, Stopwatch.GetElapsedTime(started), count);
    }

    private static async Task TimeAsync(string what, int count, Func<int, Task> stage, int perItem = 1)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await stage(i);
        }

        Report(what, Stopwatch.GetElapsedTime(started), count * perItem);
    }

    private static void Report(string what, TimeSpan elapsed, int count) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-62} {elapsed.TotalMicroseconds / count,8:0} us   {Count(count / elapsed.TotalSeconds)}/s"));

    private static string Count(double value) => LoadRunner.Count(value);
}
