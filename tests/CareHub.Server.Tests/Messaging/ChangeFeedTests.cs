using System.Globalization;
using System.Net;
using System.Text;
using CareHub.Hl7v2;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>Outbound: a channel whose source is the record's change feed sends Patient changes on as ADT^A08 over MLLP.</summary>
public sealed class ChangeFeedTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A change-feed channel that sends Patient changes as ADT^A08 (from facility RXX) to an MLLP receiver.</summary>
    private static KeyValuePair<string, string?>[] PatientsOut(int port) =>
    [
        new("CareHub:Channels:0:Name", "patients-out"),
        new("CareHub:Channels:0:Source:Type", "changes"),
        new("CareHub:Channels:0:Source:PollInterval", "00:00:00.100"),
        new("CareHub:Channels:0:Source:SendingFacility", "RXX"),
        new("CareHub:Channels:0:Transformer", "pass-through"),
        new("CareHub:Channels:0:Destinations:0:Type", "mllp"),
        new("CareHub:Channels:0:Destinations:0:Host", "127.0.0.1"),
        new("CareHub:Channels:0:Destinations:0:Port", port.ToString(CultureInfo.InvariantCulture)),
    ];

    [Fact]
    public async Task a_patient_written_to_the_record_is_sent_on_as_ADT_A08_once_per_change()
    {
        await using var receiver = new FakeMllpReceiver((_, _) => Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(PatientsOut(receiver.Port));

        const string Body = """
            {"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
             "name":[{"family":"Testperson","given":["Sam","Lee"]}],"gender":"female","birthDate":"1970-02-03",
             "address":[{"line":["1 Test Street"],"city":"Leeds","postalCode":"LS1 1AA"}]}
            """;
        using var created = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Patient", new StringContent(Body, Encoding.UTF8, "application/fhir+json"), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var observation = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Observation",
            new StringContent("""{"resourceType":"Observation","status":"final","code":{"text":"x"}}""", Encoding.UTF8, "application/fhir+json"), Ct);

        await MessagingServer.EventuallyAsync(() => Task.FromResult(!receiver.Received.IsEmpty), "an ADT^A08 arrives downstream");
        var adt = Assert.Single(receiver.Received);
        Assert.Equal(("ADT", "A08", "RXX"), (adt.MessageType, adt.TriggerEvent, adt.SendingFacility));
        Assert.Equal(("9434765919", "NHS", "NH"), (adt.Get("PID-3.1"), adt.Get("PID-3.4"), adt.Get("PID-3.5")));
        Assert.Equal(("Testperson", "Sam", "Lee"), (adt.Get("PID-5.1"), adt.Get("PID-5.2"), adt.Get("PID-5.3")));
        Assert.Equal(("19700203", "F", "LS1 1AA"), (adt.Get("PID-7"), adt.Get("PID-8"), adt.Get("PID-11.5")));
        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(Channel: "patients-out", State: MessageStates.Sent), Ct)).Count == 1,
            "the outbound message is sent");
        Assert.True(await server.Store.GetFeedPositionAsync("patients-out", Ct) >= 2);
    }

    [Fact]
    public async Task health_lists_every_change_feed_consumer_with_its_position_and_lag_and_no_patient_data()
    {
        await using var receiver = new FakeMllpReceiver((_, _) => Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync([new("CareHub:Mpi:Matching", "Queued"), .. PatientsOut(receiver.Port)]);

        const string Body = """
            {"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
             "name":[{"family":"Healthcheckperson","given":["Sam"]}],"birthDate":"1970-02-03"}
            """;
        using var created = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Patient", new StringContent(Body, Encoding.UTF8, "application/fhir+json"), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await MessagingServer.EventuallyAsync(() => Task.FromResult(!receiver.Received.IsEmpty), "the Patient is sent on");
        var position = await server.Store.GetFeedPositionAsync("patients-out", Ct);
        string text = "";
        System.Text.Json.JsonElement feeds = default;
        await MessagingServer.EventuallyAsync(async () =>
        {
            using var anonymous = new HttpClient();
            text = await anonymous.GetStringAsync($"{server.BaseUrl}/health", Ct);
            feeds = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("feeds");
            var stored = await server.Store.GetFeedPositionAsync("patients-out", Ct);
            return feeds.EnumerateArray().Count() == 4
                && feeds.EnumerateArray().All(f => f.GetProperty("state").GetString() == "CaughtUp" && f.GetProperty("lag").GetInt64() == 0 && f.GetProperty("position").GetInt64() >= position)
                && feeds.EnumerateArray().Any(f => f.GetProperty("name").GetString() == "channel:patients-out" && f.GetProperty("position").GetInt64() == stored);
        }, "every consumer read past the Patient to the end of the feed, the channel's status at its stored position");

        Assert.Equal(["access-decisions", "channel:patients-out", "mpi-queued-matching", "notifications"], feeds.EnumerateArray().Select(f => f.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
        var channel = feeds.EnumerateArray().Single(f => f.GetProperty("name").GetString() == "channel:patients-out");
        Assert.NotNull(channel.GetProperty("lastSuccess").GetString());
        Assert.True(channel.GetProperty("feedEnd").GetInt64() >= channel.GetProperty("position").GetInt64());
        Assert.Equal(0, channel.GetProperty("consecutiveFailures").GetInt32());
        Assert.DoesNotContain("9434765919", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Healthcheckperson", text, StringComparison.Ordinal);
    }
}
