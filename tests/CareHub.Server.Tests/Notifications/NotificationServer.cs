using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Server.Cli;
using Microsoft.AspNetCore.Builder;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// A real CareHub on Kestrel with the demo's token endpoint and notifications configured for loopback receivers (http
/// allowed, loopback allowed, short timeouts and back-offs), on a fresh data folder or a PostgreSQL schema. Holds the
/// practices A81001 and A81002 and lets a test write patients registered at either.
/// </summary>
public sealed class NotificationServer : IAsyncDisposable
{
    /// <summary>A system client that may search Observations but not read them, and manage Subscriptions.</summary>
    public const string SearchOnlyClient = "search-only";

    public const string Practice = "A81001";
    public const string OtherPractice = "A81002";

    private readonly WebApplication app;
    private readonly string? data;
    private readonly Dictionary<string, string> tokens = new(StringComparer.Ordinal);

    private NotificationServer(WebApplication app, string? data)
    {
        this.app = app;
        this.data = data;
    }

    public string BaseUrl { get; private set; } = "";

    public HttpClient Http { get; } = new();

    public static async Task<NotificationServer> StartAsync(string? postgres = null, string? schema = null, TimeSpan? deadAfter = null)
    {
        var data = postgres is null ? Path.Combine(Path.GetTempPath(), "carehub-notify-" + Guid.NewGuid().ToString("N")) : null;
        List<KeyValuePair<string, string?>> settings =
        [
            new("urls", "http://127.0.0.1:0"),
            new("Logging:LogLevel:Default", "Warning"),
            .. ServeCommand.DemoSettings(),
            new("CareHub:Auth:DevTokens:Clients:1:ClientId", SearchOnlyClient),
            new("CareHub:Auth:DevTokens:Clients:1:Secret", "search-secret"),
            new("CareHub:Auth:DevTokens:Clients:1:Scopes", "system/Observation.s system/Subscription.cruds"),
            new("CareHub:Auth:DevTokens:Clients:1:Kind", "system"),
            new("CareHub:Notifications:RequireHttps", "false"),
            new("CareHub:Notifications:AllowLoopback", "true"),
            new("CareHub:Notifications:Timeout", "00:00:01"),
            new("CareHub:Notifications:RetryDelay", "00:00:00.100"),
            new("CareHub:Notifications:MaxRetryDelay", "00:00:00.400"),
            new("CareHub:Notifications:DeadAfter", (deadAfter ?? TimeSpan.FromMinutes(10)).ToString()),
            new("CareHub:Notifications:PollInterval", "00:00:00.100"),
        ];
        settings.AddRange(postgres is null
            ? [new("CareHub:Storage:DataDirectory", data)]
            : [new("CareHub:Storage:Postgres", postgres), new("CareHub:Storage:PostgresSchema", schema)]);
        var app = CareHubHost.Build([], settings);
        await CareHubHost.StartAsync(app, CancellationToken.None);
        var server = new NotificationServer(app, data) { BaseUrl = app.Urls.First().TrimEnd('/') };
        await server.PutAsync("system", "Organization/" + Practice, Organization(Practice));
        await server.PutAsync("system", "Organization/" + OtherPractice, Organization(OtherPractice));
        return server;
    }

    private static string Organization(string ods) =>
        $$"""{"resourceType":"Organization","id":"{{ods}}","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"{{ods}}"}],"name":"Practice {{ods}}"}""";

    /// <summary>A bearer token: "system" (the demo system client), a client id of the test clients, or a demo user name.</summary>
    public async Task<string> TokenAsync(string who)
    {
        if (tokens.TryGetValue(who, out var cached))
        {
            return cached;
        }

        List<KeyValuePair<string, string>> form = who switch
        {
            "system" => [new("grant_type", "client_credentials"), new("client_id", ServeCommand.DemoClientId), new("client_secret", ServeCommand.DemoClientSecret)],
            SearchOnlyClient => [new("grant_type", "client_credentials"), new("client_id", SearchOnlyClient), new("client_secret", "search-secret")],
            _ => [new("grant_type", "password"), new("client_id", ServeCommand.DemoClientId), new("client_secret", ServeCommand.DemoClientSecret),
                new("username", who), new("password", ServeCommand.DemoPassword)],
        };
        using var response = await Http.PostAsync(BaseUrl + "/auth/token", new FormUrlEncodedContent(form));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return tokens[who] = json.RootElement.GetProperty("access_token").GetString()!;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(string who, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, BaseUrl + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(who));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/fhir+json");
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<JsonElement> PutAsync(string who, string path, string json)
    {
        var (status, body) = await SendAsync(who, HttpMethod.Put, "/fhir/" + path, json);
        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.Created, $"PUT {path}: {status} {body}");
        return body;
    }

    public async Task<string> CreateAsync(string who, string json)
    {
        var type = JsonDocument.Parse(json).RootElement.GetProperty("resourceType").GetString();
        var (status, body) = await SendAsync(who, HttpMethod.Post, "/fhir/" + type, json);
        Assert.True(status == HttpStatusCode.Created, $"POST {type}: {status} {body}");
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>A patient registered at <paramref name="practice"/>, written by the system client.</summary>
    public Task<string> PatientAsync(string practice) => CreateAsync("system",
        $$$"""{"resourceType":"Patient","name":[{"family":"Test","given":["Notify"]}],"generalPractitioner":[{"reference":"Organization/{{{practice}}}"}]}""");

    /// <summary>An Observation about the patient with the code, written by the system client.</summary>
    public Task<string> ObservationAsync(string patient, string code = "8867-4") => CreateAsync("system", ObservationJson(patient, code));

    public static string ObservationJson(string patient, string code = "8867-4") =>
        $$$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"{{{code}}}"}]},"subject":{"reference":"Patient/{{{patient}}}"},"valueQuantity":{"value":72,"unit":"/min"}}""";

    /// <summary>A rest-hook Subscription body.</summary>
    public static string Subscription(string criteria, string endpoint, string? payload = null, string? content = null, params string[] headers)
    {
        var payloadJson = payload is null ? "" : content is null
            ? $",\"payload\":\"{payload}\""
            : $",\"payload\":\"{payload}\",\"_payload\":{{\"extension\":[{{\"url\":\"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content\",\"valueCode\":\"{content}\"}}]}}";
        var headerJson = headers.Length == 0 ? "" : ",\"header\":[" + string.Join(",", headers.Select(h => JsonSerializer.Serialize(h))) + "]";
        return $$$"""{"resourceType":"Subscription","status":"requested","reason":"test","criteria":{{{JsonSerializer.Serialize(criteria)}}},"channel":{"type":"rest-hook","endpoint":"{{{endpoint}}}"{{{payloadJson}}}{{{headerJson}}}}}""";
    }

    /// <summary>The Subscription as stored now.</summary>
    public async Task<JsonElement> SubscriptionAsync(string id)
    {
        var (status, body) = await SendAsync("system", HttpMethod.Get, "/fhir/Subscription/" + id);
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    public async Task<string> StatusOfAsync(string id) => (await SubscriptionAsync(id)).GetProperty("status").GetString()!;

    /// <summary>The subscription's queue and log as the admin API shows it.</summary>
    public async Task<JsonElement> LogAsync(string id)
    {
        var (status, body) = await SendAsync("system", HttpMethod.Get, $"/admin/notifications/subscriptions/{id}/notifications");
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    /// <summary>Polls until the condition holds, failing with the message after the deadline.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Subscribes as <paramref name="who"/> and waits until the handshake has made the Subscription active.</summary>
    public async Task<string> SubscribeAsync(string who, string json)
    {
        var id = await CreateAsync(who, json);
        await EventuallyAsync(async () => await StatusOfAsync(id) == "active", $"Subscription/{id} active after its handshake");
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        await CareHubHost.StopAsync(app);
        await app.DisposeAsync();
        Http.Dispose();
        if (data is not null)
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
