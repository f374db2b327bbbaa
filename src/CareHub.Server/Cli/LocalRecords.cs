using CareHub.Governance;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Server.Cli;

/// <summary>
/// The record's one door opened by a command (import, reindex) without a web server: the same settings as the server
/// (appsettings.json, environment variables, then the command line), the same store, the same write hooks.
/// </summary>
public sealed class LocalRecords : IAsyncDisposable
{
    private readonly SqlRecordStore store;
    private readonly AuditTrail audit;

    private LocalRecords(SqlRecordStore store, AuditTrail audit, RecordService records, MasterPersonIndex mpi)
    {
        this.store = store;
        this.audit = audit;
        Records = records;
        Mpi = mpi;
    }

    public RecordService Records { get; }

    /// <summary>The MPI's operations over the same door and settings.</summary>
    public MasterPersonIndex Mpi { get; }

    /// <summary>The server's settings: appsettings.json, environment variables, then the command line.</summary>
    public static IConfiguration Configuration(Options options) => new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables()
        .AddInMemoryCollection(options.Settings())
        .Build();

    /// <summary>
    /// The store alone, migrated, for commands that work below the door through <see cref="IGovernanceStore"/> (audit
    /// verify reads the chain; purge removes expired records with their audit records, which no interaction of the door can do).
    /// </summary>
    public static async Task<SqlRecordStore> OpenStoreAsync(Options options)
    {
        var storage = Configuration(options).GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        storage.Validate();
        var store = CareHubHost.OpenStore(storage);
        try
        {
            await store.MigrateAsync(CancellationToken.None);
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    public static async Task<LocalRecords> OpenAsync(Options options)
    {
        var configuration = Configuration(options);
        var mpi = configuration.GetSection(MpiOptions.SectionName).Get<MpiOptions>() ?? new MpiOptions();
        mpi.Validate();
        var store = await OpenStoreAsync(options);
        await CareHub.Search.CustomSearchParameters.LoadAsync(store, CancellationToken.None);
        var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        // Patients written by a command are matched like any other write: the MPI is a write hook of the one door.
        var matcher = new PersonMatcher(mpi.ToMatchSettings());
        var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System)
        {
            BundlePatch = Fhir.FhirApi.PatchFrom,
            WriteHooks = [new MpiWriteHook(mpi, store, matcher, TimeProvider.System)],
        };
        return new LocalRecords(store, audit, records, new MasterPersonIndex(records, store, mpi, matcher, TimeProvider.System));
    }

    /// <summary>After a bulk load: the planner's statistics brought up to date, so the next searches are planned on what was loaded.</summary>
    public async Task<TimeSpan> RefreshStatisticsAsync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await Records.RefreshStatisticsAsync(CancellationToken.None);
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    public async ValueTask DisposeAsync()
    {
        await audit.DisposeAsync();
        await store.DisposeAsync();
    }
}
