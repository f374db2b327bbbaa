using CareHub.Messaging.Storage;

namespace CareHub.Messaging.Destinations;

/// <summary>
/// One destination of a channel. A destination delivers one message at a time, from one worker, in queue order, so
/// implementations may keep a connection open between deliveries.
/// </summary>
public interface IMessageDestination : IAsyncDisposable
{
    /// <summary>Delivers the claimed message; failures come back as results, not exceptions, where they are expected.</summary>
    Task<DeliveryResult> DeliverAsync(DeliveryClaim claim, CancellationToken cancellationToken);
}

/// <summary>
/// The outcome of one attempt. <see cref="Permanent"/> failures (a rejection, a request the destination will never take)
/// go to dead-letter at once; the others are retried with backoff until the attempts run out.
/// </summary>
public sealed record DeliveryResult(bool Sent, bool Permanent, string? Error, string? Response)
{
    public static DeliveryResult Success(string? response = null) => new(true, false, null, response);

    public static DeliveryResult Retry(string error, string? response = null) => new(false, false, error, response);

    public static DeliveryResult Reject(string error, string? response = null) => new(false, true, error, response);
}

/// <summary>What a destination sends for a message: the transformed content, or the raw message when nothing transformed it.</summary>
public static class DeliveryContent
{
    public static (string Content, string ContentType) Of(StoredMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Transformed is { } transformed
            ? (transformed, message.TransformedType ?? TransformedContent.Hl7v2)
            : (SqlMessageStore.DisplayText(message.Raw), TransformedContent.Hl7v2);
    }

    /// <summary>A file extension for the content type.</summary>
    public static string Extension(string contentType) => contentType.Contains("json", StringComparison.OrdinalIgnoreCase) ? ".json" : ".hl7";
}
