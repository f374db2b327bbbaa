using System.Collections.Concurrent;
using System.Net.Http.Headers;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Notifications.Storage;
using CareHub.Records;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Notifications;

/// <summary>
/// Delivers each subscription's queue on its own, in order: a node claims a subscription's queue (one node at a time),
/// sends its head, records the attempt, and goes on until the queue is empty or a delivery fails; a failure waits a
/// back-off (doubling from <see cref="NotificationOptions.RetryDelay"/> to <see cref="NotificationOptions.MaxRetryDelay"/>)
/// on that subscription only, so one slow or dead endpoint holds up no other. At most
/// <see cref="NotificationOptions.MaxConcurrentDeliveries"/> deliveries are in flight on a node.
/// </summary>
public sealed partial class NotificationDelivery : IDisposable
{
    /// <summary>The most notifications one claim delivers before it lets other subscriptions have the slot.</summary>
    private const int MaxPerClaim = 50;

    private readonly INotificationStore store;
    private readonly RecordService records;
    private readonly AuditTrail audit;
    private readonly NotificationOptions options;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly HttpClient http;
    private readonly SemaphoreSlim slots;
    private readonly ConcurrentDictionary<string, bool> inFlight = new(StringComparer.Ordinal);
    private readonly CareHub.Records.Feed.ChangeFeedWake wake;

    public NotificationDelivery(INotificationStore store, RecordService records, AuditTrail audit, EndpointGuard guard, NotificationOptions options, TimeProvider clock,
        ILogger<NotificationDelivery> logger, NotificationEngine engine)
    {
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        this.store = store;
        this.records = records;
        this.audit = audit;
        this.options = options;
        this.clock = clock;
        this.logger = logger;
        slots = new SemaphoreSlim(options.MaxConcurrentDeliveries, options.MaxConcurrentDeliveries);
        wake = engine.Queued;
        http = new HttpClient(new SocketsHttpHandler
        {
            // Every connection is made by the guard, which checks the address it resolves to.
            ConnectCallback = (context, cancellationToken) => guard.ConnectAsync(context.DnsEndPoint, cancellationToken),
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Looks for due queues and delivers them until <paramref name="stoppingToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var running = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var due = await store.DueSubscriptionsAsync(clock.GetUtcNow(), options.MaxConcurrentDeliveries * 4, stoppingToken);
                foreach (var id in due)
                {
                    if (!inFlight.TryAdd(id, true))
                    {
                        continue;
                    }

                    await slots.WaitAsync(stoppingToken);
                    running.Add(Task.Run(() => DrainAsync(id, stoppingToken), CancellationToken.None));
                }

                running.RemoveAll(t => t.IsCompleted);
                await wake.WaitAsync(options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogLoopFailed(logger, e);
                try
                {
                    await Task.Delay(options.PollInterval, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await Task.WhenAll(running);
    }

    /// <summary>Delivers one subscription's queue from its head while it succeeds (at most <see cref="MaxPerClaim"/>).</summary>
    private async Task DrainAsync(string id, CancellationToken stoppingToken)
    {
        try
        {
            await using var claim = await store.ClaimAsync(id, stoppingToken);
            if (claim is null)
            {
                return;
            }

            for (var i = 0; i < MaxPerClaim; i++)
            {
                var subscription = await store.GetSubscriptionAsync(id, stoppingToken);
                if (subscription is null || subscription.State == SubscriptionStates.Off || subscription.NextAttempt > clock.GetUtcNow())
                {
                    return;
                }

                // Read after the claim: what another node delivered before we claimed is no longer at the head.
                if (await store.HeadAsync(id, stoppingToken) is not { } head)
                {
                    return;
                }

                var result = await DeliverAsync(subscription, head, stoppingToken);
                await store.CompleteAsync(head, result, stoppingToken);
                if (result.State != subscription.State)
                {
                    await ReportStateAsync(subscription, result, stoppingToken);
                }

                if (!result.Delivered)
                {
                    return;
                }
            }

            // More may be queued: look again at once rather than after the poll interval.
            wake.Signal();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LogDrainFailed(logger, e, id);
        }
        finally
        {
            inFlight.TryRemove(id, out _);
            slots.Release();
        }
    }

    /// <summary>Sends one notification and answers the subscription's state after it.</summary>
    private async Task<DeliveryResult> DeliverAsync(NotificationSubscription subscription, QueuedNotification head, CancellationToken stoppingToken)
    {
        var settings = subscription.Settings;
        var context = NotificationEngine.SubscriberContext(settings, $"notify-{settings.Id}-{head.Seq}");
        HttpRequestMessage request;
        string? disclosed = null;
        if (head.Kind == NotificationKinds.Handshake)
        {
            request = new HttpRequestMessage(HttpMethod.Post, settings.Endpoint);
        }
        else
        {
            var shaped = await ShapeAsync(context, settings, head, stoppingToken);
            if (shaped is null)
            {
                // The subscriber may no longer see the resource: nothing is sent, not even that something changed.
                return Succeeded(null, Withheld);
            }

            request = shaped;
            disclosed = $"{head.ResourceType}/{head.ResourceId}/_history/{head.ResourceVersion}";
        }

        foreach (var header in settings.Headers)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            request.Headers.TryAddWithoutValidation(header[..colon].Trim(), header[(colon + 1)..].Trim());
        }

        if (head.EventNumber is { } number)
        {
            request.Headers.TryAddWithoutValidation("X-CareHub-Event-Number", number.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        int? status = null;
        string? error = null;
        using (request)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
        {
            timeout.CancelAfter(options.Timeout);
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                status = (int)response.StatusCode;
                if (!response.IsSuccessStatusCode)
                {
                    error = $"the endpoint answered HTTP {status}";
                }
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                error = $"no answer within {options.Timeout.TotalSeconds:0.#} s";
            }
            catch (HttpRequestException e)
            {
                error = e.InnerException is EndpointRefusedException refused ? "refused: " + refused.Message : "could not connect (" + (e.HttpRequestError.ToString()) + ")";
            }
        }

        if (disclosed is not null)
        {
            audit.Record(context, new AuditFacts("notify", AuditEvent.AuditEventAction.E, head.ResourceType, [disclosed], [], error is null, error));
        }

        return error is null ? Succeeded(status, null) : Failed(subscription, status, error);
    }

    /// <summary>
    /// The request carrying an event as the subscriber may have it: re-read as the subscriber (so access that ended since
    /// the match stops it), the resource itself for full-resource (R4: a PUT to [endpoint]/[type]/[id]), a history Bundle
    /// naming it for id-only, no body for none. Null when the subscriber may no longer see it.
    /// </summary>
    private async Task<HttpRequestMessage?> ShapeAsync(RequestContext context, SubscriptionSettings settings, QueuedNotification head, CancellationToken cancellationToken)
    {
        var type = head.ResourceType!;
        var id = head.ResourceId!;
        Resource? resource = null;
        try
        {
            resource = (await records.ReadAsync(context, type, id, head.ResourceVersion, cancellationToken)).ToResource();
        }
        catch (FhirException)
        {
            // Not readable as the subscriber (a search-only scope, or access ended): still visible to its search?
            var visible = await records.VisibleIdsAsync(context, type, [id], FhirInteraction.Search, cancellationToken);
            if (!visible.Contains(id))
            {
                return null;
            }
        }

        if (settings.Payload == SubscriptionRequest.Payloads.FullResource && resource is not null)
        {
            return new HttpRequestMessage(HttpMethod.Put, settings.Endpoint.TrimEnd('/') + $"/{type}/{id}") { Content = FhirContent(resource) };
        }

        if (settings.Payload == SubscriptionRequest.Payloads.None)
        {
            return new HttpRequestMessage(HttpMethod.Post, settings.Endpoint);
        }

        var bundle = new Bundle
        {
            Type = Bundle.BundleType.History,
            Timestamp = clock.GetUtcNow(),
            Entry =
            [
                new Bundle.EntryComponent
                {
                    FullUrl = $"{type}/{id}/_history/{head.ResourceVersion}",
                    // As a history Bundle records the interaction (R4 bundle.html, history): a create POSTs to the type.
                    Request = head.ResourceVersion == 1
                        ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = type }
                        : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{type}/{id}" },
                },
            ],
        };
        return new HttpRequestMessage(HttpMethod.Post, settings.Endpoint) { Content = FhirContent(bundle) };
    }

    private static ByteArrayContent FhirContent(Resource resource)
    {
        var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(FhirSerialization.ToJson(resource)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json") { CharSet = "utf-8" };
        return content;
    }

    /// <summary>The note on an event not sent because the subscriber may no longer see its resource.</summary>
    public const string Withheld = "withheld: the subscriber may no longer see the resource";

    private DeliveryResult Succeeded(int? status, string? note)
    {
        var now = clock.GetUtcNow();
        return new DeliveryResult(true, status, note, SubscriptionStates.Active, 0, null, now, now);
    }

    private DeliveryResult Failed(NotificationSubscription subscription, int? status, string error)
    {
        var now = clock.GetUtcNow();
        var failures = subscription.Failures + 1;
        var since = subscription.FailingSince ?? now;
        var doublings = Math.Min(failures - 1, 30);
        var wait = TimeSpan.FromTicks((long)Math.Min(options.RetryDelay.Ticks * Math.Pow(2, doublings), options.MaxRetryDelay.Ticks));
        var state = now - since >= options.DeadAfter ? SubscriptionStates.Dead : SubscriptionStates.Error;
        return new DeliveryResult(false, status, error, state, failures, since, now + wait, now);
    }

    /// <summary>
    /// Shows a change of state on the Subscription resource (R4 <c>status</c> and <c>error</c>), written through the door
    /// as the engine, only over the subscriber's own version or the engine's last status write.
    /// </summary>
    private async Task ReportStateAsync(NotificationSubscription subscription, DeliveryResult result, CancellationToken cancellationToken)
    {
        var id = subscription.Settings.Id;
        var context = NotificationEngine.EngineContext("notify-status-" + id);
        try
        {
            var current = (await records.ReadAsync(context, "Subscription", id, null, cancellationToken)).ToResource() as Subscription;
            var version = int.Parse(current?.Meta?.VersionId ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            if (current is null || (version != subscription.Settings.Version && await store.GetSubscriberAsync(id, version, cancellationToken) is not null))
            {
                return;
            }

            (current.Status, current.Error) = result.State switch
            {
                SubscriptionStates.Active => (Subscription.SubscriptionStatus.Active, (string?)null),
                SubscriptionStates.Dead => (Subscription.SubscriptionStatus.Error,
                    $"Dead: failing since {result.FailingSince:u} ({result.Failures} attempts); last error: {result.Error}. Still retried every {options.MaxRetryDelay}; notifications are kept and sent in order when it answers."),
                _ => (Subscription.SubscriptionStatus.Error, $"Failing since {result.FailingSince:u} ({result.Failures} attempts); last error: {result.Error}. Retried with back-off."),
            };
            await records.UpdateAsync(context, "Subscription", id, current, version, cancellationToken);
        }
        catch (FhirException e)
        {
            // A subscriber's write got there first (a conflict) or the Subscription is gone: its own change decides.
            LogStateNotShown(logger, id, (int)FhirStatus.Of(e));
        }
    }

    public void Dispose()
    {
        http.Dispose();
        slots.Dispose();
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Error, Message = "Notification delivery: looking for due queues failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Error, Message = "Notification delivery for Subscription/{Id} failed; it is tried again at its next attempt")]
    private static partial void LogDrainFailed(ILogger logger, Exception exception, string id);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning, Message = "Subscription/{Id}: its delivery state could not be shown on the resource (status {Status})")]
    private static partial void LogStateNotShown(ILogger logger, string id, int status);
}
