using System.Globalization;
using CareHub.Messaging.Storage;

namespace CareHub.Messaging.Destinations;

/// <summary>
/// Writes one file per message, named after the message (<c>{id}-{uid}.hl7</c> or <c>.json</c>), through a temporary
/// file and a rename, so a reader never sees half a file and a repeated attempt replaces rather than adds.
/// </summary>
public sealed class FolderDestination(DestinationOptions options) : IMessageDestination
{
    public async Task<DeliveryResult> DeliverAsync(DeliveryClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var (content, contentType) = DeliveryContent.Of(claim.Message);
        var name = $"{claim.Message.Id.ToString("D10", CultureInfo.InvariantCulture)}-{claim.Message.Uid}{DeliveryContent.Extension(contentType)}";
        try
        {
            Directory.CreateDirectory(options.Path!);
            var target = Path.Combine(options.Path!, name);
            var temporary = Path.Combine(options.Path!, "." + name + ".tmp");
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
            await using (var writer = new StreamWriter(file))
            {
                await writer.WriteAsync(content.AsMemory(), cancellationToken);
            }

            File.Move(temporary, target, overwrite: true);
            return DeliveryResult.Success(name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DeliveryResult.Retry(e.Message);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
