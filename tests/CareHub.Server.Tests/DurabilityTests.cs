using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CareHub.Server.Tests;

/// <summary>Nothing acknowledged is lost when the server process is killed in the middle of a stream of writes.</summary>
public sealed class DurabilityTests
{
    [Fact]
    public async Task every_acknowledged_create_survives_a_killed_process()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Path.Combine(Path.GetTempPath(), "carehub-kill-" + Guid.NewGuid().ToString("N"));
        var acknowledged = new ConcurrentBag<string>();
        try
        {
            await using (var server = await ServerProcess.StartAsync(data, ct))
            {
                using var client = await ClientAsync(server.BaseUrl, ct);
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
                {
                    for (var i = 0; !stop.IsCancellationRequested; i++)
                    {
                        try
                        {
                            var body = $$"""{"resourceType":"Patient","identifier":[{"system":"urn:test:kill","value":"{{w}}-{{i}}"}],"gender":"unknown"}""";
                            using var response = await client.PostAsync(server.BaseUrl + "/fhir/Patient", new StringContent(body, Encoding.UTF8, "application/fhir+json"), CancellationToken.None);
                            if (response.StatusCode == HttpStatusCode.Created)
                            {
                                acknowledged.Add(response.Headers.Location!.ToString().Split('/')[^3]);
                            }
                        }
                        catch (HttpRequestException)
                        {
                            // The server died under this request: it was never acknowledged.
                            return;
                        }
                    }
                }, CancellationToken.None)).ToList();

                // Kill once a good number of writes have been acknowledged, while writers are still sending.
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (acknowledged.Count < 300 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10, ct);
                }

                await server.KillAsync();
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }

            Assert.True(acknowledged.Count >= 300, $"only {acknowledged.Count} creates were acknowledged before the deadline");

            await using var restarted = await ServerProcess.StartAsync(data, ct);
            using var reader = await ClientAsync(restarted.BaseUrl, ct);
            var missing = new List<string>();
            foreach (var id in acknowledged)
            {
                using var response = await reader.GetAsync($"{restarted.BaseUrl}/fhir/Patient/{id}", ct);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    missing.Add($"{id}: {(int)response.StatusCode}");
                }
            }

            Assert.Empty(missing);
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

    /// <summary>A client with a system token from a <see cref="ServerProcess"/>.</summary>
    internal static async Task<HttpClient> ClientAsync(string baseUrl, CancellationToken ct)
    {
        var client = new HttpClient();
        using var response = await client.PostAsync(baseUrl + "/auth/token", new FormUrlEncodedContent(
        [
            new("grant_type", "client_credentials"),
            new("client_id", "test-system"),
            new("client_secret", "test-secret"),
        ]), ct);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
        return client;
    }
}
