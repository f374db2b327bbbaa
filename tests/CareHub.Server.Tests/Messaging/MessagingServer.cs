using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Fhir;
using CareHub.Hl7v2;
using CareHub.Messaging;
using CareHub.Messaging.Storage;
using CareHub.Server.Messaging;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// A real CareHub on Kestrel and real MLLP sockets on loopback (ports chosen by the system), on a fresh data folder,
/// with the channels a test configures and the test transformer registered.
/// </summary>
public sealed class MessagingServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly string data;
    private readonly bool ownsData;

    private MessagingServer(WebApplication app, string data, bool ownsData)
    {
        this.app = app;
        this.data = data;
        this.ownsData = ownsData;
    }

    public string BaseUrl { get; private set; } = "";

    public HttpClient Client { get; } = new();

    public string DataDirectory => data;

    public MessageBroker Broker => app.Services.GetRequiredService<MessageBroker>();

    public IMessageStore Store => app.Services.GetRequiredService<IMessageStore>();

    public T Service<T>()
        where T : notnull => app.Services.GetRequiredService<T>();

    /// <summary>The MLLP endpoint of a channel.</summary>
    public IPEndPoint Mllp(string channel) =>
        Service<MessagingHostedService>().Listeners.Single(l => l.Channel == channel).LocalEndpoint;

    /// <summary>
    /// Starts CareHub on a fresh data folder, or on <paramref name="dataDirectory"/> (kept when the server stops, so that a
    /// second server can start on what the first left behind).
    /// </summary>
    public static async Task<MessagingServer> StartAsync(IEnumerable<KeyValuePair<string, string?>> channels, string? postgres = null, string? dataDirectory = null)
    {
        var data = dataDirectory ?? Path.Combine(Path.GetTempPath(), "carehub-msg-" + Guid.NewGuid().ToString("N"));
        List<KeyValuePair<string, string?>> settings =
        [
            new("urls", "http://127.0.0.1:0"),
            new("Logging:LogLevel:Default", "Warning"),
            new("CareHub:Messaging:PollInterval", "00:00:00.200"),
            new("CareHub:Auth:DevTokens:Enabled", "true"),
            new("CareHub:Auth:DevTokens:Audience", "carehub"),
            new("CareHub:Auth:DevTokens:Clients:0:ClientId", "test-system"),
            new("CareHub:Auth:DevTokens:Clients:0:Secret", "test-secret"),
            new("CareHub:Auth:DevTokens:Clients:0:Scopes", "system/*.cruds"),
            new("CareHub:Auth:DevTokens:Clients:1:ClientId", "sender"),
            new("CareHub:Auth:DevTokens:Clients:1:Secret", "sender-secret"),
            new("CareHub:Auth:DevTokens:Clients:1:Scopes", MessagingApi.SendScope),
            .. channels,
        ];
        if (postgres is null)
        {
            settings.Add(new("CareHub:Storage:DataDirectory", data));
        }
        else
        {
            settings.Add(new("CareHub:Storage:Postgres", postgres));
            settings.Add(new("CareHub:Storage:PostgresSchema", "msg_" + Guid.NewGuid().ToString("N")[..12]));
        }

        var app = CareHubHost.Build([], settings, services => services.AddSingleton<IMessageTransformer, TestPatientTransformer>());
        var server = new MessagingServer(app, data, ownsData: dataDirectory is null);
        try
        {
            await CareHubHost.StartAsync(app, CancellationToken.None);
        }
        catch
        {
            // A host that did not start cannot be stopped: release what it holds and pass the reason on.
            await app.DisposeAsync();
            server.Release();
            throw;
        }

        server.BaseUrl = app.Urls.First().TrimEnd('/');
        server.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("test-system", "test-secret"));
        return server;
    }

    public async Task<string> TokenAsync(string clientId, string secret)
    {
        using var anonymous = new HttpClient();
        using var response = await anonymous.PostAsync(BaseUrl + "/auth/token", new FormUrlEncodedContent(
        [
            new("grant_type", "client_credentials"),
            new("client_id", clientId),
            new("client_secret", secret),
        ]));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>How many Patients carry the test identifier for this control id.</summary>
    public async Task<int> PatientsWithControlIdAsync(string controlId)
    {
        using var response = await Client.GetAsync($"{BaseUrl}/fhir/Patient?identifier={TestPatientTransformer.System}|{controlId}");
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("entry", out var entries) ? entries.GetArrayLength() : 0;
    }

    /// <summary>Polls until the condition holds, failing with the message after the deadline.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"within {seconds} s: {what}");
            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CareHubHost.StopAsync(app);
        await app.DisposeAsync();
        Release();
    }

    private void Release()
    {
        Client.Dispose();
        if (!ownsData)
        {
            return;
        }

        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// A channel "relay" that passes MLLP messages through to an MLLP receiver on loopback (destination "downstream"),
    /// retrying quickly.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> RelayChannel(int receiverPort, int maxAttempts = 10) =>
    [
        new("CareHub:Channels:0:Name", "relay"),
        new("CareHub:Channels:0:Source:Type", "mllp"),
        new("CareHub:Channels:0:Source:Port", "0"),
        new("CareHub:Channels:0:Source:Unauthenticated", "true"),
        new("CareHub:Channels:0:Transformer", "pass-through"),
        new("CareHub:Channels:0:Destinations:0:Name", "downstream"),
        new("CareHub:Channels:0:Destinations:0:Type", "mllp"),
        new("CareHub:Channels:0:Destinations:0:Host", "127.0.0.1"),
        new("CareHub:Channels:0:Destinations:0:Port", receiverPort.ToString(CultureInfo.InvariantCulture)),
        new("CareHub:Channels:0:Destinations:0:RetryDelay", "00:00:00.050"),
        new("CareHub:Channels:0:Destinations:0:MaxRetryDelay", "00:00:00.200"),
        new("CareHub:Channels:0:Destinations:0:MaxAttempts", maxAttempts.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>The one stored message with this control id, with its deliveries.</summary>
    public async Task<StoredMessage> MessageAsync(string controlId) =>
        (await Store.GetAsync(Assert.Single(await Store.SearchAsync(new MessageQuery(ControlId: controlId), CancellationToken.None)).Id, CancellationToken.None))!;

    /// <summary>Waits until the one stored message with this control id is in the state.</summary>
    public Task WhenStateAsync(string controlId, string state) =>
        EventuallyAsync(async () => (await Store.SearchAsync(new MessageQuery(ControlId: controlId), CancellationToken.None)).SingleOrDefault()?.State == state,
            $"{controlId} is {state}");

    /// <summary>An inbound MLLP channel into the record through the test transformer.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> InboundChannel(int index = 0, string name = "adt-in", string transformer = TestPatientTransformer.TransformerName,
        string destination = "record", params (string Key, string Value)[] extra)
    {
        var at = $"CareHub:Channels:{index.ToString(CultureInfo.InvariantCulture)}:";
        yield return new(at + "Name", name);
        yield return new(at + "Source:Type", "mllp");
        yield return new(at + "Source:Port", "0");
        if (!extra.Any(e => e.Key is "Source:AllowedAddresses:0" or "Source:ClientCertificateThumbprints:0" or "Source:ClientCertificateAuthority"))
        {
            yield return new(at + "Source:Unauthenticated", "true");
        }

        yield return new(at + "Transformer", transformer);
        yield return new(at + "Destinations:0:Type", destination);
        foreach (var (key, value) in extra)
        {
            yield return new(at + key, value);
        }
    }

    /// <summary>
    /// A small ADT message with a given control id; PID-3 (the control id unless <paramref name="patient"/> is given) and
    /// the names are invented.
    /// </summary>
    public static string Adt(string controlId, string trigger = "A01", string patientClass = "I", char fieldSeparator = '|', string facility = "RAL", string? patient = null) =>
        ($"MSH|^~\\&|PAS|{facility}|CAREHUB|CAREHUB|20240301090000||ADT^{trigger}^ADT_A01|{controlId}|P|2.5.1\r" +
         $"EVN|{trigger}|20240301090000\r" +
         $"PID|1||{patient ?? controlId}^^^RAL^MR||TESTPATIENT^ALEX||19800101|U\r" +
         $"PV1|1|{patientClass}\r").Replace('|', fieldSeparator);

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}

/// <summary>
/// Stands in for the HL7 v2 to FHIR mapper in these tests: a transaction Bundle that creates one Patient per message,
/// identified by the message's control id (deliberately not conditional, so a double delivery would show).
/// </summary>
public sealed class TestPatientTransformer : IMessageTransformer
{
    public const string TransformerName = "test-patient";
    public const string System = "urn:test:control-id";

    public string Name => TransformerName;

    public TransformedContent Transform(Hl7Message message)
    {
        if (message.MessageType != "ADT")
        {
            throw new MessageTransformException(Hl7ErrorCode.UnsupportedMessageType, $"the test transformer maps ADT only, not {message.MessageType}");
        }

        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry =
            [
                new Bundle.EntryComponent
                {
                    FullUrl = "urn:uuid:" + Guid.NewGuid().ToString("D"),
                    Resource = new Patient { Identifier = [new Identifier(System, message.ControlId)], Gender = AdministrativeGender.Unknown },
                    Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" },
                },
            ],
        };
        return new TransformedContent(FhirSerialization.ToJson(bundle), TransformedContent.FhirJson, []);
    }
}
