using System.Net;
using System.Net.Sockets;
using System.Text;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace CareHub.Server.Tests.Messaging;

/// <summary>Destinations, their queues, retries with backoff, dead-letter, pause and reprocessing.</summary>
public sealed class DeliveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task SendAsync(MessagingServer server, string channel, params string[] controlIds) =>
        SendForAsync(server, channel, null, controlIds);

    /// <summary>Sends ADT messages, all about <paramref name="patient"/> (PID-3), or each about a patient of its own when null.</summary>
    private static async Task SendForAsync(MessagingServer server, string channel, string? patient, params string[] controlIds)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp(channel).Port, cancellationToken: Ct);
        foreach (var id in controlIds)
        {
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt(id, patient: patient)), Ct)).Get("MSA-1"));
        }
    }

    [Fact]
    public async Task an_error_ack_is_retried_with_backoff_and_the_same_patients_later_messages_wait_their_turn()
    {
        await using var receiver = new FakeMllpReceiver((_, n) => n <= 2 ? Hl7AckCode.AE : Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port));

        await SendForAsync(server, "relay", "PATIENT-R", "R1", "R2", "R3");

        await server.WhenStateAsync("R3", MessageStates.Sent);
        Assert.Equal(["R1", "R1", "R1", "R2", "R3"], receiver.Received.Select(m => m.ControlId));
        var first = await server.MessageAsync("R1");
        Assert.Equal((DeliveryStates.Sent, 3), (first.Deliveries[0].State, first.Deliveries[0].Attempts));
        Assert.Contains("MSA|AA|R1", first.Deliveries[0].Response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_rejected_message_goes_to_dead_letter_at_once_and_the_queue_moves_on()
    {
        await using var receiver = new FakeMllpReceiver((m, _) => m.ControlId == "POISON" ? Hl7AckCode.AR : Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port));

        await SendAsync(server, "relay", "POISON", "AFTER");

        await server.WhenStateAsync("AFTER", MessageStates.Sent);
        var poison = await server.MessageAsync("POISON");
        Assert.Equal(MessageStates.Error, poison.State);
        Assert.Equal((DeliveryStates.DeadLetter, 1), (poison.Deliveries[0].State, poison.Deliveries[0].Attempts));
        Assert.Contains("AR", poison.Deliveries[0].LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_message_that_keeps_failing_is_dead_lettered_after_its_attempts_and_reprocessing_sends_it_again()
    {
        var accept = false;
        await using var receiver = new FakeMllpReceiver((m, _) => m.ControlId == "STUCK" && !Volatile.Read(ref accept) ? Hl7AckCode.AE : Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port, maxAttempts: 3));

        await SendAsync(server, "relay", "STUCK", "NEXT");

        await server.WhenStateAsync("NEXT", MessageStates.Sent);
        await server.WhenStateAsync("STUCK", MessageStates.Error);
        var stuck = await server.MessageAsync("STUCK");
        Assert.Equal((MessageStates.Error, DeliveryStates.DeadLetter, 3), (stuck.State, stuck.Deliveries[0].State, stuck.Deliveries[0].Attempts));

        Volatile.Write(ref accept, true);
        using var response = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/{stuck.Id}/reprocess", null, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await server.WhenStateAsync("STUCK", MessageStates.Sent);
        Assert.Equal(4, receiver.Received.Count(m => m.ControlId == "STUCK"));
    }

    [Fact]
    public async Task a_paused_channel_takes_messages_but_delivers_them_only_when_resumed()
    {
        await using var receiver = new FakeMllpReceiver((_, _) => Hl7AckCode.AA);
        await using var server = await MessagingServer.StartAsync(MessagingServer.RelayChannel(receiver.Port));
        using (var pause = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/channels/relay/pause", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        }

        await SendAsync(server, "relay", "HELD");
        // The pass in progress when HELD was stored may have begun before it; the next one began after, saw the message
        // and the pause, and would have delivered it (within that pass) had it ignored the pause.
        var passes = server.Broker.DeliveryCycles("relay", "downstream");
        await MessagingServer.EventuallyAsync(() => Task.FromResult(server.Broker.DeliveryCycles("relay", "downstream") >= passes + 2),
            "the paused worker completes two passes");
        Assert.Empty(receiver.Received);
        Assert.Equal(MessageStates.Queued, (await server.MessageAsync("HELD")).State);

        using (var resume = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/channels/relay/resume", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        await server.WhenStateAsync("HELD", MessageStates.Sent);
    }

    [Fact]
    public async Task an_http_destination_posts_the_message_and_retries_a_server_error()
    {
        using var tcp = new TcpListener(IPAddress.Loopback, 0);
        tcp.Start();
        var port = ((IPEndPoint)tcp.LocalEndpoint).Port;
        tcp.Stop();
        using var http = new HttpListener();
        http.Prefixes.Add($"http://127.0.0.1:{port}/");
        http.Start();
        var bodies = new List<(string Body, string? Type, string? Auth)>();
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                var context = await http.GetContextAsync();
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                bodies.Add((await reader.ReadToEndAsync(Ct), context.Request.ContentType, context.Request.Headers["Authorization"]));
                context.Response.StatusCode = i == 0 ? 503 : 202;
                context.Response.Close();
            }
        }, Ct);
        await using var server = await MessagingServer.StartAsync(
        [
            .. MessagingServer.InboundChannel(destination: "http", extra:
            [
                ("Destinations:0:Url", $"http://127.0.0.1:{port}/inbox"),
                ("Destinations:0:Authorization", "Bearer downstream-token"),
                ("Destinations:0:RetryDelay", "00:00:00.050"),
            ]),
        ]);

        await SendAsync(server, "adt-in", "HTTP-1");

        await server.WhenStateAsync("HTTP-1", MessageStates.Sent);
        await serving;
        Assert.Equal(2, bodies.Count);
        Assert.Contains("HTTP-1", bodies[1].Body, StringComparison.Ordinal);
        Assert.StartsWith("application/fhir+json", bodies[1].Type, StringComparison.Ordinal);
        Assert.Equal("Bearer downstream-token", bodies[1].Auth);
        Assert.Equal(2, (await server.MessageAsync("HTTP-1")).Deliveries[0].Attempts);
    }

    [Fact]
    public async Task a_retry_after_the_record_committed_finds_the_receipt_and_writes_nothing_twice()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());
        await SendAsync(server, "adt-in", "ONCE-1");
        await server.WhenStateAsync("ONCE-1", MessageStates.Sent);
        var message = await server.MessageAsync("ONCE-1");

        // As if the process died after the record's commit and before the message store's: the delivery is pending again.
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, SqliteMessageStore.FileName)};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = $"UPDATE message_delivery SET state = 'queued' WHERE message_id = {message.Id}; UPDATE message SET state = 'queued' WHERE id = {message.Id};";
            await command.ExecuteNonQueryAsync(Ct);
        }

        // Resuming wakes the channel's workers at once instead of at their next poll.
        await server.Broker.SetPausedAsync("adt-in", false, Ct);
        await server.WhenStateAsync("ONCE-1", MessageStates.Sent);

        var again = await server.MessageAsync("ONCE-1");
        Assert.Equal(2, again.Deliveries[0].Attempts);
        Assert.Contains("receipt", again.Deliveries[0].Response, StringComparison.Ordinal);
        Assert.Equal(1, await server.PatientsWithControlIdAsync("ONCE-1"));
    }
}
