using System.Net;
using System.Text;
using System.Text.Json;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// Order per patient, not per channel: a message that fails holds up only its own patient's later messages, while the
/// other patients of the channel flow past; permanent failures go to the work queue at once, where they are reprocessed
/// after a fix or set aside.
/// </summary>
public sealed class PatientOrderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task SendAsync(MessagingServer server, string channel, params (string ControlId, string Patient)[] messages)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp(channel).Port, cancellationToken: Ct);
        foreach (var (id, patient) in messages)
        {
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt(id, patient: patient)), Ct)).Get("MSA-1"));
        }
    }

    private static async Task SendAsync(MessagingServer server, params string[] messages)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
        foreach (var message in messages)
        {
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(message), Ct)).Get("MSA-1"));
        }
    }

    private static string Pid3(Hl7Message message) => message.Get("PID-3.1");

    [Fact]
    public async Task a_message_that_keeps_failing_for_one_patient_lets_the_other_patients_messages_past_and_holds_its_own_patients_until_it_goes()
    {
        var accept = 0;
        await using var receiver = new FakeMllpReceiver((m, _) => Pid3(m) == "PATIENT-P" && Volatile.Read(ref accept) == 0 ? Hl7AckCode.AE : Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port, maxAttempts: 100_000));

        await SendAsync(server, "relay", ("P1", "PATIENT-P"), ("P2", "PATIENT-P"), ("O1", "PATIENT-O"), ("Q1", "PATIENT-Q"), ("O2", "PATIENT-O"));

        await server.WhenStateAsync("O2", MessageStates.Sent);
        await server.WhenStateAsync("Q1", MessageStates.Sent);
        // P1 is still being retried (the receiver keeps answering AE), and P2 has not been tried: it waits behind P1.
        await MessagingServer.EventuallyAsync(async () => (await server.MessageAsync("P1")).Deliveries[0].Attempts >= 3, "P1 is retried");
        var waiting = await server.MessageAsync("P2");
        Assert.Equal((MessageStates.Queued, DeliveryStates.Queued, 0), (waiting.State, waiting.Deliveries[0].State, waiting.Deliveries[0].Attempts));
        Assert.DoesNotContain(receiver.Received, m => m.ControlId == "P2");

        Volatile.Write(ref accept, 1);
        await server.WhenStateAsync("P2", MessageStates.Sent);
        var order = receiver.Received.Select(m => m.ControlId).ToList();
        Assert.True(order.LastIndexOf("P1") < order.IndexOf("P2"), "P2 reached the receiver after P1");
        Assert.True(order.IndexOf("O1") < order.IndexOf("O2"), "O1 reached the receiver before O2");
        Assert.True(order.IndexOf("O2") < order.LastIndexOf("P1"), "O2 went past the retrying P1");
    }

    [Fact]
    public async Task a_rejected_message_goes_to_the_work_queue_at_once_holds_its_patient_and_setting_it_aside_lets_the_patient_go_on()
    {
        await using var receiver = new FakeMllpReceiver((m, _) => m.ControlId == "POISON" ? Hl7AckCode.AR : Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port, maxAttempts: 100_000));

        await SendAsync(server, "relay", ("POISON", "PATIENT-P"), ("LATER", "PATIENT-P"), ("OTHER", "PATIENT-O"));

        await server.WhenStateAsync("OTHER", MessageStates.Sent);
        await server.WhenStateAsync("POISON", MessageStates.Error);
        var poison = await server.MessageAsync("POISON");
        Assert.Equal((DeliveryStates.DeadLetter, 1), (poison.Deliveries[0].State, poison.Deliveries[0].Attempts));
        using (var workQueue = await server.Client.GetAsync($"{server.BaseUrl}/admin/messaging/messages?channel=relay&state=error", Ct))
        {
            using var json = JsonDocument.Parse(await workQueue.Content.ReadAsStringAsync(Ct));
            var entry = Assert.Single(json.RootElement.EnumerateArray());
            Assert.Equal(poison.Id, entry.GetProperty("id").GetInt64());
            Assert.Contains("AR", entry.GetProperty("error").GetString() ?? poison.Deliveries[0].LastError, StringComparison.Ordinal);
        }

        // The pass that saw LATER held back has finished at least once since POISON went to dead-letter.
        var passes = server.Broker.DeliveryCycles("relay", "downstream");
        await MessagingServer.EventuallyAsync(() => Task.FromResult(server.Broker.DeliveryCycles("relay", "downstream") >= passes + 2), "two more passes");
        Assert.Equal((MessageStates.Queued, 0), ((await server.MessageAsync("LATER")).State, (await server.MessageAsync("LATER")).Deliveries[0].Attempts));

        var other = await server.MessageAsync("OTHER");
        using (var nothingToSetAside = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/{other.Id}/set-aside", null, Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, nothingToSetAside.StatusCode);
        }

        using (var setAside = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/{poison.Id}/set-aside?reason=resent%20corrected", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, setAside.StatusCode);
        }

        await server.WhenStateAsync("LATER", MessageStates.Sent);
        var asideNow = await server.MessageAsync("POISON");
        Assert.Equal((MessageStates.Error, DeliveryStates.SetAside), (asideNow.State, asideNow.Deliveries[0].State));
        Assert.Equal("set aside by test-system: resent corrected", asideNow.Deliveries[0].LastError);
    }

    private const string Source = "urn:carehub:channel:adt-in";

    private static string Admission(string controlId, string trigger, string mrn, string nhs = "", string visit = "") =>
        $"MSH|^~\\&|PAS|RTH|CAREHUB|CAREHUB|20261101090000||ADT^{trigger}^ADT_A01|{controlId}|P|2.5.1\r" +
        $"EVN|{trigger}|20261101090000\r" +
        $"PID|1||{(nhs.Length > 0 ? nhs + "^^^NHS^NH~" : "")}{mrn}^^^RTH^MR||EXAMPLE^ALEX||19800101|U\r" +
        $"PV1|1|I|WARD1^BED2^^RTH||||||||||||||||{visit}|||||||||||||||||||||||||20261101090000\r";

    [Fact]
    public async Task an_update_whose_keys_match_two_patients_goes_to_the_work_queue_at_once_and_after_the_fix_reprocessing_delivers_it_then_the_patients_later_messages()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"));
        var duplicates = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var patient = $$"""{"resourceType":"Patient","meta":{"source":"{{Source}}"},"identifier":[{"system":"https://fhir.carehub.local/Id/rth","value":"RTH-DUP"}]}""";
            using var created = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Patient", new StringContent(patient, Encoding.UTF8, "application/fhir+json"), Ct);
            created.EnsureSuccessStatusCode();
            duplicates.Add(created.Headers.Location!.ToString().Split("/Patient/")[1].Split('/')[0]);
        }

        await SendAsync(server,
            Admission("DUP-1", "A04", "RTH-DUP"),
            Admission("DUP-2", "A08", "RTH-DUP"),
            Admission("FINE-1", "A04", "RTH-FINE"));

        await server.WhenStateAsync("FINE-1", MessageStates.Sent);
        await server.WhenStateAsync("DUP-1", MessageStates.Error);
        var poison = await server.MessageAsync("DUP-1");
        Assert.Equal((DeliveryStates.DeadLetter, 1), (poison.Deliveries[0].State, poison.Deliveries[0].Attempts));
        Assert.StartsWith("412", poison.Deliveries[0].LastError, StringComparison.Ordinal);
        var held = await server.MessageAsync("DUP-2");
        Assert.Equal((MessageStates.Queued, 0), (held.State, held.Deliveries[0].Attempts));

        // The fix: the duplicate record is removed; then the message is reprocessed.
        using (var deleted = await server.Client.DeleteAsync($"{server.BaseUrl}/fhir/Patient/{duplicates[1]}", Ct))
        {
            deleted.EnsureSuccessStatusCode();
        }

        using (var reprocess = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/{poison.Id}/reprocess", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, reprocess.StatusCode);
        }

        await server.WhenStateAsync("DUP-2", MessageStates.Sent);
        Assert.Equal(MessageStates.Sent, (await server.MessageAsync("DUP-1")).State);
    }

    [Fact]
    public async Task a_placeholder_nhs_number_is_no_identity_two_patients_sent_with_it_stay_two_and_queue_apart()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"));

        await SendAsync(server,
            Admission("PH-1", "A04", "RTH-PH-ONE", nhs: "9999999999"),
            Admission("PH-2", "A04", "RTH-PH-TWO", nhs: "9999999999"));

        await server.WhenStateAsync("PH-1", MessageStates.Sent);
        await server.WhenStateAsync("PH-2", MessageStates.Sent);
        Assert.NotEqual((await server.MessageAsync("PH-1")).PartitionKey, (await server.MessageAsync("PH-2")).PartitionKey);
        using var response = await server.Client.GetAsync($"{server.BaseUrl}/fhir/Patient?_source={Uri.EscapeDataString(Source)}", Ct);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var patients = json.RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(r => r.GetProperty("resourceType").GetString() == "Patient").ToList();
        Assert.Equal(2, patients.Count);
        Assert.All(patients, p => Assert.DoesNotContain(p.GetProperty("identifier").EnumerateArray(),
            i => i.GetProperty("system").GetString() == "https://fhir.nhs.uk/Id/nhs-number"));
    }
}
