using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Demo;
using CareHub.Records;
using CareHub.Server.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests.Governance;

/// <summary>
/// A real CareHub on Kestrel with the demo's development token endpoint (<see cref="ServeCommand.DemoSettings"/>) and the
/// demo community of 60 patients loaded through the one door, as <c>carehub demo</c> loads it. Tokens are real: each demo
/// user signs in with the OAuth2 password grant through the demo client. Patient kinds for the policy matrix are picked
/// from the loaded record (what each patient's record holds), not from assumptions about the generator.
/// </summary>
public abstract class GovernanceServer : IAsyncLifetime
{
    public const int PatientCount = 60;

    /// <summary>
    /// One login beyond the demo's: a community nurse acting for the council (00K). Her role may read laboratory results,
    /// so only a data sharing agreement decides whether the council sees them: it isolates the agreement rule.
    /// </summary>
    public const string ReablementNurse = "reablement.nurse";

    public const string BreakGlassReason = "Collapsed in A&E, unconscious; medication history needed";

    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-gov-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient http = new();
    private readonly Dictionary<string, string> tokens = new(StringComparer.Ordinal);
    private WebApplication? app;

    /// <summary>Why this server cannot run here (no database), or null.</summary>
    public string? Unavailable { get; protected set; }

    public string BaseUrl { get; private set; } = "";

    public string FhirUrl => BaseUrl + "/fhir";

    /// <summary>The patient chosen for each kind, with their record as loaded.</summary>
    public IReadOnlyDictionary<PatientKind, PatientRecord> Patients { get; private set; } = new Dictionary<PatientKind, PatientRecord>();

    /// <summary>Every loaded patient's record as loaded, by id.</summary>
    public IReadOnlyDictionary<string, PatientRecord> Records { get; private set; } = new Dictionary<string, PatientRecord>();

    /// <summary>The citizen of the matrix: the patient of <see cref="PatientKind.Sensitive"/>, who sees their own mental health record.</summary>
    public PatientRecord Citizen => Patients[PatientKind.Sensitive];

    protected abstract IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory);

    public async ValueTask InitializeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }

        List<KeyValuePair<string, string?>> settings =
        [
            new("urls", "http://127.0.0.1:0"),
            .. Storage(data),
            new("Logging:LogLevel:Default", "Warning"),
            .. ServeCommand.DemoSettings(),
        ];
        var extra = $"CareHub:Auth:DevTokens:Users:{ServeCommand.DemoLogins.Count}:";
        settings.AddRange(
        [
            new(extra + "UserName", ReablementNurse),
            new(extra + "Password", ServeCommand.DemoPassword),
            new(extra + "Role", "community-nurse"),
            new(extra + "Organisation", DemoCommunity.CouncilId),
        ]);
        app = CareHubHost.Build([], settings);
        await CareHubHost.StartAsync(app, CancellationToken.None);
        BaseUrl = app.Urls.First().TrimEnd('/');

        var records = app.Services.GetRequiredService<RecordService>();
        var loader = new RequestContext(ServeCommand.Loader("governance-test-loader"), FhirUrl, "governance-test-load") { Return = ReturnPreference.Minimal };
        foreach (var bundle in DemoCommunity.Generate(new DemoCommunityOptions { Patients = PatientCount }))
        {
            await records.ProcessBundleAsync(loader, bundle, CancellationToken.None);
        }

        tokens["system"] = await TokenAsync([new("grant_type", "client_credentials")]);
        foreach (var user in TestUsers.Staff.Append(ReablementNurse))
        {
            tokens[user] = await TokenAsync([new("grant_type", "password"), new("username", user), new("password", ServeCommand.DemoPassword)]);
        }

        Records = await LoadedRecordsAsync();
        Patients = PatientKinds.Choose(Records.Values, DateTimeOffset.UtcNow);
        tokens[TestUsers.Citizen] = await TokenAsync([new("grant_type", "password"), new("username", "citizen:" + Citizen.NhsNumber), new("password", ServeCommand.DemoPassword)]);
    }

    /// <summary>
    /// Every patient's record as loaded, read type by type as the system client (a few searches rather than one
    /// $everything per patient): the types the demo writes about a patient, grouped by the patient they are about.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, PatientRecord>> LoadedRecordsAsync()
    {
        var byPatient = new Dictionary<string, List<JsonElement>>(StringComparer.Ordinal);
        foreach (var type in new[] { "Patient", "Encounter", "EpisodeOfCare", "CareTeam", "Consent", "Condition", "Observation", "AllergyIntolerance", "MedicationRequest", "MedicationStatement" })
        {
            await foreach (var entry in PagesAsync("system", $"/{type}?_count=1000"))
            {
                var resource = entry.GetProperty("resource");
                var patient = type == "Patient"
                    ? Json.Id(resource)
                    : Json.References(resource, "subject").Concat(Json.References(resource, "patient")).Single()["Patient/".Length..];
                if (!byPatient.TryGetValue(patient, out var list))
                {
                    byPatient[patient] = list = [];
                }

                list.Add(resource);
            }
        }

        Assert.Equal(PatientCount, byPatient.Count);
        return byPatient.ToDictionary(p => p.Key, p => new PatientRecord(p.Key, p.Value), StringComparer.Ordinal);
    }

    private async Task<string> TokenAsync(List<KeyValuePair<string, string>> form)
    {
        form.Add(new("client_id", ServeCommand.DemoClientId));
        form.Add(new("client_secret", ServeCommand.DemoClientSecret));
        using var response = await http.PostAsync(BaseUrl + "/auth/token", new FormUrlEncodedContent(form));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The token endpoint refused {string.Join(",", form.Where(f => f.Key is "grant_type" or "username"))}: {text}");
        }

        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Fails the calling test as skipped when the server cannot run here.</summary>
    public void EnsureAvailable()
    {
        if (Unavailable is { } why)
        {
            Assert.Skip(why);
        }
    }

    /// <summary>The record of a patient as the system client sees it now: everything in the compartment, no filtering.</summary>
    public async Task<PatientRecord> RecordAsync(string patientId)
    {
        var resources = new List<JsonElement>();
        await foreach (var entry in PagesAsync("system", $"/Patient/{patientId}/$everything?_count=1000"))
        {
            if (Mode(entry) == "match")
            {
                resources.Add(entry.GetProperty("resource"));
            }
        }

        return new PatientRecord(patientId, resources);
    }

    public Task<Reply> GetAsync(string user, string path, bool breakGlass = false, string? reason = BreakGlassReason) =>
        SendAsync(user, HttpMethod.Get, path, null, breakGlass, reason);

    public Task<Reply> PostAsync(string user, string path, string json, bool breakGlass = false) =>
        SendAsync(user, HttpMethod.Post, path, json, breakGlass, BreakGlassReason);

    public Task<Reply> DeleteAsync(string user, string path) => SendAsync(user, HttpMethod.Delete, path, null, false, null);

    /// <summary>One FHIR request with the user's real token; break-glass sends X-Purpose-Of-Use: ETREAT and, if given, the reason.</summary>
    public async Task<Reply> SendAsync(string user, HttpMethod method, string path, string? json, bool breakGlass, string? reason, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path.StartsWith("http", StringComparison.Ordinal) ? path : FhirUrl + path);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(name, value);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[user]);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/fhir+json"));
        if (breakGlass)
        {
            request.Headers.Add("X-Purpose-Of-Use", "ETREAT");
            if (reason is not null)
            {
                request.Headers.Add("X-Break-Glass-Reason", reason);
            }
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/fhir+json");
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var requestId = response.Headers.TryGetValues("X-Request-Id", out var ids) ? ids.Single() : throw new InvalidOperationException($"{method} {path} answered without X-Request-Id.");
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return new Reply(response.StatusCode, requestId, body);
    }

    /// <summary>Every entry of a search, following the next links.</summary>
    public async IAsyncEnumerable<JsonElement> PagesAsync(string user, string path, bool breakGlass = false)
    {
        string? next = path;
        while (next is not null)
        {
            var page = await GetAsync(user, next, breakGlass);
            Assert.True(page.Status == HttpStatusCode.OK, $"GET {next} as {user}: {page}");
            foreach (var entry in page.Body.TryGetProperty("entry", out var entries) ? entries.EnumerateArray() : default)
            {
                yield return entry;
            }

            next = Link(page.Body, "next");
        }
    }

    /// <summary>
    /// The AuditEvents of one request: every audit record carries the request's correlation id (the X-Request-Id the server
    /// answered with) in agent.policy, so the search <c>AuditEvent?policy=</c> finds exactly that request's records.
    /// Reads and refusals are audited through a queue, so it is flushed first.
    /// </summary>
    public async Task<List<JsonElement>> AuditOfAsync(string requestId)
    {
        await app!.Services.GetRequiredService<AuditTrail>().FlushAsync(TestContext.Current.CancellationToken);
        var reply = await GetAsync("system", "/AuditEvent?policy=" + Uri.EscapeDataString(requestId));
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        return Entries(reply.Body).ToList();
    }

    public static IEnumerable<JsonElement> Entries(JsonElement bundle, string? mode = "match") =>
        bundle.TryGetProperty("entry", out var entries)
            ? entries.EnumerateArray().Where(e => mode is null || Mode(e) == mode).Select(e => e.GetProperty("resource"))
            : [];

    public static string? Mode(JsonElement entry) =>
        entry.TryGetProperty("search", out var search) && search.TryGetProperty("mode", out var mode) ? mode.GetString() : null;

    public static string? Link(JsonElement bundle, string relation) =>
        bundle.TryGetProperty("link", out var links)
            ? links.EnumerateArray().Where(l => l.GetProperty("relation").GetString() == relation).Select(l => l.GetProperty("url").GetString()).FirstOrDefault()
            : null;

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await CareHubHost.StopAsync(app);
            await app.DisposeAsync();
        }

        http.Dispose();
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>One HTTP answer: status, request id (X-Request-Id, the audit's correlation id) and body.</summary>
public sealed record Reply(HttpStatusCode Status, string RequestId, JsonElement Body)
{
    /// <summary>The diagnostics of an OperationOutcome's issues, joined (empty for any other body).</summary>
    public string Diagnostics => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("issue", out var issues)
        ? string.Join(" | ", issues.EnumerateArray().Select(i => i.TryGetProperty("diagnostics", out var d) ? d.GetString() : null).OfType<string>())
        : string.Empty;

    public override string ToString()
    {
        var text = Body.ValueKind == JsonValueKind.Undefined ? "(no body)" : Body.GetRawText();
        return $"{(int)Status} {Status} (request {RequestId}): {text[..Math.Min(600, text.Length)]}";
    }
}

/// <summary>The governance server on the embedded SQLite store.</summary>
public sealed class SqliteGovernanceServer : GovernanceServer
{
    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
        [new("CareHub:Storage:DataDirectory", dataDirectory)];
}

/// <summary>The governance server on PostgreSQL (CAREHUB_TEST_POSTGRES, started by ./carehub test), in a schema of its own.</summary>
public sealed class PostgresGovernanceServer : GovernanceServer
{
    private readonly string? connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");

    public PostgresGovernanceServer()
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            Unavailable = "CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL";
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
    [
        new("CareHub:Storage:DataDirectory", dataDirectory),
        new("CareHub:Storage:Postgres", connectionString),
        new("CareHub:Storage:PostgresSchema", "gov_" + Guid.NewGuid().ToString("N")[..12]),
    ];
}

/// <summary>The governance tests on SQLite share one server and run one after another (the scenarios add and remove agreements).</summary>
[CollectionDefinition(Name)]
public sealed class SqliteGovernanceCollection : ICollectionFixture<SqliteGovernanceServer>
{
    public const string Name = "governance on SQLite";
}

/// <summary>The governance tests on PostgreSQL: the matrix but its $everything cells, and the scenarios.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresGovernanceCollection : ICollectionFixture<PostgresGovernanceServer>
{
    public const string Name = "governance on PostgreSQL";
}

[Collection(SqliteGovernanceCollection.Name)]
public sealed class PolicyMatrixOnSqliteTests(SqliteGovernanceServer server) : PolicyMatrix(server);

[Collection(SqliteGovernanceCollection.Name)]
public sealed class EverythingMatrixOnSqliteTests(SqliteGovernanceServer server) : EverythingMatrix(server);

[Collection(SqliteGovernanceCollection.Name)]
public sealed class GovernanceScenariosOnSqliteTests(SqliteGovernanceServer server) : GovernanceScenarios(server);

[Collection(PostgresGovernanceCollection.Name)]
public sealed class PolicyMatrixOnPostgresTests(PostgresGovernanceServer server) : PolicyMatrix(server);

[Collection(PostgresGovernanceCollection.Name)]
public sealed class GovernanceScenariosOnPostgresTests(PostgresGovernanceServer server) : GovernanceScenarios(server);

[Collection(SqliteGovernanceCollection.Name)]
public sealed class EdgeLeaksOnSqliteTests(SqliteGovernanceServer server) : EdgeLeaks(server);

[Collection(PostgresGovernanceCollection.Name)]
public sealed class EdgeLeaksOnPostgresTests(PostgresGovernanceServer server) : EdgeLeaks(server);
