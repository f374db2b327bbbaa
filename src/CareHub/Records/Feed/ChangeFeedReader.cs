using System.Diagnostics;
using System.Diagnostics.Metrics;
using CareHub.Storage;
using Microsoft.Extensions.Logging;

namespace CareHub.Records.Feed;

/// <summary>
/// Reads the record's change feed for every downstream consumer (docs/architecture.md, "The change feed"): each consumer
/// runs in a loop of its own that reads a batch after the consumer's position and hands it over; the consumer does the
/// work and moves its position with it. So every event is handed over at least once and in order, per consumer; one that
/// fails is handed the same batch again after a back-off (<see cref="ChangeFeedBackoff"/>), and never holds up the others.
/// Each consumer's status is kept for <c>/health</c> and published as metrics on the <c>CareHub</c> meter.
/// </summary>
public sealed partial class ChangeFeedReader : IDisposable
{
    /// <summary>The meter the feed's metrics are published on.</summary>
    public const string MeterName = "CareHub";

    private readonly IChangeFeed feed;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly ChangeFeedBackoff backoff;
    private readonly List<Reading> readings;
    private readonly Meter meter = new(MeterName);
    private readonly Counter<long> failures;

    public ChangeFeedReader(IChangeFeed feed, IEnumerable<IChangeFeedConsumer> consumers, TimeProvider clock, ILogger<ChangeFeedReader> logger,
        ChangeFeedBackoff? backoff = null)
    {
        this.feed = feed;
        this.clock = clock;
        this.logger = logger;
        this.backoff = backoff ?? ChangeFeedBackoff.Default;
        readings = [];
        foreach (var consumer in consumers)
        {
            if (readings.Any(r => string.Equals(r.Consumer.Name, consumer.Name, StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"Two change-feed consumers are named '{consumer.Name}'.");
            }

            readings.Add(new Reading(consumer));
        }

        meter.CreateObservableGauge("carehub.feed.lag", () => readings.Select(r => new Measurement<long>(r.Snapshot().Lag, Tag(r))),
            "{event}", "Change events committed after a consumer's position.");
        failures = meter.CreateCounter<long>("carehub.feed.failures", "{failure}", "Batches a change-feed consumer failed to handle.");
    }

    /// <summary>Every consumer's status, in the order they were given.</summary>
    public IReadOnlyList<ChangeFeedStatus> Status => readings.Select(r => r.Snapshot()).ToList();

    /// <summary>Runs every consumer until <paramref name="stoppingToken"/> fires; each one's failures are its own.</summary>
    public Task RunAsync(CancellationToken stoppingToken) => Task.WhenAll(readings.Select(r => Task.Run(() => LoopAsync(r, stoppingToken), CancellationToken.None)));

    public void Dispose() => meter.Dispose();

    private async Task LoopAsync(Reading reading, CancellationToken stoppingToken)
    {
        var consumer = reading.Consumer;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var progress = await PassAsync(reading, stoppingToken);
                if (!progress.More)
                {
                    await consumer.Wake.WaitAsync(consumer.Idle, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                var count = reading.Failed(e, clock.GetUtcNow());
                failures.Add(1, Tag(reading));
                var wait = backoff.After(count);
                LogFailed(logger, e, consumer.Name, count, wait);
                await LagAfterFailureAsync(reading, stoppingToken);
                try
                {
                    // A wake-up does not cut a back-off short: the store or the work that failed needs the time.
                    await Task.Delay(wait, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        reading.Stopped();
    }

    /// <summary>Reads one batch after the consumer's position and hands it over; the consumer's exceptions reach the caller.</summary>
    private async Task<FeedProgress> PassAsync(Reading reading, CancellationToken cancellationToken)
    {
        var consumer = reading.Consumer;
        reading.PassBegun();
        var from = await consumer.PositionAsync(cancellationToken);
        var events = await feed.ReadChangesAsync(from, consumer.BatchSize, cancellationToken);
        if (events.Count == 0)
        {
            reading.Succeeded(clock.GetUtcNow(), from, new FeedLag(from, 0));
            return new FeedProgress(from, false);
        }

        var progress = await consumer.HandleAsync(new ChangeBatch(from, events), cancellationToken);
        // Read to the end and all taken: nothing after it (as of the read); otherwise count what is left.
        var lag = events.Count < consumer.BatchSize && progress.Position >= events[^1].Position
            ? new FeedLag(events[^1].Position, 0)
            : await feed.LagAsync(progress.Position, cancellationToken);
        reading.Succeeded(clock.GetUtcNow(), progress.Position, lag);
        return progress;
    }

    private async Task LagAfterFailureAsync(Reading reading, CancellationToken stoppingToken)
    {
        try
        {
            var position = await reading.Consumer.PositionAsync(stoppingToken);
            reading.Measured(position, await feed.LagAsync(position, stoppingToken));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store itself is what failed: the status keeps the last figures it had, with this failure.
            LogLagUnknown(logger, reading.Consumer.Name, e.GetType().Name);
        }
        catch (OperationCanceledException)
        {
            // Stopping, or the read timed out: the back-off that follows decides which.
        }
    }

    private static KeyValuePair<string, object?> Tag(Reading reading) => new("consumer", reading.Consumer.Name);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Error, Message = "Change-feed consumer {Consumer} failed ({Failures} in a row); it is handed the same events again in {Wait}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string consumer, int failures, TimeSpan wait);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Change-feed consumer {Consumer}: its lag could not be read after a failure ({Error})")]
    private static partial void LogLagUnknown(ILogger logger, string consumer, string error);

    /// <summary>One consumer and its status, updated by its loop and read by <c>/health</c> and the metrics.</summary>
    private sealed class Reading(IChangeFeedConsumer consumer)
    {
        private readonly Lock gate = new();
        private ChangeFeedStatus status = new(consumer.Name, ChangeFeedState.Starting, 0, 0, 0, null, null, null, 0);

        public IChangeFeedConsumer Consumer => consumer;

        public ChangeFeedStatus Snapshot()
        {
            lock (gate)
            {
                return status;
            }
        }

        public void PassBegun() => Update(s => s.State is ChangeFeedState.Starting or ChangeFeedState.BackingOff ? s : s with { State = ChangeFeedState.Reading });

        public void Succeeded(DateTimeOffset now, long position, FeedLag lag) => Update(s => s with
        {
            State = lag.Events == 0 ? ChangeFeedState.CaughtUp : ChangeFeedState.Reading,
            Position = position,
            FeedEnd = Math.Max(lag.End, position),
            Lag = lag.Events,
            LastSuccess = now,
            ConsecutiveFailures = 0,
        });

        public int Failed(Exception exception, DateTimeOffset now)
        {
            lock (gate)
            {
                // The type only: a message may quote what the consumer was working on, and status is shown without authentication.
                status = status with
                {
                    State = ChangeFeedState.BackingOff,
                    LastError = exception.GetType().Name,
                    LastErrorAt = now,
                    ConsecutiveFailures = status.ConsecutiveFailures + 1,
                };
                return status.ConsecutiveFailures;
            }
        }

        public void Measured(long position, FeedLag lag) => Update(s => s with { Position = position, FeedEnd = Math.Max(lag.End, position), Lag = lag.Events });

        public void Stopped() => Update(s => s with { State = ChangeFeedState.Stopped });

        private void Update(Func<ChangeFeedStatus, ChangeFeedStatus> change)
        {
            lock (gate)
            {
                status = change(status);
            }
        }
    }
}

/// <summary>How long a consumer waits after a failure: <see cref="First"/>, doubled on each failure in a row, never more than <see cref="Max"/>.</summary>
public sealed record ChangeFeedBackoff(TimeSpan First, TimeSpan Max)
{
    public static ChangeFeedBackoff Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));

    /// <summary>The wait after the <paramref name="failures"/>th failure in a row (1 for the first).</summary>
    public TimeSpan After(int failures)
    {
        var doublings = Math.Min(Math.Max(failures - 1, 0), 30);
        var ticks = First.Ticks * Math.Pow(2, doublings);
        return ticks >= Max.Ticks ? Max : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>What a consumer's loop is doing.</summary>
public enum ChangeFeedState
{
    /// <summary>Not yet through its first batch.</summary>
    Starting,

    /// <summary>Handing over events, with more behind them.</summary>
    Reading,

    /// <summary>Read to the end of the feed; waiting for writes.</summary>
    CaughtUp,

    /// <summary>Its last batch failed; waiting before it is handed the same events again.</summary>
    BackingOff,

    /// <summary>The reader was stopped.</summary>
    Stopped,
}

/// <summary>
/// One consumer's place in the change feed: its <see cref="Position"/>, the feed's end and the events between them
/// (<see cref="Lag"/>) as last measured, when it last handled a batch, and its last failure (the exception's type, when).
/// </summary>
[DebuggerDisplay("{Name}: {State} at {Position}, lag {Lag}")]
public sealed record ChangeFeedStatus(
    string Name,
    ChangeFeedState State,
    long Position,
    long FeedEnd,
    long Lag,
    DateTimeOffset? LastSuccess,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int ConsecutiveFailures);
