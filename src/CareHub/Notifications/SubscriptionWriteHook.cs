using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Notifications.Storage;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Notifications;

/// <summary>
/// Checks every Subscription a principal writes through the door (criteria, channel, endpoint, payload: refused with the
/// OperationOutcome naming the problem, nothing written), sets its status to <c>requested</c> (the engine activates it
/// after a handshake; R4 subscription.html, "status"), and registers the writer as the subscriber, so its notifications are
/// later matched and shaped as that principal. The engine's own status writes are recognised and change nothing.
/// </summary>
public sealed class SubscriptionWriteHook(INotificationStore store, IAccessPolicy policy, EndpointGuard guard, NotificationOptions options, TimeProvider clock)
    : IWriteHook
{
    public IEnumerable<TokenIndexRow> IndexRows(Resource resource) => [];

    public async Task BeforeWriteAsync(WriteHookContext write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (write.Type != "Subscription" || write.Internal || write.Request is not { } request || NotificationEngine.IsEngine(request.Principal)
            || write.Resource is not Subscription subscription)
        {
            return;
        }

        var checkedRequest = SubscriptionRequest.Read(subscription, guard, options);
        var principal = request.Principal;
        if (!policy.Decide(principal, FhirInteraction.Search, checkedRequest.ResourceType).Allowed)
        {
            throw new UnprocessableException($"Subscription.criteria searches {checkedRequest.ResourceType}, which you may not search, so nothing could ever match.",
                "Subscription.criteria");
        }

        if (checkedRequest.Payload == SubscriptionRequest.Payloads.FullResource && !policy.Decide(principal, FhirInteraction.Read, checkedRequest.ResourceType).Allowed)
        {
            throw new UnprocessableException($"Subscription.channel.payload asks for full {checkedRequest.ResourceType} resources, which you may not read; ask for id-only.",
                "Subscription.channel.payload");
        }

        if (subscription.Status != Subscription.SubscriptionStatus.Off)
        {
            subscription.Status = Subscription.SubscriptionStatus.Requested;
        }

        subscription.Error = null;
        var version = (write.Previous?.Version ?? 0) + 1;
        await store.RegisterSubscriberAsync(write.Id, version, SubscriberPrincipal.Serialize(principal), clock.GetUtcNow(), cancellationToken);
    }

    public Task AfterWriteAsync(WriteHookContext write, CancellationToken cancellationToken) => Task.CompletedTask;
}
