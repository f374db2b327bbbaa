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

    private readonly Stream _stream;
    private readonly MllpOptions _options;
    private readonly byte[] _buffer;
    private int _pos;
    private int _len;
    private byte[] _frame;
    private int _frameLength;
    private bool _expectCarriageReturn;
    private bool _disposed;

    /// <summary>Creates a reader over <paramref name="stream"/>; the reader does not own the stream.</summary>
    public MllpReader(Stream stream, MllpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _options = options ?? MllpOptions.Default;
        _options.Validate();
        // Not pooled: after a timeout a stream that ignores cancellation may still write into it later.
        _buffer = new byte[_options.ReadBufferSize];
        _frame = ArrayPool<byte>.Shared.Rent(Math.Min(_options.MaxMessageBytes, 4096));
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Schedule(timeout, _options.IdleTimeout);
        bool inFrame = false;
        _frameLength = 0;

        while (true)
        {
            if (_pos == _len)
            {
                int read = await FillAsync(timeout, inFrame, cancellationToken);
                if (read == 0)
                {
                    if (inFrame)
                    {
                        throw new MllpIncompleteFrameException(_frameLength);
                    }

                    return null;
                }
            }

            if (_expectCarriageReturn)
            {
                // The CR of the previous frame's trailer may arrive in a later read; it is framing, not garbage.
                _expectCarriageReturn = false;
                if (_buffer[_pos] == CarriageReturn)
                {
                    _pos++;
                    continue;
                }
            }

            ReadOnlySpan<byte> data = _buffer.AsSpan(_pos, _len - _pos);
            if (!inFrame)
            {
                int start = data.IndexOf(StartBlock);
                if (start < 0)
                {
                    Skip(data.Length, partialFrame: false);
                    _pos = _len;
                    continue;
                }

                if (start > 0)
                {
                    Skip(start, partialFrame: false);
                }

                _pos += start + 1;
                inFrame = true;
                Schedule(timeout, _options.FrameTimeout);
                continue;
            }

            int stop = data.IndexOfAny(EndBlock, StartBlock);
            if (stop < 0)
            {
                Append(data);
                _pos = _len;
                continue;
            }

            Append(data[..stop]);
            _pos += stop + 1;
            if (data[stop] == StartBlock)
            {
                // A new start block before the end block: the sender gave up on that frame. Its bytes cannot
                // be trusted as a message, so they are dropped and reading starts over with the new frame.
                Skip(_frameLength + 1, partialFrame: true);
                _frameLength = 0;
                Schedule(timeout, _options.FrameTimeout);
                continue;
            }

            if (_pos < _len)
            {
                if (_buffer[_pos] == CarriageReturn)
                {
                    _pos++;
                }
            }
            else
            {
                _expectCarriageReturn = true;
            }

            return _frame.AsSpan(0, _frameLength).ToArray();
        }
    }

    /// <summary>Returns the pooled frame buffer.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ArrayPool<byte>.Shared.Return(_frame);
        _frame = [];
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
        _pos = 0;
        _len = 0;
        int read;
        try
        {
            ValueTask<int> pending = _stream.ReadAsync(_buffer.AsMemory(), timeout.Token);
            // WaitAsync bounds the wait even for a stream that ignores cancellation.
            read = pending.IsCompletedSuccessfully ? pending.Result : await pending.AsTask().WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MllpTimeoutException(inFrame, inFrame ? _options.FrameTimeout : _options.IdleTimeout);
        }

        _len = read;
        return read;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int needed = _frameLength + data.Length;
        if (needed > _options.MaxMessageBytes)
        {
            throw new MllpMessageTooLargeException(_options.MaxMessageBytes);
        }

        if (needed > _frame.Length)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(needed, _frame.Length * 2), _options.MaxMessageBytes));
            _frame.AsSpan(0, _frameLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_frame);
            _frame = bigger;
        }

        data.CopyTo(_frame.AsSpan(_frameLength));
        _frameLength = needed;
    }

    private void Skip(int count, bool partialFrame)
    {
        SkippedBytes += count;
        BytesSkipped?.Invoke(this, new MllpBytesSkippedEventArgs(count, partialFrame));
    }
}
