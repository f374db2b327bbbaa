using System.Net;
using System.Text;
using System.Text.Json;

namespace CareHub.Server.Tests.Identity;

/// <summary>
/// Queued matching in a real server process (CareHub:Mpi:Matching = Queued): writes are matched by the background matcher
/// soon after they commit, and what was queued when the process was killed is matched after the restart.
/// </summary>
public sealed class QueuedMatchingServerTests
{
    private static readonly Dictionary<string, string> Queued = new() { ["CareHub__Mpi__Matching"] = "Queued" };

    [Fact]
    public async Task queued_writes_are_linked_by_the_server_and_survive_a_killed_process()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Path.Combine(Path.GetTempPath(), "carehub-queued-" + Guid.NewGuid().ToString("N"));
        try
        {
            string first, second;
            await using (var server = await ServerProcess.StartAsync(data, ct, Queued))
            {
                using var client = await DurabilityTests.ClientAsync(server.BaseUrl, ct);
                first = await CreateAsync(client, server.BaseUrl, "gp-1", ct);
                second = await CreateAsync(client, server.BaseUrl, "pas-1", ct);
                Assert.Equal("queued", (await StatusAsync(client, server.BaseUrl, ct))["matching"].GetProperty("valueCode").GetString());
                await WaitForLinkAsync(client, server.BaseUrl, first, second, ct);

                // Queued now, and killed before the matcher may have run: it is matched after the restart.
                var third = await CreateAsync(client, server.BaseUrl, "ae-1", ct);
                await server.KillAsync();
                second = third;
            }

            await using var restarted = await ServerProcess.StartAsync(data, ct, Queued);
            using var reader = await DurabilityTests.ClientAsync(restarted.BaseUrl, ct);
            await WaitForLinkAsync(reader, restarted.BaseUrl, first, second, ct);
            Assert.Equal(0, (await StatusAsync(reader, restarted.BaseUrl, ct))["pending"].GetProperty("valueInteger").GetInt32());
        }
        finally
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

    private static async Task<string> CreateAsync(HttpClient client, string baseUrl, string local, CancellationToken ct)
    {
        var body = $$"""{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"},{"system":"https://example.org/local","value":"{{local}}"}],"name":[{"family":"Smith","given":["Jo"]}],"gender":"female","birthDate":"1970-01-01"}""";
        using var response = await client.PostAsync(baseUrl + "/fhir/Patient", new StringContent(body, Encoding.UTF8, "application/fhir+json"), ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return response.Headers.Location!.ToString().Split('/')[^3];
    }

    private static async Task<Dictionary<string, JsonElement>> StatusAsync(HttpClient client, string baseUrl, CancellationToken ct)
    {
        using var response = await client.GetAsync(baseUrl + "/fhir/Patient/$mpi-status", ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return json.RootElement.GetProperty("parameter").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.Clone());
    }

    /// <summary>Polls $ihe-pix from <paramref name="a"/>'s local identifier until it lists <paramref name="b"/>, or fails at a deadline.</summary>
    private static async Task WaitForLinkAsync(HttpClient client, string baseUrl, string a, string b, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string last = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await client.GetAsync($"{baseUrl}/fhir/Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString("https://example.org/local|gp-1")}", ct);
            last = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode == HttpStatusCode.OK && last.Contains("Patient/" + b, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(20, ct);
        }

        Assert.Fail($"Patient/{b} was not linked to Patient/{a} within 60 s; the last cross-reference was {last}");
    }
}
