using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;
using CareHub.Records;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// Raw HL7 v2 messages are patient data: reading one through the admin API is decided by role (integration engineers and
/// systems with the admin scope) and every view is audited with the patients the message names.
/// </summary>
public sealed class MessageContentAccessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IEnumerable<KeyValuePair<string, string?>> Settings() =>
    [
        .. MessagingServer.InboundChannel(transformer: "v2-to-fhir"),
        new("CareHub:Auth:DevTokens:Users:0:UserName", "int.eng"),
        new("CareHub:Auth:DevTokens:Users:0:Password", "pw"),
        new("CareHub:Auth:DevTokens:Users:0:Role", "integration-engineer"),
        new("CareHub:Auth:DevTokens:Users:1:UserName", "gp.smith"),
        new("CareHub:Auth:DevTokens:Users:1:Password", "pw"),
        new("CareHub:Auth:DevTokens:Users:1:Role", "gp"),
        new("CareHub:Auth:DevTokens:Users:1:Organisation", "A81001"),
    ];

    private static async Task<HttpClient> UserAsync(MessagingServer server, string user)
    {
        using var anonymous = new HttpClient();
        using var response = await anonymous.PostAsync(server.BaseUrl + "/auth/token", new FormUrlEncodedContent(
        [
            new("grant_type", "password"),
            new("client_id", "test-system"),
            new("client_secret", "test-secret"),
            new("username", user),
            new("password", "pw"),
        ]), Ct);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var client = new HttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
        return client;
    }

    [Fact]
    public async Task an_integration_engineer_reads_a_message_and_the_view_is_audited_with_the_patient_it_names_while_a_gp_is_refused()
    {
        await using var server = await MessagingServer.StartAsync(Settings());
        await using (var mllp = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct))
        {
            Assert.Equal("AA", (await mllp.SendAsync(Hl7Message.Parse(MessagingServer.Adt("VIEW-1", trigger: "A04")), Ct)).Get("MSA-1"));
        }

        var id = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "VIEW-1"), Ct)).Id;
        string patientId = "";
        await MessagingServer.EventuallyAsync(async () =>
        {
            using var found = await server.Client.GetAsync($"{server.BaseUrl}/fhir/Patient?identifier=https://fhir.carehub.local/Id/ral|VIEW-1", Ct);
            using var json = JsonDocument.Parse(await found.Content.ReadAsStringAsync(Ct));
            patientId = json.RootElement.TryGetProperty("entry", out var entries) && entries.GetArrayLength() == 1
                ? entries[0].GetProperty("resource").GetProperty("id").GetString()!
                : "";
            return patientId.Length > 0;
        }, "the message's patient is in the record");

        using var engineer = await UserAsync(server, "int.eng");
        using var gp = await UserAsync(server, "gp.smith");
        using var viewed = await engineer.GetAsync($"{server.BaseUrl}/admin/messaging/messages/{id}", Ct);
        using var refused = await gp.GetAsync($"{server.BaseUrl}/admin/messaging/messages/{id}", Ct);
        using var listed = await engineer.GetAsync($"{server.BaseUrl}/admin/messaging/channels", Ct);

        Assert.Equal(HttpStatusCode.OK, viewed.StatusCode);
        Assert.Contains("TESTPATIENT", await viewed.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.DoesNotContain("TESTPATIENT", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        using (var channels = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(Ct)))
        {
            Assert.Equal("none (unauthenticated, loopback only)", channels.RootElement[0].GetProperty("authentication").GetString());
        }


        await server.Service<AuditTrail>().FlushAsync(Ct);
        using var audit = await server.Client.GetAsync($"{server.BaseUrl}/fhir/AuditEvent?patient=Patient/{patientId}&_count=200", Ct);
        using var events = JsonDocument.Parse(await audit.Content.ReadAsStringAsync(Ct));
        var views = events.RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(e => e.GetProperty("entity").EnumerateArray().Any(x => x.TryGetProperty("what", out var what)
                && what.TryGetProperty("reference", out var reference) && reference.GetString() == $"urn:carehub:message:{id}"))
            .ToList();
        var view = Assert.Single(views);
        Assert.Contains("int.eng", view.GetProperty("agent")[0].GetProperty("who").GetRawText(), StringComparison.Ordinal);
        Assert.Equal("0", view.GetProperty("outcome").GetString());
    }
}
