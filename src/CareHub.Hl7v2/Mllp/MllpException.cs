namespace CareHub.Hl7v2.Mllp;

/// <summary>An MLLP connection broke the framing rules or its limits; the connection should be closed.</summary>
public class MllpException : IOException
{
    /// <summary>Creates the exception.</summary>
    public MllpException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>A frame grew past <see cref="MllpOptions.MaxMessageBytes"/>.</summary>
public sealed class MllpMessageTooLargeException : MllpException
{
    /// <summary>Creates the exception.</summary>
    public MllpMessageTooLargeException(int limit)
        : base($"MLLP frame exceeds the maximum message size of {limit} bytes") => Limit = limit;

    /// <summary>The limit that was passed.</summary>
    public int Limit { get; }
}

/// <summary>No frame started within the idle timeout, or a started frame did not end within the frame timeout.</summary>
public sealed class MllpTimeoutException : MllpException
{
    /// <summary>Creates the exception.</summary>
    public MllpTimeoutException(bool midFrame, TimeSpan timeout)
        : base(midFrame
            ? $"MLLP frame not completed within {timeout.TotalMilliseconds:0} ms of its start"
            : $"no MLLP frame started within {timeout.TotalMilliseconds:0} ms")
    {
        IsMidFrame = midFrame;
        Timeout = timeout;
    }

    /// <summary>True when the timeout hit inside a frame, false when waiting for one.</summary>
    public bool IsMidFrame { get; }

    /// <summary>The timeout that expired.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>The stream ended inside a frame.</summary>
public sealed class MllpIncompleteFrameException : MllpException
{
    /// <summary>Creates the exception.</summary>
    public MllpIncompleteFrameException(int bytesReceived)
        : base($"the connection closed inside an MLLP frame after {bytesReceived} bytes of message") => BytesReceived = bytesReceived;

    /// <summary>Message bytes received before the stream ended.</summary>
    public int BytesReceived { get; }
}

/// <summary>Bytes that arrived outside a frame and were dropped.</summary>
public sealed class MllpBytesSkippedEventArgs(int count, bool partialFrame) : EventArgs
{
    /// <summary>How many bytes were dropped.</summary>
    public int Count { get; } = count;

    /// <summary>True when they were a partial frame cut short by a new start block.</summary>
    public bool PartialFrame { get; } = partialFrame;
}
