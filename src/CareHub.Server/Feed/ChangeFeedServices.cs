using CareHub.Messaging;
using CareHub.Records.Feed;
using CareHub.Storage;

namespace CareHub.Server.Feed;

/// <summary>
/// The change-feed reader with the host: every registered <see cref="IChangeFeedConsumer"/> (queued matching when it is
/// on) and the broker's change-feed channels, run until the host stops, and their status for <c>/health</c>.
/// </summary>
public static class ChangeFeedServices
{
    public static IServiceCollection AddChangeFeed(this IServiceCollection services)
    {
        services.AddSingleton(sp => new ChangeFeedReader(
            sp.GetRequiredService<IChangeFeed>(),
            [.. sp.GetServices<IChangeFeedConsumer>(), .. sp.GetRequiredService<MessageBroker>().FeedConsumers],
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ChangeFeedReader>>()));
        services.AddHostedService<ChangeFeedService>();
        return services;
    }

    /// <summary>
    /// The <c>feeds</c> member of <c>/health</c>: each consumer's position, lag and failures. Names, positions and counts
    /// only (a failure shows its exception type, not its message), so it holds no patient data.
    /// </summary>
    public static object Health(ChangeFeedReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.Status.Select(s => new
        {
            name = s.Name,
            state = s.State.ToString(),
            position = s.Position,
            feedEnd = s.FeedEnd,
            lag = s.Lag,
            lastSuccess = s.LastSuccess,
            lastError = s.LastError,
            lastErrorAt = s.LastErrorAt,
            consecutiveFailures = s.ConsecutiveFailures,
        }).ToList();
    }
}

/// <summary>Runs the change-feed reader with the host; its consumers' positions are stored, so a restart carries on from them.</summary>
public sealed class ChangeFeedService(ChangeFeedReader reader) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => reader.RunAsync(stoppingToken);
}
