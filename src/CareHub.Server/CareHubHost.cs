using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Server.Feed;
using CareHub.Server.Fhir;
using CareHub.Server.Identity;
using CareHub.Server.Messaging;
using CareHub.Server.Notifications;
using CareHub.Server.Security;
using CareHub.Server.SignIn;
using CareHub.Server.Terminology;
using CareHub.Storage;
using CareHub.Storage.Sqlite;

namespace CareHub.Server;

/// <summary>Builds the CareHub web host: the table of contents of the server.</summary>
public static class CareHubHost
{
    /// <param name="configureServices">Messaging: extra registrations (e.g. a message transformer) after the defaults.</param>
    public static WebApplication Build(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<IServiceCollection>? configureServices = null)
    {
        // The content root is the server's own folder, where its appsettings.json lives (as the CLI commands read it), not
        // the working directory: a configuration file watcher on a folder holding the database wakes on every write
        // (docs/decisions/storage.md).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var storage = CareHubServices.ReadStorage(builder.Configuration);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = storage.MaxBodyBytes + 1);
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        // One log line per request costs more than the request itself at thousands a second: framework logs at Warning
        // unless configured otherwise (Logging:LogLevel:Microsoft.AspNetCore).
        builder.Logging.AddFilter("Microsoft.AspNetCore", builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is { } level
            ? Enum.Parse<LogLevel>(level, ignoreCase: true)
            : LogLevel.Warning);

        builder.Services.AddCareHub(builder.Configuration).AddCareHubWorkers().AddCareHubAuth(builder.Configuration);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseFhirErrors();
        app.UseFhirRequestTimeout(app.Services.GetRequiredService<FhirOptions>().RequestTimeout);
        // Routing, then one authentication and authorization path for every face, inside the error mapping above so that
        // a refusal under /fhir is an OperationOutcome.
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapFhirApi();
        app.MapMessagingApi();
        app.MapMpiApi();
        app.MapNotificationsApi();
        app.MapTerminologyApi();
        if (app.Services.GetService<DevTokenIssuer>() is not null)
        {
            app.MapDevTokenApi();
        }

        app.MapSignInApi();
        app.MapClientRegistryApi();

        app.MapGet("/", () => Results.Text("CareHub is running. FHIR R4 API: /fhir (metadata: /fhir/metadata).\n")).AllowAnonymous();
        app.MapGet("/health", Health).AllowAnonymous();
        return app;
    }

    /// <summary>
    /// Readiness for load balancers and operators: the store answers; with how far each change-feed consumer has read
    /// (a consumer that fails does not make the node unready: it backs off and its lag shows it). No patient data, no
    /// authentication.
    /// </summary>
    private static async Task<IResult> Health(SqlRecordStore store, ChangeFeedReader feeds, CareHub.Notifications.Storage.INotificationStore notificationStore, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        try
        {
            await store.FeedEndAsync(cancellationToken);
            var notifications = await NotificationServices.HealthAsync(notificationStore, clock, cancellationToken);
            // Stale planner statistics lose nothing but can slow restricted searches badly: a refresh that keeps failing shows here.
            var (statisticsFailures, statisticsFailedAt, statisticsFailure) = store.StatisticsFailures;
            var statistics = new { refreshes = store.StatisticsRefreshes, failures = statisticsFailures, lastFailureAt = statisticsFailedAt, lastFailure = statisticsFailure };
            if (store is SqliteRecordStore sqlite)
            {
                // A checkpoint that fails leaves the write-ahead log growing until the writer's own backstop copies it.
                var (failures, at, message) = sqlite.CheckpointFailures;
                return Results.Json(new
                {
                    status = "ok", store = store.Backend, schema = SqlRecordStore.SchemaVersion,
                    checkpoints = new { passes = sqlite.CheckpointPasses, failures, lastFailureAt = at, lastFailure = message },
                    statistics,
                    feeds = ChangeFeedServices.Health(feeds),
                    notifications,
                });
            }

            return Results.Json(new { status = "ok", store = store.Backend, schema = SqlRecordStore.SchemaVersion, statistics, feeds = ChangeFeedServices.Health(feeds), notifications });
        }
        catch (System.Data.Common.DbException)
        {
            return Results.Json(new { status = "unavailable", store = store.Backend }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Prepares the stores (<see cref="CareHubStartup.PrepareAsync"/>) and starts serving.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await CareHubStartup.PrepareAsync(app.Services, cancellationToken);
        await app.StartAsync(cancellationToken);
    }

    /// <summary>Stops the host and writes what is still queued for audit.</summary>
    public static async Task StopAsync(WebApplication app)
    {
        await app.StopAsync();
        await app.Services.GetRequiredService<AuditTrail>().DisposeAsync();
    }
}
