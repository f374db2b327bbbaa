using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// A fake MLLP sender that misbehaves in every way we know of. Each time the answer must be an AE/AR ACK or a closed
/// connection, the listener must go on serving, and every message that was acknowledged AA must be in the store.
/// </summary>
public sealed class HostilePeerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IEnumerable<KeyValuePair<string, string?>> Channel() => MessagingServer.InboundChannel(extra:
    [
        ("Source:MaxMessageBytes", "4096"),
        ("Source:FrameTimeout", "00:00:01"),
        ("Source:IdleTimeout", "00:00:03"),
    ]);

    private static byte[] Frame(string text) => MllpWriter.Frame(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads one framed reply, or null when the server closed the connection.</summary>
    private static async Task<Hl7Message?> ReplyAsync(NetworkStream stream)
    {
        using var reader = new MllpReader(stream, new MllpOptions { IdleTimeout = TimeSpan.FromSeconds(20) });
        try
        {
            var reply = await reader.ReadMessageAsync(Ct);
            return reply is null ? null : Hl7Message.Parse(reply, new Hl7ParseOptions { RequireHeaderFields = false });
        }
        catch (MllpIncompleteFrameException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task<TcpClient> ConnectAsync(MessagingServer server)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, Ct);
        return tcp;
    }

    [Fact]
    public async Task a_frame_split_at_every_byte_is_read_whole_and_acknowledged()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();

        foreach (var b in Frame(MessagingServer.Adt("SPLIT-1")))
        {
            await stream.WriteAsync(new[] { b }, Ct);
            await stream.FlushAsync(Ct);
        }

        var ack = await ReplyAsync(stream);
        Assert.Equal(("AA", "SPLIT-1"), (ack?.Get("MSA-1"), ack?.Get("MSA-2")));
        Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "SPLIT-1"), Ct));
    }

    [Fact]
    public async Task garbage_between_frames_is_dropped_and_the_frames_either_side_are_acknowledged()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();

        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n\x1c\r"), Ct);
        await stream.WriteAsync(Frame(MessagingServer.Adt("G-1")), Ct);
        var first = await ReplyAsync(stream);
        await stream.WriteAsync(new byte[] { 0x00, 0xFF, 0x13, 0x37, 0x1C, 0x0D, 0x0D }, Ct);
        await stream.WriteAsync(Frame(MessagingServer.Adt("G-2")), Ct);
        var second = await ReplyAsync(stream);

        Assert.Equal(("AA", "G-1"), (first?.Get("MSA-1"), first?.Get("MSA-2")));
        Assert.Equal(("AA", "G-2"), (second?.Get("MSA-1"), second?.Get("MSA-2")));
    }

    [Fact]
    public async Task a_sender_that_stalls_mid_frame_is_cut_off_and_the_listener_carries_on()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();
        var frame = Frame(MessagingServer.Adt("STALL-1"));

        await stream.WriteAsync(frame.AsMemory(0, frame.Length / 2), Ct);
        var watch = Stopwatch.StartNew();
        var reply = await ReplyAsync(stream);

        Assert.Null(reply);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), "the frame timeout closed the connection");
        Assert.Empty(await server.Store.SearchAsync(new MessageQuery(ControlId: "STALL-1"), Ct));
        await AssertStillServingAsync(server, "STALL-2");
    }

    [Fact]
    public async Task an_oversize_message_closes_the_connection_and_stores_nothing_half_read()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();
        var huge = MessagingServer.Adt("HUGE-1") + "NTE|1||" + new string('x', 10_000) + "\r";

        try
        {
            await stream.WriteAsync(Frame(huge), Ct);
        }
        catch (IOException)
        {
            // The server may close while we are still writing.
        }

        Assert.Null(await ReplyAsync(stream));
        Assert.Empty(await server.Store.SearchAsync(new MessageQuery(ControlId: "HUGE-1"), Ct));
        await AssertStillServingAsync(server, "HUGE-2");
    }

    [Fact]
    public async Task a_frame_without_MSH_is_kept_in_error_and_the_connection_closed()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        using var tcp = await ConnectAsync(server);
        var stream = tcp.GetStream();

        await stream.WriteAsync(Frame("PID|1||123^^^RAL^MR\rPV1|1|I\r"), Ct);

        Assert.Null(await ReplyAsync(stream));
        var kept = Assert.Single(await server.Store.SearchAsync(new MessageQuery(State: MessageStates.Error), Ct));
        Assert.Contains("MSH", kept.Error, StringComparison.Ordinal);
        await AssertStillServingAsync(server, "NOMSH-2");
    }

    [Fact]
    public async Task wrong_delimiters_and_binary_noise_in_a_frame_get_an_error_ack_or_a_close_never_a_crash()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        string[] bad =
        [
            // The same character as field separator and component separator.
            "MSH|||~\\&|PAS|RAL|||20240301||ADT^A01|DELIM-1|P|2.5.1\r",
            // Field separator is a letter.
            "MSHA^~\\&APASARAL",
            // A header cut short.
            "MSH|",
        ];
        foreach (var text in bad)
        {
            using var tcp = await ConnectAsync(server);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Frame(text), Ct);
            var reply = await ReplyAsync(stream);
            Assert.True(reply is null || reply.Get("MSA-1") is "AE" or "AR", $"answer to '{text}': {reply?.Encode()}");
        }

        using (var tcp = await ConnectAsync(server))
        {
            var noise = new byte[2048];
            new Random(7).NextBytes(noise);
            for (var i = 0; i < noise.Length; i++)
            {
                if (noise[i] is MllpReader.StartBlock or MllpReader.EndBlock)
                {
                    noise[i] = 0x41;
                }
            }

            var stream = tcp.GetStream();
            await stream.WriteAsync(MllpWriter.Frame(noise), Ct);
            var reply = await ReplyAsync(stream);
            Assert.True(reply is null || reply.Get("MSA-1") is "AE" or "AR", $"answer to noise: {reply?.Encode()}");
        }

        Assert.Equal(bad.Length + 1, (await server.Store.SearchAsync(new MessageQuery(State: MessageStates.Error), Ct)).Count);
        await AssertStillServingAsync(server, "AFTER-NOISE");
    }

    [Fact]
    public async Task after_every_kind_of_abuse_each_message_acknowledged_AA_is_stored_and_delivered()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        var accepted = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            using var tcp = await ConnectAsync(server);
            var stream = tcp.GetStream();
            var id = $"MIX-{round}";
            await stream.WriteAsync(new byte[] { 0x41, 0x42, 0x0D }, Ct);
            await stream.WriteAsync(Frame(MessagingServer.Adt(id)), Ct);
            var ack = await ReplyAsync(stream);
            if (ack?.Get("MSA-1") == "AA")
            {
                accepted.Add(id);
            }

            // Then abandon the connection mid-frame.
            await stream.WriteAsync(Frame(MessagingServer.Adt(id + "-cut")).AsMemory(0, 20), Ct);
        }

        Assert.Equal(3, accepted.Count);
        foreach (var id in accepted)
        {
            await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync(id) == 1, $"{id} is in the record");
        }
    }

    private static async Task AssertStillServingAsync(MessagingServer server, string controlId)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
        var ack = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt(controlId)), Ct);
        Assert.Equal("AA", ack.Get("MSA-1"));
    }
}
