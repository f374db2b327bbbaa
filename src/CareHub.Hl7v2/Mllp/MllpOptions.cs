namespace CareHub.Hl7v2.Mllp;

/// <summary>Limits for reading MLLP frames. Network input is bounded: size and time.</summary>
public sealed record MllpOptions
{
    /// <summary>The defaults.</summary>
    public static MllpOptions Default { get; } = new();

    /// <summary>Largest message accepted, in bytes, framing excluded. Default 16 MiB.</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Longest wait for the start of the next frame (bytes outside frames do not extend it); then
    /// <see cref="MllpTimeoutException"/>. Default 10 minutes; <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Longest time from a frame's start block to its end block, so that a stalled or trickling sender cannot
    /// hold a connection mid-frame. Default 30 seconds.
    /// </summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long <see cref="MllpClient"/> waits for the ACK to start after sending. Default 30 seconds.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes read from the stream at a time. Default 16 KiB.</summary>
    public int ReadBufferSize { get; init; } = 16 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of range.</summary>
    public void Validate()
    {
        if (MaxMessageBytes < 1)
        {
            throw new ArgumentException($"{nameof(MaxMessageBytes)} must be at least 1");
        }

        if (ReadBufferSize < 1)
        {
            throw new ArgumentException($"{nameof(ReadBufferSize)} must be at least 1");
        }

        foreach ((string name, TimeSpan value) in new[] { (nameof(IdleTimeout), IdleTimeout), (nameof(FrameTimeout), FrameTimeout), (nameof(AckTimeout), AckTimeout) })
        {
            if (value != Timeout.InfiniteTimeSpan && value <= TimeSpan.Zero)
            {
                throw new ArgumentException($"{name} must be positive or Timeout.InfiniteTimeSpan");
            }
        }
    }
}
