using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>The same commit-ACK intake with the record and the message store in PostgreSQL (CAREHUB_TEST_POSTGRES).</summary>
public sealed class PostgresIntakeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Postgres()
    {
        var value = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return value;
    }

    [Fact]
    public async Task messages_are_acknowledged_after_commit_deduplicated_and_delivered_to_the_record_on_postgres()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(), Postgres());
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);

        var first = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("PG-1")), Ct);
        var resend = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("PG-1")), Ct);
        var bad = Hl7Message.Parse(await client.SendRawAsync(MessagingServer.Bytes("MSH|^~\\&|PAS|RAL|||2024||ADT^A01|PG-BAD|P|\r"), Ct));

        Assert.Equal(("AA", "AA", "AE"), (first.Get("MSA-1"), resend.Get("MSA-1"), bad.Get("MSA-1")));
        Assert.Equal("postgresql", server.Store.Backend);
        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(ControlId: "PG-1", State: MessageStates.Sent), Ct)).Count == 1, "PG-1 sent");
        Assert.Equal(1, await server.PatientsWithControlIdAsync("PG-1"));
        Assert.Equal(MessageStates.Error, Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "PG-BAD"), Ct)).State);
    }
}
