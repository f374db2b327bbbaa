using System.Globalization;
using CareHub.Notifications;
using CareHub.Notifications.Storage;
using CareHub.Server.Security;

namespace CareHub.Server.Notifications;

/// <summary>
/// The notification admin API under <c>/admin/notifications</c> (permission <c>carehub/admin</c>): every subscription's
/// delivery status, one subscription's settings, its delivery log and attempts, and redelivery from an event number.
/// Subscribers see their own Subscription's status and error on the resource itself, through the FHIR API.
/// </summary>
public static class NotificationsApi
{
    public static IEndpointRouteBuilder MapNotificationsApi(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin/notifications").RequireAuthorization(Permissions.Admin);
        admin.MapGet("/subscriptions", ListAsync);
        admin.MapGet("/subscriptions/{id}", GetAsync);
        admin.MapGet("/subscriptions/{id}/notifications", NotificationsAsync);
        admin.MapGet("/subscriptions/{id}/attempts", AttemptsAsync);
        admin.MapPost("/subscriptions/{id}/redeliver", RedeliverAsync);
        return endpoints;
    }

    private static IResult NotFound(string id) =>
        Results.Json(new CareHubAuthorizationResultHandler.ErrorBody($"No subscription '{id}' is known to the notification engine."), statusCode: StatusCodes.Status404NotFound);

    private static async Task<IResult> ListAsync(INotificationStore store, TimeProvider clock, CancellationToken cancellationToken) =>
        Results.Json((await store.StatusAsync(clock.GetUtcNow(), cancellationToken)).Select(NotificationServices.Status));

    private static async Task<IResult> GetAsync(string id, INotificationStore store, TimeProvider clock, CancellationToken cancellationToken)
    {
        var subscription = await store.GetSubscriptionAsync(id, cancellationToken);
        var status = (await store.StatusAsync(clock.GetUtcNow(), cancellationToken)).FirstOrDefault(s => s.Id == id);
        if (subscription is null || status is null)
        {
            return NotFound(id);
        }

        var s = subscription.Settings;
        var principal = SubscriberPrincipal.Deserialize(s.Principal);
        // Header values may hold the endpoint's credentials: only their names are shown.
        return Results.Json(new
        {
            status = NotificationServices.Status(status),
            version = s.Version,
            criteria = s.Criteria,
            endpoint = s.Endpoint,
            headers = s.Headers.Select(h => h[..h.IndexOf(':', StringComparison.Ordinal)].Trim()),
            payload = s.Payload,
            subscriber = new { kind = principal.Kind.ToString(), principal.ClientId, principal.Subject, principal.Organisation, principal.Role },
            nextAttempt = subscription.NextAttempt,
        });
    }

    private static async Task<IResult> NotificationsAsync(string id, int? count, INotificationStore store, CancellationToken cancellationToken) =>
        Results.Json(await store.NotificationsAsync(id, count ?? 100, cancellationToken));

    private static async Task<IResult> AttemptsAsync(string id, int? count, INotificationStore store, CancellationToken cancellationToken) =>
        Results.Json(await store.AttemptsAsync(id, count ?? 100, cancellationToken));

    private static async Task<IResult> RedeliverAsync(string id, string? from, INotificationStore store, NotificationEngine engine, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        if (!long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
        {
            return Results.Json(new CareHubAuthorizationResultHandler.ErrorBody("Give the first event number to deliver again: ?from=N (1 or more)."),
                statusCode: StatusCodes.Status400BadRequest);
        }

        if (await store.GetSubscriptionAsync(id, cancellationToken) is null)
        {
            return NotFound(id);
        }

        var queued = await store.RedeliverAsync(id, number, clock.GetUtcNow(), cancellationToken);
        engine.Queued.Signal();
        return Results.Json(new { subscription = id, from = number, queued });
    }
}
