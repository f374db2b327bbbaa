using System.Text.Json;

namespace CareHub.Server.Tests.Fhir;

/// <summary>One FHIR call to a test server, and reading its OperationOutcome.</summary>
internal static class FhirCalls
{
    /// <summary>Sends a request (path relative to /fhir, or absolute) and returns the response with its JSON body, if any.</summary>
    public static async Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(ServerFixture server, HttpMethod method, string path, HttpContent? content,
        Action<HttpRequestMessage>? configure, HttpClient? client, CancellationToken cancellationToken)
    {
        if (server.Unavailable is { } why)
        {
            Assert.Skip(why);
        }

        using var request = new HttpRequestMessage(method, path.StartsWith("http", StringComparison.Ordinal) ? path : server.FhirUrl + path) { Content = content };
        configure?.Invoke(request);
        var response = await (client ?? server.Client).SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var body = text.Length > 0 && (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? false)
            ? JsonDocument.Parse(text).RootElement.Clone()
            : default;
        return (response, body);
    }

    /// <summary>The diagnostics of every issue of an OperationOutcome, joined.</summary>
    public static string Diagnostics(JsonElement outcome) =>
        string.Join(" | ", outcome.GetProperty("issue").EnumerateArray().Select(i => i.TryGetProperty("diagnostics", out var d) ? d.GetString() : ""));
}
