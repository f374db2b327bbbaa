using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// Notifications are matched and shaped as their subscriber: a GP (gp.smith, practice A81001) hears only of patients the
/// policy lets them see, stops hearing of a patient whose relationship ends, and a client that may search but not read
/// gets pointers, never content. Each test ends on a notification it must receive (a sentinel written after the one it
/// must not), so "nothing arrived" is known, not waited for: delivery is in commit order.
/// </summary>
public sealed class NotificationGovernanceTests : ServerWithReceiver
{
    private const string Gp = "gp.smith";

    [Fact]
    public async Task a_gp_subscribed_to_a_patient_without_a_relationship_is_sent_nothing()
    {
        var unrelated = await Server.PatientAsync(NotificationServer.OtherPractice);
        var related = await Server.PatientAsync(NotificationServer.Practice);
        await using var sentinel = await TestReceiver.StartAsync();
        var hidden = await Server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{unrelated}", Receiver.Url, "application/fhir+json", "id-only"));
        await Server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{related}", sentinel.Url, "application/fhir+json", "id-only"));

        await Server.ObservationAsync(unrelated);
        await Server.ObservationAsync(related);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(sentinel.Events.Count == 1), "the sentinel's notification");

        Assert.Empty(Receiver.Events);
        Assert.All((await Server.LogAsync(hidden)).EnumerateArray(), n => Assert.Equal("handshake", n.GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task a_generic_subscription_hears_only_of_the_gps_own_patients()
    {
        var unrelated = await Server.PatientAsync(NotificationServer.OtherPractice);
        var related = await Server.PatientAsync(NotificationServer.Practice);
        await Server.SubscribeAsync(Gp, NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", Receiver.Url, "application/fhir+json", "full-resource"));

        await Server.ObservationAsync(unrelated);
        var seen = await Server.ObservationAsync(related);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1), "the related patient's notification");

        var only = Assert.Single(Receiver.Events);
        Assert.Equal($"/hook/Observation/{seen}", only.Path);
        Assert.Equal(1, only.EventNumber);
    }

    [Fact]
    public async Task a_subscriber_whose_relationship_ends_stops_hearing_of_that_patient()
    {
        var leaving = await Server.PatientAsync(NotificationServer.Practice);
        var staying = await Server.PatientAsync(NotificationServer.Practice);
        await Server.SubscribeAsync(Gp, NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", Receiver.Url, "application/fhir+json", "id-only"));
        var before = await Server.ObservationAsync(leaving);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1), "the first notification");

        // The patient registers with another practice: gp.smith's relationship ends.
        await Server.PutAsync("system", "Patient/" + leaving,
            $$$"""{"resourceType":"Patient","id":"{{{leaving}}}","name":[{"family":"Test","given":["Notify"]}],"generalPractitioner":[{"reference":"Organization/{{{NotificationServer.OtherPractice}}}"}]}""");
        await Server.ObservationAsync(leaving);
        var sentinel = await Server.ObservationAsync(staying);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 2), "the sentinel");

        Assert.Equal([before, sentinel], Receiver.Events.Select(e => e.ResourceId));
        Assert.Equal([1L, 2], Receiver.Events.Select(e => e.EventNumber!.Value));
    }

    [Fact]
    public async Task a_client_that_may_search_but_not_read_is_refused_full_resources_and_gets_pointers()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);

        var (refused, outcome) = await Server.SendAsync(NotificationServer.SearchOnlyClient, HttpMethod.Post, "/fhir/Subscription",
            NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json"));
        await Server.SubscribeAsync(NotificationServer.SearchOnlyClient,
            NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        var observation = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1), "the pointer");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Contains("may not read", outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString(), StringComparison.Ordinal);
        Assert.Equal(observation, Receiver.Events.Single().ResourceId);
        Assert.DoesNotContain("valueQuantity", Receiver.Events.Single().Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task each_delivery_is_audited_as_the_subscriber()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await Server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        var observation = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1), "the notification");

        JsonElement audit = default;
        await NotificationServer.EventuallyAsync(async () =>
        {
            var (_, bundle) = await Server.SendAsync("system", HttpMethod.Get, $"/fhir/AuditEvent?subtype=notify&entity=Observation/{observation}");
            if (!bundle.TryGetProperty("entry", out var entries) || entries.GetArrayLength() == 0)
            {
                return false;
            }

            audit = entries[0].GetProperty("resource");
            return true;
        }, "the delivery's AuditEvent");

        Assert.Contains(audit.GetProperty("agent").EnumerateArray(), a => a.GetRawText().Contains("A81001", StringComparison.Ordinal));
        Assert.Equal("0", audit.GetProperty("outcome").GetString());
    }
}
