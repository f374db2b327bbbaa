using System.Net.Sockets;

namespace CareHub.Hl7v2.Mllp;

/// <summary>
/// Sends messages over one MLLP connection and waits for each ACK. Sends are serialised: HL7 v2 over MLLP
/// is one message, then its acknowledgment.
/// </summary>
public sealed class MllpClient : IAsyncDisposable
{
    private readonly TcpClient? tcp;
    private readonly Stream stream;
    private readonly bool ownsStream;
    private readonly MllpReader reader;
    private readonly MllpWriter writer;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>Uses an open stream, e.g. a TLS stream or one end of a pipe.</summary>
    public MllpClient(Stream stream, MllpOptions? options = null, bool ownsStream = true)
        : this(null, stream, options, ownsStream)
    {
    }

    private MllpClient(TcpClient? tcp, Stream stream, MllpOptions? options, bool ownsStream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        MllpOptions o = options ?? MllpOptions.Default;
        this.tcp = tcp;
        this.stream = stream;
        this.ownsStream = ownsStream;
        // The wait for an ACK is the reader's wait for a frame to start.
        this.reader = new MllpReader(stream, o with { IdleTimeout = o.AckTimeout });
        writer = new MllpWriter(stream);
    }

    /// <summary>Connects over TCP.</summary>
    public static async Task<MllpClient> ConnectAsync(string host, int port, MllpOptions? options = null, CancellationToken cancellationToken = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
            return new MllpClient(tcp, tcp.GetStream(), options, ownsStream: true);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Bytes the reader dropped because they were outside frames.</summary>
    public long SkippedBytes => this.reader.SkippedBytes;

    /// <summary>Sends raw message bytes and returns the raw reply.</summary>
    /// <exception cref="MllpException">The connection closed before the reply, or a limit was hit.</exception>
    public async Task<byte[]> SendRawAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            await writer.WriteMessageAsync(message, cancellationToken);
            return await this.reader.ReadMessageAsync(cancellationToken)
                ?? throw new MllpException("the connection closed before an acknowledgment arrived");
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Sends a message and returns its ACK, checked to acknowledge this message (MSA-2 equals MSH-10).
    /// The caller reads MSA-1 for the outcome.
    /// </summary>
    /// <exception cref="MllpException">No ACK arrived, or it acknowledged another message.</exception>
    /// <exception cref="Hl7ParseException">The reply is not an HL7 message.</exception>
    public async Task<Hl7Message> SendAsync(Hl7Message message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        byte[] reply = await SendRawAsync(message.EncodeBytes(), cancellationToken);
        Hl7Message ack = Hl7Message.Parse(reply, new Hl7ParseOptions { RequireHeaderFields = false });
        string acknowledged = ack.Get("MSA-2");
        if (!string.Equals(acknowledged, message.ControlId, StringComparison.Ordinal))
        {
            throw new MllpException("the reply does not acknowledge the message sent (MSA-2 differs from MSH-10)");
        }

        return ack;
    }

    /// <summary>Closes the connection when the client owns it.</summary>
    public async ValueTask DisposeAsync()
    {
        this.reader.Dispose();
        gate.Dispose();
        if (this.ownsStream)
        {
            await this.stream.DisposeAsync();
            this.tcp?.Dispose();
        }
    }
}
