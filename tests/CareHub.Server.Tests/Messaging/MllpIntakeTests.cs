using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>Inbound MLLP end to end: real sockets, our own MLLP client, the record behind the channel.</summary>
public sealed class MllpIntakeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<Hl7Message> SendAsync(MessagingServer server, string text, string channel = "adt-in")
    {
        var endpoint = server.Mllp(channel);
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken: Ct);
        return await client.SendAsync(Hl7Message.Parse(text), Ct);
    }

    [Fact]
    public async Task an_accepted_message_is_acknowledged_AA_and_reaches_the_record()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());

        var ack = await SendAsync(server, MessagingServer.Adt("CTRL-1"));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("CTRL-1", ack.Get("MSA-2"));
        // Commit ACK: by the time AA arrived the message was in the store.
        var stored = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "CTRL-1"), Ct));
        Assert.Equal(("ADT", "A01"), (stored.MessageType, stored.TriggerEvent));
        Assert.StartsWith("mllp:127.0.0.1:", stored.Sender, StringComparison.Ordinal);
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync("CTRL-1") == 1, "the Patient is in the record");
        await MessagingServer.EventuallyAsync(async () => (await server.Store.GetAsync(stored.Id, Ct))!.State == MessageStates.Sent, "the message is sent");
        var message = await server.Store.GetAsync(stored.Id, Ct);
        Assert.Contains("Patient", message!.Transformed, StringComparison.Ordinal);
        Assert.Contains("MSA|AA|CTRL-1", message.Response, StringComparison.Ordinal);
        Assert.Contains("201", Assert.Single(message.Deliveries).Response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_resent_message_is_acknowledged_again_and_processed_once()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());

        var first = await SendAsync(server, MessagingServer.Adt("RESEND-1"));
        var second = await SendAsync(server, MessagingServer.Adt("RESEND-1"));

        Assert.Equal(("AA", "AA"), (first.Get("MSA-1"), second.Get("MSA-1")));
        Assert.Equal("RESEND-1", second.Get("MSA-2"));
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync("RESEND-1") == 1, "the Patient is in the record");
        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(ControlId: "RESEND-1", State: MessageStates.Sent), Ct)).Count == 1, "sent");
        Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "RESEND-1"), Ct));
        Assert.Equal(1, await server.PatientsWithControlIdAsync("RESEND-1"));
    }

    [Fact]
    public async Task a_message_that_cannot_be_parsed_gets_an_error_ack_with_ERR_and_is_kept_in_error_state()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());
        var endpoint = server.Mllp("adt-in");
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken: Ct);

        // MSH-12 (version) missing: HL7 error 101, required field missing.
        var reply = Hl7Message.Parse(await client.SendRawAsync(MessagingServer.Bytes("MSH|^~\\&|PAS|RAL|||20240301||ADT^A01|BAD-1|P|\rPID|1\r"), Ct));

        Assert.Equal("AE", reply.Get("MSA-1"));
        Assert.Equal("BAD-1", reply.Get("MSA-2"));
        Assert.Equal("101", reply.Get("ERR-3.1"));
        var stored = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "BAD-1"), Ct));
        Assert.Equal(MessageStates.Error, stored.State);
        Assert.Contains("101", stored.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task on_a_channel_that_refuses_unmapped_messages_one_the_transformer_does_not_map_is_rejected_AR_with_its_code_and_kept()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: [("RefuseUnmapped", "true")]));

        var ack = await SendAsync(server, MessagingServer.Adt("ORU-1").Replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01", StringComparison.Ordinal));

        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Equal("200", ack.Get("ERR-3.1"));
        Assert.Equal(MessageStates.Error, Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "ORU-1"), Ct)).State);
    }

    [Fact]
    public async Task a_message_the_filters_do_not_take_is_acknowledged_and_stored_as_filtered()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra:
        [
            ("Filters:MessageTypes:0", "ADT^A01"),
            ("Filters:SendingFacilities:0", "RAL"),
            ("Filters:Conditions:0", "PV1-2=I"),
        ]));

        var outpatient = await SendAsync(server, MessagingServer.Adt("F-OUT", patientClass: "O"));
        var otherFacility = await SendAsync(server, MessagingServer.Adt("F-FAC", facility: "XYZ"));
        var otherTrigger = await SendAsync(server, MessagingServer.Adt("F-A08", trigger: "A08"));
        var taken = await SendAsync(server, MessagingServer.Adt("F-IN"));

        Assert.All([outpatient, otherFacility, otherTrigger, taken], a => Assert.Equal("AA", a.Get("MSA-1")));
        Assert.Equal(["F-A08", "F-FAC", "F-OUT"], (await server.Store.SearchAsync(new MessageQuery(State: MessageStates.Filtered), Ct)).Select(m => m.ControlId).Order(StringComparer.Ordinal));
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync("F-IN") == 1, "the inpatient's Patient is in the record");
        Assert.Equal(0, await server.PatientsWithControlIdAsync("F-OUT"));
    }

    [Fact]
    public async Task eight_connections_at_once_each_get_their_acks_and_every_message_arrives()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());
        var endpoint = server.Mllp("adt-in");

        var senders = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken: Ct);
            for (var i = 0; i < 10; i++)
            {
                var ack = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt($"P{c}-{i}")), Ct);
                Assert.Equal("AA", ack.Get("MSA-1"));
            }
        }, Ct)).ToList();
        await Task.WhenAll(senders);

        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(State: MessageStates.Sent, Count: 200), Ct)).Count == 80, "80 messages sent");
        Assert.Equal(1, await server.PatientsWithControlIdAsync("P7-9"));
    }
}
