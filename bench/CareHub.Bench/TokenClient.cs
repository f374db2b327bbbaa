using System.Net.Http.Headers;
using System.Text.Json;

namespace CareHub.Bench;

/// <summary>Gets a system access token from CareHub's development token endpoint (OAuth 2.0 client credentials).</summary>
public static class TokenClient
{
    // The demo client of ServeCommand.DemoSettings; the bench starts CareHub with the same settings.
    public const string ClientId = "demo-system";
    public const string ClientSecret = "demo-secret";

    public static async Task<AuthenticationHeaderValue> GetAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent(
        [
            new("grant_type", "client_credentials"),
            new("client_id", ClientId),
            new("client_secret", ClientSecret),
        ]);
        using var response = await http.PostAsync("/auth/token", form, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The token endpoint answered {(int)response.StatusCode}: {text}");
        }

        using var json = JsonDocument.Parse(text);
        return new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
    }
}
