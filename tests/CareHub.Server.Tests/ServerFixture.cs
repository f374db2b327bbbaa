using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests;

/// <summary>A real CareHub on Kestrel on loopback, on a fresh store, with the development token endpoint on.</summary>
public abstract class ServerFixture : IAsyncLifetime
{
    private WebApplication? app;
    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-test-" + Guid.NewGuid().ToString("N"));

    public string BaseUrl { get; private set; } = "";

    public string FhirUrl => BaseUrl + "/fhir";

    public HttpClient Anonymous { get; } = new();

    public HttpClient Client { get; } = new();

    public const long MaxBodyBytes = 4 * 1024 * 1024;

    /// <summary>The development token endpoint with one system client, <c>test-system</c>, granted everything.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> DevTokens { get; } =
    [
        new("CareHub:Auth:DevTokens:Enabled", "true"),
        new("CareHub:Auth:DevTokens:Audience", "carehub"),
        new("CareHub:Auth:DevTokens:Clients:0:ClientId", "test-system"),
        new("CareHub:Auth:DevTokens:Clients:0:Secret", "test-secret"),
        new("CareHub:Auth:DevTokens:Clients:0:Scopes", "system/*.cruds"),
    ];

    /// <summary>Why this fixture cannot run here (a missing database), or null.</summary>
    public string? Unavailable { get; protected set; }

    /// <summary>The storage settings of this fixture.</summary>
    protected abstract IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory);

    /// <summary>Registrations of this fixture after the server's own.</summary>
    protected virtual Action<IServiceCollection>? ConfigureServices => null;

    /// <summary>Where the server listens: a port the system chooses, unless the fixture must know it before start.</summary>
    protected virtual string Urls => "http://127.0.0.1:0";

    /// <summary>Settings of this fixture beyond the common ones (they win over them).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> Settings => [];

    public async ValueTask InitializeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }

        app = CareHubHost.Build([],
        [
            new("urls", Urls),
            .. Storage(data),
            new("CareHub:Storage:MaxBodyBytes", MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("Logging:LogLevel:Default", "Warning"),
            .. DevTokens,
            new("CareHub:Auth:DevTokens:Clients:1:ClientId", "reader"),
            new("CareHub:Auth:DevTokens:Clients:1:Secret", "reader-secret"),
            new("CareHub:Auth:DevTokens:Clients:1:Scopes", "system/Patient.rs"),
            .. Settings,
        ], ConfigureServices);
        await CareHubHost.StartAsync(app, CancellationToken.None);
        BaseUrl = app.Urls.First().TrimEnd('/');
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync("test-system", "test-secret"));
    }

    public async Task<string> TokenAsync(string clientId, string secret)
    {
        if (Unavailable is { } why)
        {
            Assert.Skip(why);
        }

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

/// <summary>The server on the embedded SQLite store.</summary>
public sealed class SqliteServerFixture : ServerFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
        [new("CareHub:Storage:DataDirectory", dataDirectory)];
}

/// <summary>The server on PostgreSQL (CAREHUB_TEST_POSTGRES, started by ./carehub test), in a schema of its own.</summary>
public sealed class PostgresServerFixture : ServerFixture
{
    private readonly string? connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");

    public PostgresServerFixture()
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            Unavailable = "CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL";
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
    [
        new("CareHub:Storage:Postgres", connectionString),
        new("CareHub:Storage:PostgresSchema", "api_" + Guid.NewGuid().ToString("N")[..12]),
    ];
}
