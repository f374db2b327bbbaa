using System.Buffers;

namespace CareHub.Hl7v2.Mllp;

/// <summary>Writes MLLP frames (<c>0x0B message 0x1C 0x0D</c>) to a stream, one write and flush per message.</summary>
public sealed class MllpWriter
{
    private readonly Stream stream;

    /// <summary>Creates a writer over <paramref name="stream"/>; the writer does not own the stream.</summary>
    public MllpWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        this.stream = stream;
    }

    /// <summary>Frames <paramref name="message"/> into a new array.</summary>
    /// <exception cref="ArgumentException">The message contains a start or end block byte, which would break the framing.</exception>
    public static byte[] Frame(ReadOnlySpan<byte> message)
    {
        EnsureFramable(message);
        byte[] framed = new byte[message.Length + 3];
        WriteFrame(message, framed);
        return framed;
    }

    /// <summary>Writes one framed message and flushes.</summary>
    /// <exception cref="ArgumentException">The message contains a start or end block byte.</exception>
    public async ValueTask WriteMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        EnsureFramable(message.Span);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(message.Length + 3);
        try
        {
            WriteFrame(message.Span, buffer);
            await this.stream.WriteAsync(buffer.AsMemory(0, message.Length + 3), cancellationToken);
            await this.stream.FlushAsync(cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Encodes (per MSH-18) and writes one message.</summary>
    public ValueTask WriteMessageAsync(Hl7Message message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return WriteMessageAsync(message.EncodeBytes(), cancellationToken);
    }

    private static void WriteFrame(ReadOnlySpan<byte> message, Span<byte> destination)
    {
        destination[0] = MllpReader.StartBlock;
        message.CopyTo(destination[1..]);
        destination[message.Length + 1] = MllpReader.EndBlock;
        destination[message.Length + 2] = MllpReader.CarriageReturn;
    }

    private static void EnsureFramable(ReadOnlySpan<byte> message)
    {
        if (message.IndexOfAny(MllpReader.StartBlock, MllpReader.EndBlock) >= 0)
        {
            throw new ArgumentException("the message contains 0x0B or 0x1C, which MLLP reserves for framing", nameof(message));
        }
    }
}
