using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CareHub.Hl7v2.Mllp;

namespace CareHub.Hl7v2.Tests;

public class MllpTests
{
    private static readonly byte[] First = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||X\r");
    private static readonly byte[] Second = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|20240101||ADT^A08|2|P|2.5\rPID|1||Y\r");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task reads_two_frames_split_at_every_possible_byte()
    {
        byte[] stream = [.. MllpWriter.Frame(First), .. MllpWriter.Frame(Second)];

        for (int split = 0; split <= stream.Length; split++)
        {
            using var reader = new MllpReader(new ChunkedStream(stream, [split]));

            Assert.Equal(First, await reader.ReadMessageAsync(Ct));
            Assert.Equal(Second, await reader.ReadMessageAsync(Ct));
            Assert.Null(await reader.ReadMessageAsync(Ct));
            Assert.Equal(0, reader.SkippedBytes);
        }
    }

    [Fact]
    public async Task reads_frames_delivered_one_byte_at_a_time()
    {
        byte[] stream = [.. MllpWriter.Frame(First), .. MllpWriter.Frame(Second)];
        using var reader = new MllpReader(new ChunkedStream(stream, maxChunk: 1));

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
        Assert.Equal(Second, await reader.ReadMessageAsync(Ct));
        Assert.Null(await reader.ReadMessageAsync(Ct));
        Assert.Equal(0, reader.SkippedBytes);
    }

    [Fact]
    public async Task skips_and_reports_bytes_outside_frames()
    {
        byte[] stream = [.. "noise"u8, .. MllpWriter.Frame(First), .. "\r\n\0more"u8, .. MllpWriter.Frame(Second), .. "tail"u8];
        using var reader = new MllpReader(new ChunkedStream(stream, maxChunk: 3));
        long reported = 0;
        reader.BytesSkipped += (_, e) => reported += e.Count;

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
        Assert.Equal(Second, await reader.ReadMessageAsync(Ct));
        Assert.Null(await reader.ReadMessageAsync(Ct));
        Assert.Equal(5 + 7 + 4, reader.SkippedBytes);
        Assert.Equal(reader.SkippedBytes, reported);
    }

    [Fact]
    public async Task a_frame_cut_short_by_a_new_start_block_is_dropped_and_the_new_frame_read()
    {
        byte[] stream = [0x0B, .. "MSH|partial"u8, .. MllpWriter.Frame(First)];
        using var reader = new MllpReader(new ChunkedStream(stream, maxChunk: 4));
        bool partial = false;
        reader.BytesSkipped += (_, e) => partial |= e.PartialFrame;

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
        Assert.True(partial);
        Assert.Equal(12, reader.SkippedBytes);
    }

    [Fact]
    public async Task an_end_block_without_its_carriage_return_still_ends_the_frame()
    {
        byte[] stream = [0x0B, .. First, 0x1C, 0x0B, .. Second, 0x1C, 0x0D];
        using var reader = new MllpReader(new MemoryStream(stream));

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
        Assert.Equal(Second, await reader.ReadMessageAsync(Ct));
        Assert.Null(await reader.ReadMessageAsync(Ct));
    }

    [Fact]
    public async Task an_oversize_frame_raises_the_size_exception()
    {
        using var reader = new MllpReader(new MemoryStream(MllpWriter.Frame(First)), new MllpOptions { MaxMessageBytes = First.Length - 1 });

        var e = await Assert.ThrowsAsync<MllpMessageTooLargeException>(async () => await reader.ReadMessageAsync(Ct));

        Assert.Equal(First.Length - 1, e.Limit);
    }

    [Fact]
    public async Task a_frame_of_exactly_the_maximum_size_is_accepted()
    {
        using var reader = new MllpReader(new MemoryStream(MllpWriter.Frame(First)), new MllpOptions { MaxMessageBytes = First.Length, ReadBufferSize = 7 });

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
    }

    [Fact]
    public async Task a_sender_that_stalls_mid_frame_times_out()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync((byte[])[0x0B, .. First.AsSpan(0, 10)], Ct);
        using var reader = new MllpReader(pipe.Reader.AsStream(), new MllpOptions { FrameTimeout = TimeSpan.FromMilliseconds(50) });

        var e = await Assert.ThrowsAsync<MllpTimeoutException>(async () => await reader.ReadMessageAsync(Ct));

        Assert.True(e.IsMidFrame);
    }

    [Fact]
    public async Task an_idle_connection_times_out_between_frames()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("noise only"u8.ToArray(), Ct);
        using var reader = new MllpReader(pipe.Reader.AsStream(), new MllpOptions { IdleTimeout = TimeSpan.FromMilliseconds(50) });

        var e = await Assert.ThrowsAsync<MllpTimeoutException>(async () => await reader.ReadMessageAsync(Ct));

        Assert.False(e.IsMidFrame);
        Assert.Equal(10, reader.SkippedBytes);
    }

    [Fact]
    public async Task a_stream_that_ends_mid_frame_raises_the_incomplete_frame_exception()
    {
        using var reader = new MllpReader(new MemoryStream([0x0B, .. First]));

        var e = await Assert.ThrowsAsync<MllpIncompleteFrameException>(async () => await reader.ReadMessageAsync(Ct));

        Assert.Equal(First.Length, e.BytesReceived);
    }

    [Fact]
    public void the_writer_refuses_bytes_that_would_break_the_framing()
    {
        Assert.Throws<ArgumentException>(() => MllpWriter.Frame([0x41, 0x1C, 0x41]));
        Assert.Throws<ArgumentException>(() => MllpWriter.Frame([0x0B]));
    }

    [Fact]
    public async Task writer_and_reader_round_trip_over_a_pipe()
    {
        var pipe = new Pipe();
        var writer = new MllpWriter(pipe.Writer.AsStream());
        using var reader = new MllpReader(pipe.Reader.AsStream());

        await writer.WriteMessageAsync(First, Ct);
        await writer.WriteMessageAsync(Hl7Message.Parse(Second), Ct);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(First, await reader.ReadMessageAsync(Ct));
        Assert.Equal(Second, await reader.ReadMessageAsync(Ct));
        Assert.Null(await reader.ReadMessageAsync(Ct));
    }

    [Fact]
    public async Task the_client_sends_over_loopback_and_returns_the_ack()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task server = AnswerAsync(listener, 2, Ct);

        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", port, cancellationToken: Ct))
        {
            Hl7Message ack1 = await client.SendAsync(Hl7Message.Parse(First), Ct);
            Hl7Message ack2 = await client.SendAsync(Hl7Message.Parse(Second), Ct);

            Assert.Equal("AA", ack1.Get("MSA-1"));
            Assert.Equal("1", ack1.Get("MSA-2"));
            Assert.Equal("2", ack2.Get("MSA-2"));
        }

        await server.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task the_client_refuses_an_ack_for_another_message()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        await using var client = new MllpClient(new DuplexStream(toClient.Reader.AsStream(), toServer.Writer.AsStream()));
        Hl7Message other = Hl7Acknowledgement.Accept(Hl7Message.Parse(Second));
        await new MllpWriter(toClient.Writer.AsStream()).WriteMessageAsync(other, Ct);

        await Assert.ThrowsAsync<MllpException>(() => client.SendAsync(Hl7Message.Parse(First), Ct));
    }

    [Fact]
    public async Task the_client_times_out_when_no_ack_comes()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        await using var client = new MllpClient(new DuplexStream(toClient.Reader.AsStream(), toServer.Writer.AsStream()),
            new MllpOptions { AckTimeout = TimeSpan.FromMilliseconds(50) });

        var e = await Assert.ThrowsAsync<MllpTimeoutException>(() => client.SendAsync(Hl7Message.Parse(First), Ct));

        Assert.False(e.IsMidFrame);
    }

    private static async Task AnswerAsync(TcpListener listener, int count, CancellationToken ct)
    {
        using TcpClient peer = await listener.AcceptTcpClientAsync(ct);
        NetworkStream stream = peer.GetStream();
        using var reader = new MllpReader(stream);
        var writer = new MllpWriter(stream);
        for (int i = 0; i < count; i++)
        {
            byte[] message = await reader.ReadMessageAsync(ct) ?? throw new InvalidOperationException("client closed early");
            await writer.WriteMessageAsync(Hl7Acknowledgement.Accept(Hl7Message.Parse(message)), ct);
        }
    }

    /// <summary>Serves fixed bytes in chunks: at the given split points, or at most <c>maxChunk</c> bytes per read.</summary>
    private sealed class ChunkedStream(byte[] data, int[]? splits = null, int maxChunk = int.MaxValue) : Stream
    {
        private int position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int end = Math.Min(data.Length, position + Math.Min(buffer.Length, maxChunk));
            foreach (int split in splits ?? [])
            {
                if (split > position && split < end)
                {
                    end = split;
                }
            }

            int n = end - position;
            data.AsSpan(position, n).CopyTo(buffer);
            position = end;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>One end of a connection built from two pipes.</summary>
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => input.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => output.WriteAsync(buffer, cancellationToken);
        public override void Flush() => output.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

public class MllpGarbageTests
{
    [Fact]
    public async Task random_bytes_yield_frames_or_mllp_errors_and_nothing_else()
    {
        var random = new Random(7);
        for (int run = 0; run < 300; run++)
        {
            byte[] data = new byte[random.Next(0, 400)];
            for (int i = 0; i < data.Length; i++)
            {
                int r = random.Next(10);
                data[i] = r == 0 ? MllpReader.StartBlock : r == 1 ? MllpReader.EndBlock : r == 2 ? MllpReader.CarriageReturn : (byte)random.Next(256);
            }

            using var reader = new MllpReader(new MemoryStream(data), new MllpOptions { MaxMessageBytes = 64, ReadBufferSize = 1 + random.Next(32) });
            long frameBytes = 0;
            try
            {
                while (await reader.ReadMessageAsync(TestContext.Current.CancellationToken) is { } frame)
                {
                    Assert.DoesNotContain(MllpReader.StartBlock, frame);
                    Assert.DoesNotContain(MllpReader.EndBlock, frame);
                    frameBytes += frame.Length;
                }

                Assert.True(reader.SkippedBytes + frameBytes <= data.Length);
            }
            catch (MllpException)
            {
            }
        }
    }
}
