using CareHub.Governance;
using CareHub.Identity;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Server.Feed;
using CareHub.Server.Fhir;
using CareHub.Server.Identity;
using CareHub.Server.Messaging;
using CareHub.Server.Security;
using CareHub.Storage;
using CareHub.Storage.Postgres;
using CareHub.Storage.Sqlite;

namespace CareHub.Server;

/// <summary>Builds the CareHub web host: the table of contents of the server.</summary>
public static class CareHubHost
{
    /// <param name="configureServices">Messaging: extra registrations (e.g. a message transformer) after the defaults.</param>
    public static WebApplication Build(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<IServiceCollection>? configureServices = null)
    {
        // The content root is the server's own folder, where its appsettings.json lives (as the CLI commands read it), not
        // the working directory: a configuration file watcher on a folder holding the database wakes on every write and
        // cost a fifth of create throughput.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var storage = builder.Configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        storage.Validate();
        var fhir = builder.Configuration.GetSection(FhirOptions.SectionName).Get<FhirOptions>() ?? new FhirOptions();
        fhir.Validate();
        var searchLimits = builder.Configuration.GetSection(CareHub.Search.SearchLimits.SectionName).Get<CareHub.Search.SearchLimits>() ?? CareHub.Search.SearchLimits.Default;
        searchLimits.Validate();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = storage.MaxBodyBytes + 1);
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        // One log line per request costs more than the request itself at thousands a second: framework logs at Warning
        // unless configured otherwise (Logging:LogLevel:Microsoft.AspNetCore).
        builder.Logging.AddFilter("Microsoft.AspNetCore", builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is { } level
            ? Enum.Parse<LogLevel>(level, ignoreCase: true)
            : LogLevel.Warning);

        builder.Services.AddSingleton(storage);
        builder.Services.AddSingleton(new ServerLimits(storage.MaxBodyBytes, fhir.MaxNestingDepth));
        builder.Services.AddSingleton(fhir);
        builder.Services.AddSingleton(searchLimits);
        builder.Services.AddSingleton(TimeProvider.System);
        // One store under each of its interfaces: the door's contract, and the narrower ones CareHub's own look-ups, the MPI
        // and the governance jobs read through.
        builder.Services.AddSingleton(_ => OpenStore(storage));
        builder.Services.AddSingleton<IRecordStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        builder.Services.AddSingleton<IRecordLookups>(sp => sp.GetRequiredService<SqlRecordStore>());
        builder.Services.AddSingleton<IPersonIndexStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        builder.Services.AddSingleton<IGovernanceStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        // Information governance (docs/governance.md): the policy file, or the default one CareHub ships with.
        builder.Services.AddSingleton<IAccessPolicy>(sp => new GovernancePolicy(
            builder.Configuration["CareHub:Governance:PolicyFile"] is { Length: > 0 } policyFile ? PolicyDocument.Load(policyFile) : PolicyDocument.Default,
            sp.GetRequiredService<IRecordLookups>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<AuditTrail>();
        builder.Services.AddSingleton(sp => new RecordService(
            sp.GetRequiredService<IRecordStore>(), sp.GetRequiredService<IAccessPolicy>(), sp.GetRequiredService<AuditTrail>(), sp.GetRequiredService<TimeProvider>())
        {
            BundlePatch = FhirApi.PatchFrom,
            WriteHooks = sp.GetServices<IWriteHook>().ToArray(),
            PatientLinks = sp.GetService<IPatientLinks>(),
            ReadViews = sp.GetServices<IReadView>().ToArray(),
        });
        builder.Services.AddSingleton<IReadView, CitizenAuditView>();
        builder.Services.AddMpi(builder.Configuration);
        builder.Services.AddSingleton<CapabilityStatementFactory>();
        builder.Services.AddCareHubAuth(builder.Configuration);
        // Messaging: the message broker (channels, message store, MLLP listeners, delivery workers).
        builder.Services.AddCareHubMessaging(builder.Configuration, storage);
        // Downstream of every write: queued matching, change-feed channels (and subscriptions), one reader.
        builder.Services.AddChangeFeed();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseFhirErrors();
        app.UseFhirRequestTimeout(fhir.RequestTimeout);
        app.UseFhirAuthentication();
        app.MapFhirApi();
        app.MapMessagingApi();
        app.MapMpiApi();
        if (app.Services.GetService<DevTokenIssuer>() is not null)
        {
            app.MapDevTokenApi();
        }

        app.MapGet("/", () => Results.Text("CareHub is running. FHIR R4 API: /fhir (metadata: /fhir/metadata).\n"));
        app.MapGet("/health", Health);
        return app;
    }

    /// <summary>
    /// Readiness for load balancers and operators: the store answers; with how far each change-feed consumer has read
    /// (a consumer that fails does not make the node unready: it backs off and its lag shows it). No patient data, no
    /// authentication.
    /// </summary>
    private static async Task<IResult> Health(RecordService records, SqlRecordStore store, ChangeFeedReader feeds, CancellationToken cancellationToken)
    {
        try
        {
            await store.FeedEndAsync(cancellationToken);
            if (store is SqliteRecordStore sqlite)
            {
                // A checkpoint that fails leaves the write-ahead log growing until the writer's own backstop copies it.
                var (failures, at, message) = sqlite.CheckpointFailures;
                return Results.Json(new
                {
                    status = "ok", store = records.Backend, schema = SqlRecordStore.SchemaVersion,
                    checkpoints = new { passes = sqlite.CheckpointPasses, failures, lastFailureAt = at, lastFailure = message },
                    feeds = ChangeFeedServices.Health(feeds),
                });
            }

            return Results.Json(new { status = "ok", store = records.Backend, schema = SqlRecordStore.SchemaVersion, feeds = ChangeFeedServices.Health(feeds) });
        }
        catch (System.Data.Common.DbException)
        {
            return Results.Json(new { status = "unavailable", store = records.Backend }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Opens the configured store; the caller migrates it before serving.</summary>
    public static SqlRecordStore OpenStore(StorageOptions storage) =>
        storage.Postgres is { } connectionString
            ? new PostgresRecordStore(connectionString, storage.PostgresSchema) { StatisticsOptions = new() { Every = storage.StatisticsEvery } }
            : new SqliteRecordStore(Path.Combine(storage.DataDirectory, "carehub.db"), storage.FullSync) { StatisticsOptions = new() { Every = storage.StatisticsEvery } };

    /// <summary>Migrates the store (failing fast on a schema newer than this build) and starts serving.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.Services.GetRequiredService<IRecordStore>().MigrateAsync(cancellationToken);
        await CareHub.Search.CustomSearchParameters.LoadAsync(app.Services.GetRequiredService<IRecordLookups>(), cancellationToken);
        // Messaging: the message store has its own migrations and version table.
        await app.Services.GetRequiredService<CareHub.Messaging.Storage.IMessageStore>().MigrateAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
    }

    /// <summary>Stops the host and writes what is still queued for audit.</summary>
    public static async Task StopAsync(WebApplication app)
    {
        await app.StopAsync();
        await app.Services.GetRequiredService<AuditTrail>().DisposeAsync();
    }
}
