using System.Buffers;

namespace CareHub.Hl7v2.Mllp;

/// <summary>
/// Reads MLLP frames (HL7 v2 Minimal Lower Layer Protocol, release 2: <c>0x0B message 0x1C 0x0D</c>) from a
/// stream. Frames may arrive split at any byte; bytes outside frames are dropped and reported through
/// <see cref="BytesSkipped"/> and <see cref="SkippedBytes"/>. Size and time are bounded by <see cref="MllpOptions"/>.
/// Not thread-safe: one reader per connection, one read at a time.
/// </summary>
public sealed class MllpReader : IDisposable
{
    /// <summary>Start block (VT).</summary>
    public const byte StartBlock = 0x0B;

    /// <summary>End block (FS).</summary>
    public const byte EndBlock = 0x1C;

    /// <summary>Carriage return that follows the end block.</summary>
    public const byte CarriageReturn = 0x0D;

    private readonly Stream stream;
    private readonly MllpOptions options;
    private readonly byte[] buffer;
    private int pos;
    private int len;
    private byte[] frame;
    private int frameLength;
    private bool expectCarriageReturn;
    private bool disposed;

    /// <summary>Creates a reader over <paramref name="stream"/>; the reader does not own the stream.</summary>
    public MllpReader(Stream stream, MllpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        this.stream = stream;
        this.options = options ?? MllpOptions.Default;
        this.options.Validate();
        // Not pooled: after a timeout a stream that ignores cancellation may still write into it later.
        this.buffer = new byte[this.options.ReadBufferSize];
        this.frame = ArrayPool<byte>.Shared.Rent(Math.Min(this.options.MaxMessageBytes, 4096));
    }

    /// <summary>Raised when bytes outside a frame are dropped.</summary>
    public event EventHandler<MllpBytesSkippedEventArgs>? BytesSkipped;

    /// <summary>Total bytes dropped so far because they were outside a frame.</summary>
    public long SkippedBytes { get; private set; }

    /// <summary>
    /// Reads the next message: the bytes between a start block and an end block. Returns null when the
    /// stream ends between frames.
    /// </summary>
    /// <exception cref="MllpMessageTooLargeException">The frame is larger than <see cref="MllpOptions.MaxMessageBytes"/>.</exception>
    /// <exception cref="MllpTimeoutException">No frame started within the idle timeout, or a frame did not finish within the frame timeout.</exception>
    /// <exception cref="MllpIncompleteFrameException">The stream ended inside a frame.</exception>
    public async ValueTask<byte[]?> ReadMessageAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Schedule(timeout, this.options.IdleTimeout);
        bool inFrame = false;
        frameLength = 0;

        while (true)
        {
            if (pos == len)
            {
                int read = await FillAsync(timeout, inFrame, cancellationToken);
                if (read == 0)
                {
                    if (inFrame)
                    {
                        throw new MllpIncompleteFrameException(frameLength);
                    }

                    return null;
                }
            }

            if (expectCarriageReturn)
            {
                // The CR of the previous frame's trailer may arrive in a later read; it is framing, not garbage.
                expectCarriageReturn = false;
                if (this.buffer[pos] == CarriageReturn)
                {
                    pos++;
                    continue;
                }
            }

            ReadOnlySpan<byte> data = this.buffer.AsSpan(pos, len - pos);
            if (!inFrame)
            {
                int start = data.IndexOf(StartBlock);
                if (start < 0)
                {
                    Skip(data.Length, partialFrame: false);
                    pos = len;
                    continue;
                }

                if (start > 0)
                {
                    Skip(start, partialFrame: false);
                }

                pos += start + 1;
                inFrame = true;
                Schedule(timeout, this.options.FrameTimeout);
                continue;
            }

            int stop = data.IndexOfAny(EndBlock, StartBlock);
            if (stop < 0)
            {
                Append(data);
                pos = len;
                continue;
            }

            Append(data[..stop]);
            pos += stop + 1;
            if (data[stop] == StartBlock)
            {
                // A new start block before the end block: the sender gave up on that frame. Its bytes cannot
                // be trusted as a message, so they are dropped and reading starts over with the new frame.
                Skip(frameLength + 1, partialFrame: true);
                frameLength = 0;
                Schedule(timeout, this.options.FrameTimeout);
                continue;
            }

            if (pos < len)
            {
                if (this.buffer[pos] == CarriageReturn)
                {
                    pos++;
                }
            }
            else
            {
                expectCarriageReturn = true;
            }

            return this.frame.AsSpan(0, frameLength).ToArray();
        }
    }

    /// <summary>Returns the pooled frame buffer.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        ArrayPool<byte>.Shared.Return(this.frame);
        this.frame = [];
    }

    private static void Schedule(CancellationTokenSource timeout, TimeSpan after)
    {
        if (after != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(after);
        }
    }

    private async ValueTask<int> FillAsync(CancellationTokenSource timeout, bool inFrame, CancellationToken cancellationToken)
    {
        pos = 0;
        len = 0;
        int read;
        try
        {
            ValueTask<int> pending = this.stream.ReadAsync(this.buffer.AsMemory(), timeout.Token);
            // WaitAsync bounds the wait even for a stream that ignores cancellation.
            read = pending.IsCompletedSuccessfully ? pending.Result : await pending.AsTask().WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MllpTimeoutException(inFrame, inFrame ? this.options.FrameTimeout : this.options.IdleTimeout);
        }

        len = read;
        return read;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int needed = frameLength + data.Length;
        if (needed > this.options.MaxMessageBytes)
        {
            throw new MllpMessageTooLargeException(this.options.MaxMessageBytes);
        }

        if (needed > this.frame.Length)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(needed, this.frame.Length * 2), this.options.MaxMessageBytes));
            this.frame.AsSpan(0, frameLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(this.frame);
            this.frame = bigger;
        }

        data.CopyTo(this.frame.AsSpan(frameLength));
        frameLength = needed;
    }

    private void Skip(int count, bool partialFrame)
    {
        SkippedBytes += count;
        BytesSkipped?.Invoke(this, new MllpBytesSkippedEventArgs(count, partialFrame));
    }
}
