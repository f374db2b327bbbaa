using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CareHub.Messaging.Storage;

namespace CareHub.Messaging.Destinations;

/// <summary>
/// POSTs each message to a URL. 2xx is delivered; 4xx other than 408 and 429 is a rejection (dead-letter); anything
/// else, and network failures, are retried.
/// </summary>
public sealed class HttpDestination(DestinationOptions options) : IMessageDestination
{
    private readonly HttpClient http = new() { Timeout = options.Timeout };

    public async Task<DeliveryResult> DeliverAsync(DeliveryClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var (content, contentType) = DeliveryContent.Of(claim.Message);
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Url)
        {
            Content = new StringContent(content, Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType).MediaType!),
        };
        request.Headers.TryAddWithoutValidation("X-CareHub-Message", claim.Message.Uid);
        if (options.Authorization is { } authorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
            var summary = body.Length > 4000 ? body[..4000] : body;
            if (response.IsSuccessStatusCode)
            {
                return DeliveryResult.Success(status);
            }

            return (int)response.StatusCode is >= 400 and < 500 && response.StatusCode is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests)
                ? DeliveryResult.Reject(status, summary)
                : DeliveryResult.Retry(status, summary);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return DeliveryResult.Retry(e is TaskCanceledException ? $"no answer within {options.Timeout}" : e.Message);
        }
    }

    public ValueTask DisposeAsync()
    {
        http.Dispose();
        return ValueTask.CompletedTask;
    }
}
