using System.Net.Sockets;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Messaging.Destinations;

/// <summary>
/// Sends HL7 v2 messages over MLLP and waits for each ACK. The connection stays open between messages and is opened
/// again after any failure. AA/CA is delivered; AR/CR is a rejection (dead-letter); AE/CE and network failures are retried.
/// </summary>
public sealed class MllpDestination(DestinationOptions options) : IMessageDestination
{
    private MllpClient? client;

    public async Task<DeliveryResult> DeliverAsync(DeliveryClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var (content, contentType) = DeliveryContent.Of(claim.Message);
        if (!contentType.Contains("hl7-v2", StringComparison.OrdinalIgnoreCase))
        {
            return DeliveryResult.Reject($"an MLLP destination sends HL7 v2; this channel's transformer produced {contentType}");
        }

        Hl7Message message;
        try
        {
            message = Hl7Message.Parse(content);
        }
        catch (Hl7ParseException e)
        {
            return DeliveryResult.Reject($"the content is not an HL7 v2 message: {e.Message}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            client ??= await MllpClient.ConnectAsync(options.Host!, options.Port, new MllpOptions { AckTimeout = options.Timeout }, timeout.Token);
            var ack = await client.SendAsync(message, timeout.Token);
            var code = ack.Get("MSA-1");
            var text = ack.Encode();
            return code switch
            {
                "AA" or "CA" => DeliveryResult.Success(text),
                "AR" or "CR" => DeliveryResult.Reject($"the receiver rejected the message ({code}): {ack.Get("ERR-3.2")}{ack.Get("MSA-3")}", text),
                _ => DeliveryResult.Retry($"the receiver answered {code}: {ack.Get("ERR-3.2")}{ack.Get("MSA-3")}", text),
            };
        }
        catch (Exception e) when (e is MllpException or SocketException or IOException or Hl7ParseException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await ResetAsync();
            return DeliveryResult.Retry(e is OperationCanceledException ? $"no ACK within {options.Timeout}" : e.Message);
        }
    }

    private async Task ResetAsync()
    {
        if (client is not null)
        {
            await client.DisposeAsync();
            client = null;
        }
    }

    public ValueTask DisposeAsync() => new(ResetAsync());
}
