using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// A CareHub process killed (SIGKILL) after committing writes and before delivering their notifications delivers each of
/// them once when it starts again: the notification queue and the engine's feed position are committed together.
/// </summary>
public sealed class NotificationDurabilityTests
{
    private static readonly Dictionary<string, string> Notifications = new(StringComparer.Ordinal)
    {
        ["CareHub__Notifications__RequireHttps"] = "false",
        ["CareHub__Notifications__AllowLoopback"] = "true",
        ["CareHub__Notifications__Timeout"] = "00:00:01",
        ["CareHub__Notifications__RetryDelay"] = "00:00:00.100",
        ["CareHub__Notifications__MaxRetryDelay"] = "00:00:00.400",
        ["CareHub__Notifications__PollInterval"] = "00:00:00.100",
    };

    [Fact]
    public async Task notifications_of_writes_committed_before_a_kill_are_each_delivered_once_after_the_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Path.Combine(Path.GetTempPath(), "carehub-notify-kill-" + Guid.NewGuid().ToString("N"));
        await using var receiver = await TestReceiver.StartAsync();
        // The endpoint is down while the first process runs, so nothing can be delivered before the kill.
        await receiver.StopAsync();
        var written = new List<string>();
        try
        {
            string subscription;
            await using (var first = await ServerProcess.StartAsync(data, ct, Notifications))
            {
                using var client = await ClientAsync(first.BaseUrl);
                subscription = await CreateAsync(client, first.BaseUrl, NotificationServer.Subscription("Observation?code=http://loinc.org|8867-4", receiver.Url, "application/fhir+json", "id-only"));
                var patient = await CreateAsync(client, first.BaseUrl, """{"resourceType":"Patient","name":[{"family":"Kill"}]}""");
                for (var i = 0; i < 20; i++)
                {
                    written.Add(await CreateAsync(client, first.BaseUrl, NotificationServer.ObservationJson(patient)));
                }

                await first.KillAsync();
            }

            await receiver.RestartAsync();
            await using var second = await ServerProcess.StartAsync(data, ct, Notifications);
            using var admin = await ClientAsync(second.BaseUrl);
            await NotificationServer.EventuallyAsync(async () =>
            {
                using var status = JsonDocument.Parse(await admin.GetStringAsync($"{second.BaseUrl}/admin/notifications/subscriptions/{subscription}", ct));
                return status.RootElement.GetProperty("status").GetProperty("queueDepth").GetInt64() == 0 && receiver.Events.Count >= written.Count;
            }, "every notification delivered and the queue empty", seconds: 60);

            Assert.Equal(Enumerable.Range(1, written.Count).Select(n => (long)n), receiver.Events.Select(e => e.EventNumber!.Value));
            Assert.Equal(written, receiver.Events.Select(e => e.ResourceId));
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

    private static async Task<HttpClient> ClientAsync(string baseUrl)
    {
        var client = new HttpClient();
        using var response = await client.PostAsync(baseUrl + "/auth/token", new FormUrlEncodedContent(
            [new("grant_type", "client_credentials"), new("client_id", "test-system"), new("client_secret", "test-secret")]));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
        return client;
    }

    private static async Task<string> CreateAsync(HttpClient client, string baseUrl, string json)
    {
        var type = JsonDocument.Parse(json).RootElement.GetProperty("resourceType").GetString();
        using var response = await client.PostAsync($"{baseUrl}/fhir/{type}", new StringContent(json, Encoding.UTF8, "application/fhir+json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {type}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }
}
