using CareHub.Governance;
using CareHub.Notifications;
using CareHub.Notifications.Storage;
using CareHub.Notifications.Storage.Postgres;
using CareHub.Notifications.Storage.Sqlite;
using CareHub.Records;
using CareHub.Records.Feed;

namespace CareHub.Server.Notifications;

/// <summary>
/// Registers subscriptions and their notifications (docs/notifications.md): the options, the endpoint guard, the
/// notification store, the Subscription write hook and the engine. The engine's change-feed reading and the delivery
/// workers are server work (<see cref="AddNotificationWorkers"/>).
/// </summary>
public static class NotificationServices
{
    /// <summary>Reads and checks <c>CareHub:Notifications</c> (failing with the setting's path) and registers what the door and commands need.</summary>
    public static IServiceCollection AddCareHubNotifications(this IServiceCollection services, IConfiguration configuration, StorageOptions storage)
    {
        var options = configuration.GetSection(NotificationOptions.SectionName).Get<NotificationOptions>() ?? new NotificationOptions();
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(new EndpointGuard(options));
        services.AddSingleton(_ => OpenStore(storage));
        services.AddSingleton<IWriteHook>(sp => new SubscriptionWriteHook(sp.GetRequiredService<INotificationStore>(), sp.GetRequiredService<IAccessPolicy>(),
            sp.GetRequiredService<EndpointGuard>(), options, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<NotificationEngine>();
        return services;
    }

    /// <summary>The engine as a change-feed consumer and the delivery workers, when notifications are enabled (after <see cref="AddCareHubNotifications"/>).</summary>
    public static IServiceCollection AddNotificationWorkers(this IServiceCollection services)
    {
        if (services.Select(d => d.ImplementationInstance).OfType<NotificationOptions>().SingleOrDefault() is not { Enabled: true })
        {
            return services;
        }

        services.AddSingleton<IChangeFeedConsumer>(sp => sp.GetRequiredService<NotificationEngine>());
        services.AddSingleton<NotificationDelivery>();
        services.AddHostedService<NotificationDeliveryService>();
        return services;
    }

    /// <summary>
    /// The demo's notification settings: endpoints on this machine's loopback addresses, over plain http, so a receiver
    /// started beside the demo can be subscribed. Real deployments keep https required and loopback refused.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> DemoSettings() =>
    [
        new($"{NotificationOptions.SectionName}:{nameof(NotificationOptions.RequireHttps)}", "false"),
        new($"{NotificationOptions.SectionName}:{nameof(NotificationOptions.AllowLoopback)}", "true"),
    ];

    /// <summary>Opens the notification store beside the record: its own SQLite file, or the record's PostgreSQL database and schema.</summary>
    public static INotificationStore OpenStore(StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Postgres is { } connectionString
            ? new PostgresNotificationStore(connectionString, storage.PostgresSchema)
            : new SqliteNotificationStore(Path.Combine(storage.DataDirectory, SqliteNotificationStore.FileName), storage.FullSync);
    }

    /// <summary>
    /// The <c>notifications</c> member of <c>/health</c>: counts by state, the deepest queue and longest lag, and the
    /// subscriptions that are not delivering (ids, states, queue depth, lag, failures, last error). No criteria, endpoints
    /// or patient data.
    /// </summary>
    public static async Task<object> HealthAsync(INotificationStore store, TimeProvider clock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(clock);
        var all = await store.StatusAsync(clock.GetUtcNow(), cancellationToken);
        return new
        {
            subscriptions = all.Count,
            byState = all.GroupBy(s => s.State, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            queued = all.Sum(s => s.QueueDepth),
            maxLagSeconds = all.Count == 0 ? 0 : all.Max(s => s.Lag.TotalSeconds),
            // The ones that need someone's attention first, at most 50.
            failing = all.Where(s => s.Failures > 0 || s.State is SubscriptionStates.Error or SubscriptionStates.Dead)
                .OrderByDescending(s => s.Lag).Take(50).Select(Status).ToList(),
        };
    }

    /// <summary>One subscription's delivery status as <c>/health</c> and the admin API show it.</summary>
    public static object Status(SubscriptionQueueStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new
        {
            id = status.Id,
            state = status.State,
            queueDepth = status.QueueDepth,
            lagSeconds = Math.Round(status.Lag.TotalSeconds, 1),
            failuresInARow = status.Failures,
            failingSince = status.FailingSince,
            lastError = status.LastError,
            lastDelivered = status.LastDelivered,
            eventsSinceStart = status.EventsSinceStart,
        };
    }
}

/// <summary>Runs the delivery workers with the host; their queues are stored, so a restart carries on from them.</summary>
public sealed class NotificationDeliveryService(NotificationDelivery delivery) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => delivery.RunAsync(stoppingToken);
}
