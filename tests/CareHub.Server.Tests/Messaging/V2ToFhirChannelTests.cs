using System.Text.Json;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;

namespace CareHub.Server.Tests.Messaging;

/// <summary>The built-in v2-to-fhir transformer end to end: MLLP in, commit ACK, the mapped resources in the record.</summary>
public sealed class V2ToFhirChannelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Admit =
        "MSH|^~\\&|PAS|RTH|CAREHUB|CAREHUB|20261101090000||ADT^A01^ADT_A01|V2F-1|P|2.5.1\r" +
        "EVN|A01|20261101090000\r" +
        "PID|1||9990000018^^^NHS^NH~RTH123456^^^RTH^MR||EXAMPLE^ALEX^^^MX||19800101|U\r" +
        "PV1|1|I|WARD1^BED2^^RTH||||||||||||||||V2F-VISIT-1|||||||||||||||||||||||||20261101090000\r";

    private const string Discharge =
        "MSH|^~\\&|PAS|RTH|CAREHUB|CAREHUB|20261102100000||ADT^A03^ADT_A03|V2F-2|P|2.5.1\r" +
        "EVN|A03|20261102100000\r" +
        "PID|1||9990000018^^^NHS^NH~RTH123456^^^RTH^MR||EXAMPLE^ALEX^^^MX||19800101|U\r" +
        "PV1|1|I|WARD1^BED2^^RTH||||||||||||||||V2F-VISIT-1|||||||||||||||||||||||||20261101090000|20261102100000\r";

    [Fact]
    public async Task an_admission_then_a_discharge_over_mllp_leave_one_patient_and_one_finished_encounter()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"));
        var endpoint = server.Mllp("adt-in");
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken: Ct);

        Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(Admit), Ct)).Get("MSA-1"));
        Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(Discharge), Ct)).Get("MSA-1"));

        var patients = "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018";
        await MessagingServer.EventuallyAsync(async () => await CountAsync(server, "Encounter?_count=100", e => e.GetProperty("status").GetString() == "finished") == 1,
            "the encounter is finished in the record");
        Assert.Equal(1, await CountAsync(server, patients, _ => true));
        Assert.Equal(1, await CountAsync(server, "Encounter?_count=100", _ => true));
    }

    [Fact]
    public async Task a_message_type_the_mapper_does_not_take_is_accepted_stored_and_flagged_unmapped()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"));
        var endpoint = server.Mllp("adt-in");
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken: Ct);
        var vaccination = "MSH|^~\\&|IMM|RTH|CAREHUB|CAREHUB|20261101090000||VXU^V04^VXU_V04|V2F-3|P|2.5.1\rPID|1||X1^^^RTH^MR||EXAMPLE^ALEX\r";

        var ack = await client.SendAsync(Hl7Message.Parse(vaccination), Ct);

        Assert.Equal("AA", ack.Get("MSA-1"));
        var stored = Assert.Single(await server.Store.SearchAsync(new CareHub.Messaging.Storage.MessageQuery(Flag: CareHub.Messaging.Storage.MessageFlags.Unmapped), Ct));
        Assert.Equal(("V2F-3", CareHub.Messaging.Storage.MessageStates.Filtered), (stored.ControlId, stored.State));
        Assert.StartsWith("200", stored.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_channel_set_to_refuse_unmapped_messages_rejects_them_with_their_code()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir", extra: [("RefuseUnmapped", "true")]));
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
        var vaccination = "MSH|^~\\&|IMM|RTH|CAREHUB|CAREHUB|20261101090000||VXU^V04^VXU_V04|V2F-4|P|2.5.1\rPID|1||X1^^^RTH^MR||EXAMPLE^ALEX\r";

        var ack = await client.SendAsync(Hl7Message.Parse(vaccination), Ct);

        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Contains("200", ack.Get("ERR-3"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task the_sample_message_shipped_with_the_repository_becomes_the_channels_own_record_which_the_mpi_links_to_the_gp_practices_record()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CareHub.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var sample = await File.ReadAllTextAsync(Path.Combine(root.FullName, "samples", "hl7v2", "ADT-A04-synthetic.hl7"), Ct);
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir", extra: [("Organisation", "RTH")]));
        const string gpRecord = """
            {"resourceType":"Patient","meta":{"source":"https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/A81001"},
             "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}],"name":[{"family":"SYNTHETIC","given":["SAMPLE"]}],"birthDate":"1980-01-01"}
            """;
        string gpId;
        using (var created = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Patient", Fhir(gpRecord), Ct))
        {
            created.EnsureSuccessStatusCode();
            gpId = created.Headers.Location!.ToString().Split("/Patient/")[1].Split('/')[0];
        }

        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);

        Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(sample), Ct)).Get("MSA-1"));

        var source = Uri.EscapeDataString("https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/RTH");
        await MessagingServer.EventuallyAsync(async () => await CountAsync(server, $"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018&_source={source}", _ => true) == 1,
            "the sample's patient is in the record as the channel's own source record");
        Assert.Equal(2, await CountAsync(server, "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", _ => true));
        var person = await server.Client.GetStringAsync($"{server.BaseUrl}/fhir/Person?link=Patient/{gpId}", Ct);
        using var people = JsonDocument.Parse(person);
        var links = people.RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(r => r.GetProperty("resourceType").GetString() == "Person")
            .SelectMany(r => r.GetProperty("link").EnumerateArray().Select(l => l.GetProperty("target").GetProperty("reference").GetString()))
            .ToList();
        Assert.Equal(2, links.Count(l => l!.StartsWith("Patient/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task a_feed_updates_another_organisations_patient_only_while_its_demographics_agreement_is_in_force()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir",
            extra: [("Organisation", "RTH"), ("DemographicsAgreement", "dsa-rth-demographics")]));
        const string gpRecord = """
            {"resourceType":"Patient","meta":{"source":"https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/A81001"},
             "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}],"name":[{"family":"GPRECORD"}]}
            """;
        using (var created = await server.Client.PostAsync($"{server.BaseUrl}/fhir/Patient", Fhir(gpRecord), Ct))
        {
            created.EnsureSuccessStatusCode();
        }

        await using (var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct))
        {
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(Admit), Ct)).Get("MSA-1"));
        }

        var id = Assert.Single(await server.Store.SearchAsync(new CareHub.Messaging.Storage.MessageQuery(ControlId: "V2F-1"), Ct)).Id;
        await MessagingServer.EventuallyAsync(async () => (await server.Store.GetAsync(id, Ct))!.Deliveries.Single().State == CareHub.Messaging.Storage.DeliveryStates.DeadLetter,
            "without the agreement the delivery is refused");
        Assert.Contains("Contract/dsa-rth-demographics does not exist", (await server.Store.GetAsync(id, Ct))!.Deliveries.Single().LastError, StringComparison.Ordinal);
        var patients = "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018";
        Assert.Equal(1, await CountAsync(server, patients, p => p.GetProperty("name")[0].GetProperty("family").GetString() == "GPRECORD"));

        const string agreement = """
            {"resourceType":"Contract","id":"dsa-rth-demographics","status":"executed",
             "type":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-type","code":"data-sharing"}]},
             "term":[{"offer":{"party":[{"reference":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RTH"}}],
               "role":{"coding":[{"system":"https://carehub.local/fhir/CodeSystem/agreement-party","code":"source"}]}}]}}]}
            """;
        using (var put = await server.Client.PutAsync($"{server.BaseUrl}/fhir/Contract/dsa-rth-demographics", Fhir(agreement), Ct))
        {
            put.EnsureSuccessStatusCode();
        }

        using (var reprocess = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/{id}/reprocess", null, Ct))
        {
            reprocess.EnsureSuccessStatusCode();
        }

        await MessagingServer.EventuallyAsync(async () => await CountAsync(server, patients, p => p.GetProperty("name")[0].GetProperty("family").GetString() == "EXAMPLE") == 1,
            "with the agreement in force the feed's demographics replace the patient's");
        Assert.Equal(1, await CountAsync(server, patients, _ => true));
    }

    private static StringContent Fhir(string json) => new(json, System.Text.Encoding.UTF8, "application/fhir+json");

    private static async Task<int> CountAsync(MessagingServer server, string query, Func<JsonElement, bool> predicate)
    {
        using var response = await server.Client.GetAsync($"{server.BaseUrl}/fhir/{query}", Ct);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return json.RootElement.TryGetProperty("entry", out var entries)
            ? entries.EnumerateArray().Select(e => e.GetProperty("resource")).Count(r => r.GetProperty("resourceType").GetString() != "OperationOutcome" && predicate(r))
            : 0;
    }
}
