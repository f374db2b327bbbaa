using System.Net;
using System.Text.Json;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// R4 rest-hook subscriptions end to end on a real CareHub and real receivers on loopback: the handshake, the payloads,
/// headers and event numbers, receivers that fail, stall and disappear, and writes that roll back.
/// </summary>
public sealed class RestHookDeliveryTests : ServerWithReceiver
{
    [Fact]
    public async Task a_subscription_is_active_after_an_empty_handshake_and_sends_an_id_only_history_bundle_with_its_headers()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        var id = await Server.SubscribeAsync("system",
            NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only", "Authorization: Bearer endpoint-token"));

        var observation = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1), "one notification");

        var handshake = Receiver.Requests.First();
        var notification = Receiver.Events.Single();
        using var bundle = JsonDocument.Parse(notification.Body);
        var entry = bundle.RootElement.GetProperty("entry")[0];
        Assert.Equal("POST", handshake.Method);
        Assert.Equal("", handshake.Body);
        Assert.Equal("Bearer endpoint-token", handshake.Headers["Authorization"]);
        Assert.Equal("POST", notification.Method);
        Assert.StartsWith("application/fhir+json", notification.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Equal("Bearer endpoint-token", notification.Headers["Authorization"]);
        Assert.Equal(1, notification.EventNumber);
        Assert.Equal("history", bundle.RootElement.GetProperty("type").GetString());
        Assert.Equal($"Observation/{observation}/_history/1", entry.GetProperty("fullUrl").GetString());
        Assert.False(entry.TryGetProperty("resource", out _));
        Assert.Equal("active", await Server.StatusOfAsync(id));
    }

    [Fact]
    public async Task a_full_resource_payload_puts_the_resource_at_the_endpoint_and_no_payload_posts_an_empty_body()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await using var bare = await TestReceiver.StartAsync();
        await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json"));
        await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", bare.Url));

        var observation = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 1 && bare.Events.Count == 1), "a notification at each endpoint");

        var full = Receiver.Events.Single();
        using var resource = JsonDocument.Parse(full.Body);
        Assert.Equal("PUT", full.Method);
        Assert.Equal($"/hook/Observation/{observation}", full.Path);
        Assert.Equal(observation, resource.RootElement.GetProperty("id").GetString());
        Assert.Equal("POST", bare.Events.Single().Method);
        Assert.Equal("", bare.Events.Single().Body);
    }

    [Fact]
    public async Task only_changes_that_meet_the_criteria_are_sent_in_commit_order_with_consecutive_event_numbers()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await Server.SubscribeAsync("system", NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", Receiver.Url, "application/fhir+json", "id-only"));

        var expected = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            expected.Add(await Server.ObservationAsync(patient));
            await Server.ObservationAsync(patient, code: "2708-6");
        }

        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count >= 6), "six notifications");

        Assert.Equal([1L, 2, 3, 4, 5, 6], Receiver.Events.Select(e => e.EventNumber!.Value));
        Assert.Equal(expected, Receiver.Events.Select(e => e.ResourceId));
    }

    [Fact]
    public async Task a_receiver_answering_500_puts_the_subscription_in_error_and_it_catches_up_in_order_when_it_answers_again()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        var id = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        Receiver.Answer = TestReceiver.Behaviour.Fail;

        var first = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(async () => await Server.StatusOfAsync(id) == "error", "the Subscription shows the error");
        var second = await Server.ObservationAsync(patient);
        var error = (await Server.SubscriptionAsync(id)).GetProperty("error").GetString();
        Receiver.Answer = TestReceiver.Behaviour.Ok;
        await NotificationServer.EventuallyAsync(async () => await Server.StatusOfAsync(id) == "active" && Receiver.Events.Select(e => e.EventNumber).Distinct().Count() == 2,
            "both events delivered and the Subscription active again");

        Assert.Contains("HTTP 500", error, StringComparison.Ordinal);
        var delivered = Receiver.Events.Where(e => e.EventNumber is not null).ToList();
        Assert.All(delivered.Where(e => e.EventNumber == 1), e => Assert.Equal(first, e.ResourceId));
        Assert.Equal(second, delivered[^1].ResourceId);
        Assert.Equal(2, delivered[^1].EventNumber);
        Assert.Equal(JsonValueKind.Undefined, (await Server.SubscriptionAsync(id)).TryGetProperty("error", out var cleared) ? cleared.ValueKind : JsonValueKind.Undefined);
    }

    [Fact]
    public async Task a_receiver_that_stalls_past_the_timeout_holds_up_no_other_subscription()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await using var healthy = await TestReceiver.StartAsync();
        var stalled = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", healthy.Url, "application/fhir+json", "id-only"));
        Receiver.Answer = TestReceiver.Behaviour.Stall;

        for (var i = 0; i < 5; i++)
        {
            await Server.ObservationAsync(patient);
        }

        await NotificationServer.EventuallyAsync(() => Task.FromResult(healthy.Events.Count == 5), "the healthy endpoint has all five");
        await NotificationServer.EventuallyAsync(async () => await Server.StatusOfAsync(stalled) == "error", "the stalled one is in error");

        var error = (await Server.SubscriptionAsync(stalled)).GetProperty("error").GetString();
        Assert.Contains("no answer within", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_receiver_that_disappears_and_comes_back_gets_every_event_once_in_order()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        var id = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        await Receiver.StopAsync();

        var written = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            written.Add(await Server.ObservationAsync(patient));
        }

        await NotificationServer.EventuallyAsync(async () => await Server.StatusOfAsync(id) == "error", "the Subscription shows the endpoint is gone");
        Assert.Contains("could not connect", (await Server.SubscriptionAsync(id)).GetProperty("error").GetString(), StringComparison.Ordinal);
        await Receiver.RestartAsync();
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 4), "the queue caught up");

        Assert.Equal([1L, 2, 3, 4], Receiver.Events.Select(e => e.EventNumber!.Value));
        Assert.Equal(written, Receiver.Events.Select(e => e.ResourceId));
    }

    [Fact]
    public async Task a_write_that_rolls_back_sends_nothing()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        var transaction = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{{{NotificationServer.ObservationJson(patient)}}},"request":{"method":"POST","url":"Observation"}},
              {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=urn:none|nobody"}},"request":{"method":"POST","url":"Observation"}}
            ]}
            """;

        var (status, _) = await Server.SendAsync("system", HttpMethod.Post, "/fhir", transaction);
        var after = await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count >= 1), "the write after the rolled-back one");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var only = Assert.Single(Receiver.Events);
        Assert.Equal(after, only.ResourceId);
        Assert.Equal(1, only.EventNumber);
    }

    [Fact]
    public async Task a_subscription_set_off_stops_and_a_deleted_one_stops()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        await using var other = await TestReceiver.StartAsync();
        var off = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        var deleted = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", other.Url, "application/fhir+json", "id-only"));
        var sentinel = await TestReceiver.StartAsync();
        await using var _ = sentinel;
        await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", sentinel.Url, "application/fhir+json", "id-only"));

        var body = await Server.SubscriptionAsync(off);
        var turnedOff = body.GetRawText().Replace("\"status\":\"active\"", "\"status\":\"off\"", StringComparison.Ordinal);
        await Server.PutAsync("system", "Subscription/" + off, turnedOff);
        var (status, _) = await Server.SendAsync("system", HttpMethod.Delete, "/fhir/Subscription/" + deleted);
        await Server.ObservationAsync(patient);
        await NotificationServer.EventuallyAsync(() => Task.FromResult(sentinel.Events.Count == 1), "the sentinel subscription's notification");

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Empty(Receiver.Events);
        Assert.Empty(other.Events);
        Assert.Equal("off", await Server.StatusOfAsync(off));
    }

    [Fact]
    public async Task the_admin_api_shows_the_delivery_log_and_redelivers_from_an_event_number()
    {
        var patient = await Server.PatientAsync(NotificationServer.Practice);
        var id = await Server.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", Receiver.Url, "application/fhir+json", "id-only"));
        for (var i = 0; i < 3; i++)
        {
            await Server.ObservationAsync(patient);
        }

        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 3), "three notifications");
        var (redeliver, answer) = await Server.SendAsync("system", HttpMethod.Post, $"/admin/notifications/subscriptions/{id}/redeliver?from=2");
        await NotificationServer.EventuallyAsync(() => Task.FromResult(Receiver.Events.Count == 5), "events 2 and 3 again");
        var log = await Server.LogAsync(id);
        var (_, health) = await Server.SendAsync("system", HttpMethod.Get, "/health");
        var (forbidden, _) = await Server.SendAsync("gp.smith", HttpMethod.Get, "/admin/notifications/subscriptions");

        Assert.Equal(HttpStatusCode.OK, redeliver);
        Assert.Equal(2, answer.GetProperty("queued").GetInt32());
        Assert.Equal([1L, 2, 3, 2, 3], Receiver.Events.Select(e => e.EventNumber!.Value));
        Assert.Equal(4, log.GetArrayLength());
        Assert.Equal(1, health.GetProperty("notifications").GetProperty("byState").GetProperty("active").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
    }
}
