using System.Net;
using System.Text.Json;
using CareHub.Governance;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Server.Tests.Fhir;

public abstract class RequestTimeoutContract(ShortRequestTimeoutFixture server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private const int Practitioners = 400;

    /// <summary>Practitioners (no person matching to slow the seeding) written in-process: a request that wrote them would itself run past the budget.</summary>
    private async System.Threading.Tasks.Task SeedAsync()
    {
        if (server.Unavailable is { } why)
        {
            Assert.Skip(why);
        }

        var records = server.Service<RecordService>();
        var principal = new Principal { Kind = PrincipalKind.System, Subject = "seed", ClientId = "seed", Issuer = "test", Scopes = ScopeSet.Parse("system/*.cruds") };
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        for (var i = 0; i < Practitioners; i++)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                Resource = new Practitioner { Name = [new HumanName { Family = $"Family{i}", Given = [$"Given{i}", $"Middle{i}"] }] },
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Practitioner" },
            });
        }

        await records.ProcessBundleAsync(new RequestContext(principal, server.FhirUrl, "seed"), bundle, None);
    }

    /// <summary>
    /// Every practitioner matches each parameter only at the last of its 100 values, so the store compares each name with
    /// 9,900 patterns before it can count the matches: seconds of work for the store, against a budget of a fraction
    /// of one.
    /// </summary>
    private static FormUrlEncodedContent ExpensiveSearch() => new(
        Enumerable.Range(0, 99).Select(p => new KeyValuePair<string, string>(
            "name:contains",
            string.Join(",", Enumerable.Range(0, 99).Select(v => $"zq{p}x{v}").Append("a")))));

    [Fact]
    public async System.Threading.Tasks.Task a_search_past_the_time_budget_is_stopped_with_a_503_and_the_server_still_answers()
    {
        await SeedAsync();
        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await server.Client.PostAsync(server.FhirUrl + "/Practitioner/_search?_count=1", ExpensiveSearch(), None);
        var text = await response.Content.ReadAsStringAsync(None);
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} after {started.ElapsedMilliseconds} ms: {text[..Math.Min(300, text.Length)]}");
        using var outcome = JsonDocument.Parse(text);
        var issue = outcome.RootElement.GetProperty("issue")[0];
        Assert.Equal("timeout", issue.GetProperty("code").GetString());
        Assert.Contains("CareHub:Fhir:RequestTimeout", issue.GetProperty("diagnostics").GetString(), StringComparison.Ordinal);

        using var health = await server.Anonymous.GetAsync(server.BaseUrl + "/health", None);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async System.Threading.Tasks.Task a_write_is_not_cut_short_by_the_time_budget_of_reads()
    {
        if (server.Unavailable is { } why)
        {
            Assert.Skip(why);
        }

        // A transaction of 300 entries takes longer than the read budget here; its outcome must still be certain.
        var entries = string.Join(",", Enumerable.Range(0, 300).Select(i =>
            $$$"""{"resource":{"resourceType":"Practitioner","name":[{"family":"Written{{{i}}}"}]},"request":{"method":"POST","url":"Practitioner"}}"""));
        using var response = await server.Client.PostAsync(server.FhirUrl, ServerFixture.Json($$"""{"resourceType":"Bundle","type":"transaction","entry":[{{entries}}]}"""), None);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

/// <summary>The server with a request time budget far below what the expensive search below needs.</summary>
public abstract class ShortRequestTimeoutFixture : ServerFixture
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        [new("CareHub:Fhir:RequestTimeout", Timeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture))];
}

public sealed class ShortRequestTimeoutOnSqliteFixture : ShortRequestTimeoutFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
        [new("CareHub:Storage:DataDirectory", dataDirectory)];
}

public sealed class ShortRequestTimeoutOnPostgresFixture : ShortRequestTimeoutFixture
{
    private readonly string? connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");

    public ShortRequestTimeoutOnPostgresFixture()
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            Unavailable = "CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL";
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
    [
        new("CareHub:Storage:Postgres", connectionString),
        new("CareHub:Storage:PostgresSchema", "timeout_" + Guid.NewGuid().ToString("N")[..12]),
    ];
}

public sealed class RequestTimeoutOnSqliteTests(ShortRequestTimeoutOnSqliteFixture server) : RequestTimeoutContract(server), IClassFixture<ShortRequestTimeoutOnSqliteFixture>;

public sealed class RequestTimeoutOnPostgresTests(ShortRequestTimeoutOnPostgresFixture server) : RequestTimeoutContract(server), IClassFixture<ShortRequestTimeoutOnPostgresFixture>;
