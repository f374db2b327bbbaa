using CareHub.Messaging.Destinations;
using CareHub.Messaging.Storage;
using CareHub.Records.Feed;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Messaging;

public sealed partial class MessageBroker
{
    private static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs the background work until <paramref name="stoppingToken"/> fires: one delivery worker per destination, the
    /// retention purge and watched folders (change-feed channels are read by the <see cref="ChangeFeedReader"/>, through
    /// <see cref="FeedConsumers"/>). Each loop catches and logs its own failures and
    /// carries on after a pause, so one broken destination or database hiccup stops nothing else.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await RefreshPausedAsync(stoppingToken);
        var loops = new List<Task>
        {
            Forever("purge", options.PurgeInterval, PurgeOnceAsync, stoppingToken),
            Forever("pause flags", options.PollInterval, RefreshPausedAsync, stoppingToken),
        };
        foreach (var channel in channels.Values.Where(c => c.Options.Enabled))
        {
            loops.AddRange(channel.Routes.Select(route => DeliverLoopAsync(route, stoppingToken)));
            if (channel.Options.Source.Type == "folder")
            {
                loops.Add(Forever("folder " + channel.Options.Name, channel.Options.Source.PollInterval, ct => ReadFolderOnceAsync(channel, ct), stoppingToken));
            }
        }

        await Task.WhenAll(loops);
    }

    private async Task Forever(string name, TimeSpan interval, Func<CancellationToken, Task> once, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await once(stoppingToken);
                await Task.Delay(interval, clock, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogLoopFailed(logger, e, name);
                await Pause(FailureBackoff, stoppingToken);
            }
        }
    }

    private async Task Pause(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, clock, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RefreshPausedAsync(CancellationToken cancellationToken)
    {
        foreach (var channel in channels.Values)
        {
            var paused = await store.IsPausedAsync(channel.Options.Name, cancellationToken);
            if (channel.Paused != paused)
            {
                channel.Paused = paused;
                channel.Wake();
            }
        }
    }

    private async Task PurgeOnceAsync(CancellationToken cancellationToken)
    {
        var removed = await store.PurgeAsync(clock.GetUtcNow() - options.Retention, cancellationToken);
        if (removed > 0)
        {
            LogPurged(logger, removed, options.Retention);
        }
    }

    // ---- deliveries ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Delivers one destination's queue, each patient's messages in order (the store's partitions). A failing message is
    /// retried with exponential backoff and holds up only its own patient's later messages; after the destination's
    /// MaxAttempts, or at once on a rejection, it goes to dead-letter (the work queue), where it keeps holding its patient
    /// up until it is reprocessed or set aside. Other patients' messages flow past it throughout.
    /// </summary>
    private async Task DeliverLoopAsync(Route route, CancellationToken stoppingToken)
    {
        var channel = route.Channel;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Taken before looking, so a message queued while we look still wakes the wait below.
                var woken = channel.WhenWoken;
                if (channel.Paused)
                {
                    await WaitAsync(woken, options.PollInterval, stoppingToken);
                    continue;
                }

                var now = clock.GetUtcNow();
                var result = await store.ClaimNextAsync(channel.Options.Name, route.Options.EffectiveName, now, stoppingToken);
                if (result.Claim is { } claim)
                {
                    await DeliverOneAsync(route, claim, stoppingToken);
                    continue;
                }

                var wait = result.NextDue is { } due && due - now < options.PollInterval ? due - now : options.PollInterval;
                await WaitAsync(woken, wait, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogLoopFailed(logger, e, $"deliveries {channel.Options.Name}/{route.Options.EffectiveName}");
                await Pause(FailureBackoff, stoppingToken);
            }
            finally
            {
                Interlocked.Increment(ref route.Cycles);
            }
        }
    }

    private async Task WaitAsync(Task woken, TimeSpan timeout, CancellationToken stoppingToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await woken.WaitAsync(timeout, clock, stoppingToken);
        }
        catch (TimeoutException)
        {
        }
    }

    private async Task DeliverOneAsync(Route route, DeliveryClaim claim, CancellationToken stoppingToken)
    {
        try
        {
            DeliveryResult result;
            try
            {
                result = await route.Destination.DeliverAsync(claim, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogDestinationFailed(logger, e, claim.Message.Channel, claim.Destination, claim.Message.Id);
                result = DeliveryResult.Retry($"{e.GetType().Name}: {e.Message}");
            }

            var now = clock.GetUtcNow();
            var max = route.Options.MaxAttempts;
            DeliveryOutcome outcome;
            if (result.Sent)
            {
                outcome = new DeliveryOutcome(DeliveryStates.Sent, now, null, null, result.Response);
            }
            else if (result.Permanent || claim.Attempt >= max)
            {
                outcome = new DeliveryOutcome(DeliveryStates.DeadLetter, now, null, result.Error, result.Response);
                LogDeadLetter(logger, claim.Message.Channel, claim.Destination, claim.Message.Id, claim.Attempt, result.Error ?? "");
            }
            else
            {
                var next = now + route.Options.Backoff(claim.Attempt);
                outcome = new DeliveryOutcome(DeliveryStates.Error, now, next, result.Error, result.Response);
                LogRetry(logger, claim.Message.Channel, claim.Destination, claim.Message.Id, claim.Attempt, next, result.Error ?? "");
            }

            // Not cancellable: the outcome happened, and recording it now saves a needless repeat after a restart.
            await store.CompleteAsync(claim, outcome, CancellationToken.None);
        }
        finally
        {
            await claim.DisposeAsync();
        }
    }

    // ---- watched folders -----------------------------------------------------------------------------------------

    /// <summary>
    /// Takes every file matching the pattern, oldest name first, through intake, then moves it to <c>processed/</c>
    /// (accepted) or <c>error/</c>. A file is moved only after its message is stored, so a crash in between at worst reads
    /// it again, and the resend is answered from the store rather than processed twice. Nothing here can tell a finished
    /// file from one still being written: writers must write under another name (or elsewhere) and rename the file in,
    /// or hold it open exclusively while writing. A file that cannot be opened (its writer holds it) is left for the
    /// next pass and does not hold up the files after it.
    /// </summary>
    private async Task ReadFolderOnceAsync(Channel channel, CancellationToken cancellationToken)
    {
        try
        {
            var source = channel.Options.Source;
            var folder = source.Path!;
            if (!Directory.Exists(folder))
            {
                Directory.CreateDirectory(folder);
            }

            foreach (var file in Directory.EnumerateFiles(folder, source.Pattern, SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal).ToList())
            {
                var name = Path.GetFileName(file);
                byte[]? bytes = null;
                long length;
                try
                {
                    length = new FileInfo(file).Length;
                    if (length <= source.MaxMessageBytes)
                    {
                        bytes = await File.ReadAllBytesAsync(file, cancellationToken);
                    }
                }
                catch (IOException e)
                {
                    // Held exclusively by its writer (a sharing violation), or gone since the listing: not ours yet.
                    LogFileBusy(logger, channel.Options.Name, name, e.Message);
                    continue;
                }

                string outcome;
                if (bytes is null)
                {
                    LogFileTooLarge(logger, channel.Options.Name, name, length);
                    outcome = "error";
                }
                else
                {
                    var result = await ReceiveAsync(channel.Options.Name, bytes, "file:" + name, cancellationToken);
                    outcome = result.Accepted ? "processed" : "error";
                }

                var target = Path.Combine(folder, outcome);
                Directory.CreateDirectory(target);
                File.Move(file, Path.Combine(target, name), overwrite: true);
            }
        }
        finally
        {
            Interlocked.Increment(ref channel.FolderPasses);
        }
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "Messaging loop {Loop} failed; it carries on after a pause")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string loop);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Channel {Channel}: destination {Destination} threw while delivering message {MessageId}")]
    private static partial void LogDestinationFailed(ILogger logger, Exception exception, string channel, string destination, long messageId);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Channel {Channel}: message {MessageId} to {Destination} dead-lettered after {Attempts} attempt(s): {Error}")]
    private static partial void LogDeadLetter(ILogger logger, string channel, string destination, long messageId, int attempts, string error);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information, Message = "Channel {Channel}: message {MessageId} to {Destination} failed attempt {Attempt}, next at {Next:O}: {Error}")]
    private static partial void LogRetry(ILogger logger, string channel, string destination, long messageId, int attempt, DateTimeOffset next, string error);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Purged {Count} messages older than {Retention}")]
    private static partial void LogPurged(ILogger logger, int count, TimeSpan retention);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, Message = "Channel {Channel}: file {File} of {Length} bytes is over the size limit; moved to error/")]
    private static partial void LogFileTooLarge(ILogger logger, string channel, string file, long length);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Debug, Message = "Channel {Channel}: file {File} cannot be opened yet ({Reason}); left for the next pass")]
    private static partial void LogFileBusy(ILogger logger, string channel, string file, string reason);
}
