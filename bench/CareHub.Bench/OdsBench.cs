using System.Diagnostics;
using CareHub.Directories;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Bench;

/// <summary>
/// The ODS import target: every GP practice of the shared epraccur extract (about 14,000) imported into a fresh store
/// in process through the one door, as <c>carehub import ods</c> does, timed from reading the file to the last commit;
/// then the same file again (every organisation unchanged, nothing written). On SQLite, and on PostgreSQL with --postgres.
/// </summary>
public static class OdsBench
{
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(20);

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var file = SharedData.Find(Path.Combine("ods", "epraccur.csv"));
        if (file is null)
        {
            Console.Error.WriteLine("bench: ods needs ../shared/data/ods/epraccur.csv, which was not found.");
            return 2;
        }

        Console.WriteLine($"ods bench: {file}, imported into a fresh store through the door, then imported again");
        var folder = Path.Combine(Path.GetTempPath(), $"carehub-bench-ods-{Guid.NewGuid():N}");
        try
        {
            if (options.SearchSqlite)
            {
                await using var sqlite = new SqliteRecordStore(Path.Combine(folder, "carehub.db"));
                await RunOneAsync("SQLite", sqlite, file, cancellationToken);
            }

            if (options.Postgres is { } connectionString)
            {
                await BenchStores.InThrowawaySchemaAsync(connectionString, (postgres, _) => RunOneAsync("PostgreSQL", postgres, file, cancellationToken));
            }
        }
        finally
        {
            BenchStores.RemoveSqliteFolder(folder);
        }

        return 0;
    }

    private static async Task RunOneAsync(string name, SqlRecordStore store, string file, CancellationToken cancellationToken)
    {
        await store.MigrateAsync(cancellationToken);
        await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System);
        var context = new RequestContext(Stages.ServerPrincipal(), "http://localhost/fhir", "bench") { Return = ReturnPreference.Minimal };
        var import = new OdsImport(records);
        foreach (var run in new[] { "first import", "again (unchanged)" })
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var summary = await import.ImportFilesAsync(context, [file], new OdsImportOptions(), cancellationToken);
            watch.Stop();
            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            var verdict = run == "first import" ? (watch.Elapsed < Ceiling ? "  (target < 20 s: met)" : "  (target < 20 s: MISSED)") : string.Empty;
            Console.WriteLine($"{name,-10} {run,-18} {summary.Read,6} read, {summary.Added,6} new, {summary.Updated,5} updated, {summary.Unchanged,6} unchanged, {summary.Closed,4} closed: {watch.Elapsed.TotalSeconds,5:F1} s wall, {used.TotalSeconds,5:F1} s CPU{verdict}");
        }
    }
}
