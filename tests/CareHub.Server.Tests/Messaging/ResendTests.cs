using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// De-duplication that never drops new data: a resend (same sender, control id and content) is answered again and not
/// processed twice; a reused control id with other content is processed and flagged.
/// </summary>
public sealed class ResendTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task a_control_id_reused_for_another_message_is_processed_as_new_data_and_flagged()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);

        var first = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("REUSED-1", patient: "PATIENT-A")), Ct);
        var second = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("REUSED-1", patient: "PATIENT-B")), Ct);

        Assert.Equal(("AA", "AA"), (first.Get("MSA-1"), second.Get("MSA-1")));
        var stored = await server.Store.SearchAsync(new MessageQuery(ControlId: "REUSED-1"), Ct);
        Assert.Equal(2, stored.Count);
        Assert.Equal([MessageFlags.ControlIdReused], stored[0].Flags);
        Assert.Empty(stored[1].Flags);
        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(ControlId: "REUSED-1", State: MessageStates.Sent), Ct)).Count == 2,
            "both messages reach the record");
        // The test transformer writes one Patient per delivered message, identified by the control id: both arrived.
        Assert.Equal(2, await server.PatientsWithControlIdAsync("REUSED-1"));
    }

    [Fact]
    public async Task a_true_resend_gets_the_same_answer_and_is_stored_and_delivered_once()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
        var message = MessagingServer.Adt("RESENT-1");

        var first = await client.SendAsync(Hl7Message.Parse(message), Ct);
        var again = await client.SendAsync(Hl7Message.Parse(message), Ct);

        Assert.Equal(first.Encode(), again.Encode());
        var stored = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "RESENT-1"), Ct));
        Assert.Empty(stored.Flags);
        await MessagingServer.EventuallyAsync(async () => (await server.Store.GetAsync(stored.Id, Ct))!.State == MessageStates.Sent, "the message is delivered");
        Assert.Equal(1, await server.PatientsWithControlIdAsync("RESENT-1"));
    }
}
