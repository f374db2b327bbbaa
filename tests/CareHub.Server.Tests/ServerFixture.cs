using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests;

/// <summary>A real CareHub on Kestrel on loopback, on a fresh embedded store, with the development token endpoint on.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private WebApplication? app;
    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-test-" + Guid.NewGuid().ToString("N"));

    public string BaseUrl { get; private set; } = "";

    public string FhirUrl => BaseUrl + "/fhir";

    public HttpClient Anonymous { get; } = new();

    public HttpClient Client { get; } = new();

    public const long MaxBodyBytes = 4 * 1024 * 1024;

    public async ValueTask InitializeAsync()
    {
        app = CareHubHost.Build([],
        [
            new("urls", "http://127.0.0.1:0"),
            new("CareHub:Storage:DataDirectory", data),
            new("CareHub:Storage:MaxBodyBytes", MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("Logging:LogLevel:Default", "Warning"),
            new("CareHub:Auth:DevTokens:Enabled", "true"),
            new("CareHub:Auth:DevTokens:Audience", "carehub"),
            new("CareHub:Auth:DevTokens:Clients:0:ClientId", "test-system"),
            new("CareHub:Auth:DevTokens:Clients:0:Secret", "test-secret"),
            new("CareHub:Auth:DevTokens:Clients:0:Scopes", "system/*.cruds"),
            new("CareHub:Auth:DevTokens:Clients:1:ClientId", "reader"),
            new("CareHub:Auth:DevTokens:Clients:1:Secret", "reader-secret"),
            new("CareHub:Auth:DevTokens:Clients:1:Scopes", "system/Patient.rs"),
        ]);
        await CareHubHost.StartAsync(app, CancellationToken.None);
        BaseUrl = app.Urls.First().TrimEnd('/');
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync("test-system", "test-secret"));
    }

    public async Task<string> TokenAsync(string clientId, string secret)
    {
        using var response = await Anonymous.PostAsync(BaseUrl + "/auth/token", new FormUrlEncodedContent(
        [
            new("grant_type", "client_credentials"),
            new("client_id", clientId),
            new("client_secret", secret),
        ]));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    public T Service<T>()
        where T : notnull => app!.Services.GetRequiredService<T>();

    public static StringContent Json(string json, string type = "application/fhir+json") => new(json, Encoding.UTF8, type);

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await CareHubHost.StopAsync(app);
            await app.DisposeAsync();
        }

        Anonymous.Dispose();
        Client.Dispose();
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
