using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// Notifications are matched and shaped as their subscriber: a GP (gp.smith, practice A81001) hears only of patients the
/// policy lets them see, stops hearing of a patient whose relationship ends, and a client that may search but not read
/// gets pointers, never content. Each test ends on a notification it must receive (a sentinel written after the one it
/// must not), so "nothing arrived" is known, not waited for: delivery is in commit order.
/// </summary>
public sealed class NotificationGovernanceTests : IAsyncLifetime
{
    private const string Gp = "gp.smith";
    private NotificationServer server = null!;
    private TestReceiver receiver = null!;

    public async ValueTask InitializeAsync()
    {
        server = await NotificationServer.StartAsync();
        receiver = await TestReceiver.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await receiver.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task a_gp_subscribed_to_a_patient_without_a_relationship_is_sent_nothing()
    {
        var unrelated = await server.PatientAsync(NotificationServer.OtherPractice);
        var related = await server.PatientAsync(NotificationServer.Practice);
        await using var sentinel = await TestReceiver.StartAsync();
        var hidden = await server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{unrelated}", receiver.Url, "application/fhir+json", "id-only"));
        await server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{related}", sentinel.Url, "application/fhir+json", "id-only"));

        await server.ObservationAsync(unrelated);
        await server.ObservationAsync(related);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(sentinel.Events.Count == 1), "the sentinel's notification");

        Assert.Empty(receiver.Events);
        Assert.All((await server.LogAsync(hidden)).EnumerateArray(), n => Assert.Equal("handshake", n.GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task a_generic_subscription_hears_only_of_the_gps_own_patients()
    {
        var unrelated = await server.PatientAsync(NotificationServer.OtherPractice);
        var related = await server.PatientAsync(NotificationServer.Practice);
        await server.SubscribeAsync(Gp, NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", receiver.Url, "application/fhir+json", "full-resource"));

        await server.ObservationAsync(unrelated);
        var seen = await server.ObservationAsync(related);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(receiver.Events.Count == 1), "the related patient's notification");

        var only = Assert.Single(receiver.Events);
        Assert.Equal($"/hook/Observation/{seen}", only.Path);
        Assert.Equal(1, only.EventNumber);
    }

    [Fact]
    public async Task a_subscriber_whose_relationship_ends_stops_hearing_of_that_patient()
    {
        var leaving = await server.PatientAsync(NotificationServer.Practice);
        var staying = await server.PatientAsync(NotificationServer.Practice);
        await server.SubscribeAsync(Gp, NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", receiver.Url, "application/fhir+json", "id-only"));
        var before = await server.ObservationAsync(leaving);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(receiver.Events.Count == 1), "the first notification");

        // The patient registers with another practice: gp.smith's relationship ends.
        await server.PutAsync("system", "Patient/" + leaving,
            $$$"""{"resourceType":"Patient","id":"{{{leaving}}}","name":[{"family":"Test","given":["Notify"]}],"generalPractitioner":[{"reference":"Organization/{{{NotificationServer.OtherPractice}}}"}]}""");
        await server.ObservationAsync(leaving);
        var sentinel = await server.ObservationAsync(staying);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(receiver.Events.Count == 2), "the sentinel");

        Assert.Equal([before, sentinel], receiver.Events.Select(IdOf));
        Assert.Equal([1L, 2], receiver.Events.Select(e => e.EventNumber!.Value));
    }

    [Fact]
    public async Task a_client_that_may_search_but_not_read_is_refused_full_resources_and_gets_pointers()
    {
        var patient = await server.PatientAsync(NotificationServer.Practice);

        var (refused, outcome) = await server.SendAsync(NotificationServer.SearchOnlyClient, HttpMethod.Post, "/fhir/Subscription",
            NotificationServer.Subscription($"Observation?patient=Patient/{patient}", receiver.Url, "application/fhir+json"));
        await server.SubscribeAsync(NotificationServer.SearchOnlyClient,
            NotificationServer.Subscription($"Observation?patient=Patient/{patient}", receiver.Url, "application/fhir+json", "id-only"));
        var observation = await server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(receiver.Events.Count == 1), "the pointer");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Contains("may not read", outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString(), StringComparison.Ordinal);
        Assert.Equal(observation, IdOf(receiver.Events.Single()));
        Assert.DoesNotContain("valueQuantity", receiver.Events.Single().Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task each_delivery_is_audited_as_the_subscriber()
    {
        var patient = await server.PatientAsync(NotificationServer.Practice);
        await server.SubscribeAsync(Gp, NotificationServer.Subscription($"Observation?patient=Patient/{patient}", receiver.Url, "application/fhir+json", "id-only"));
        var observation = await server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(receiver.Events.Count == 1), "the notification");

        JsonElement audit = default;
        await NotificationServer.EventuallyAsync(async () =>
        {
            var (_, bundle) = await server.SendAsync("system", HttpMethod.Get, $"/fhir/AuditEvent?subtype=notify&entity=Observation/{observation}");
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

    private static string IdOf(ReceivedRequest request)
    {
        using var bundle = JsonDocument.Parse(request.Body);
        return bundle.RootElement.GetProperty("entry")[0].GetProperty("fullUrl").GetString()!.Split('/')[1];
    }
}
