namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// Two CareHub nodes on one PostgreSQL (CAREHUB_TEST_POSTGRES; ./carehub test starts a throwaway cluster) deliver each
/// notification once per subscriber: both read the change feed (one moves the position), both deliver, and a
/// subscription's queue is claimed by one node at a time (<c>FOR UPDATE SKIP LOCKED</c>).
/// </summary>
public sealed class MultiNodeDeliveryTests
{
    [Fact]
    public async Task two_nodes_on_one_database_deliver_each_notification_once()
    {
        var postgres = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(postgres))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        var schema = "notify_" + Guid.NewGuid().ToString("N")[..12];
        await using var receiver = await TestReceiver.StartAsync();
        await using var one = await NotificationServer.StartAsync(postgres, schema);
        await using var two = await NotificationServer.StartAsync(postgres, schema);
        var patient = await one.PatientAsync(NotificationServer.Practice);
        var id = await one.SubscribeAsync("system", NotificationServer.Subscription($"Observation?patient=Patient/{patient}", receiver.Url, "application/fhir+json", "id-only"));

        var written = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            written.Add(await (i % 2 == 0 ? one : two).ObservationAsync(patient));
        }

        await NotificationServer.EventuallyAsync(async () =>
            receiver.Events.Count >= written.Count && (await two.LogAsync(id)).EnumerateArray().All(n => n.GetProperty("state").GetString() == "sent"),
            "all forty delivered", seconds: 60);

        Assert.Single(receiver.Requests, r => r.EventNumber is null);
        Assert.Equal(Enumerable.Range(1, written.Count).Select(n => (long)n), receiver.Events.Select(e => e.EventNumber!.Value));
        Assert.Equal(written, receiver.Events.Select(e => e.ResourceId));
    }
}
