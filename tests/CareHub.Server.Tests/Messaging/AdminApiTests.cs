using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;
using CareHub.Server.Messaging;

namespace CareHub.Server.Tests.Messaging;

/// <summary>The HTTP source and the admin API: authenticated, system scope, counts, search, one message, reprocess.</summary>
public sealed class AdminApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // The channel refuses what its transformer does not map, so that ORU messages end in error for the work queue.
    private static IEnumerable<KeyValuePair<string, string?>> Channels() =>
    [
        .. MessagingServer.InboundChannel(extra: [("RefuseUnmapped", "true")]),
        new("CareHub:Channels:1:Name", "http-in"),
        new("CareHub:Channels:1:Source:Type", "http"),
        new("CareHub:Channels:1:Transformer", TestPatientTransformer.TransformerName),
        new("CareHub:Channels:1:Filters:MessageTypes:0", "ADT^A01"),
        new("CareHub:Channels:1:Destinations:0:Type", "record"),
    ];

    private static async Task<JsonDocument> JsonAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task the_http_source_answers_with_the_ack_once_the_message_is_stored()
    {
        await using var server = await MessagingServer.StartAsync(Channels());
        using var sender = new HttpClient();
        sender.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("sender", "sender-secret"));

        using var accepted = await sender.PostAsync($"{server.BaseUrl}/channels/http-in/messages", new StringContent(MessagingServer.Adt("HTTP-A"), Encoding.UTF8, "x-application/hl7-v2+er7"), Ct);
        using var broken = await sender.PostAsync($"{server.BaseUrl}/channels/http-in/messages", new StringContent("MSH|^~\\&|A|B|||2024||ADT^A01|HTTP-B|P|\r", Encoding.UTF8, "text/plain"), Ct);
        using var anonymous = await new HttpClient().PostAsync($"{server.BaseUrl}/channels/http-in/messages", new StringContent(MessagingServer.Adt("HTTP-C")), Ct);
        using var wrongChannel = await sender.PostAsync($"{server.BaseUrl}/channels/adt-in/messages", new StringContent(MessagingServer.Adt("HTTP-D")), Ct);

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(MessagingApi.Hl7MediaType, accepted.Content.Headers.ContentType?.MediaType);
        var ack = Hl7Message.Parse(await accepted.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(("AA", "HTTP-A"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.Equal("AE", Hl7Message.Parse(await broken.Content.ReadAsByteArrayAsync(Ct), new Hl7ParseOptions { RequireHeaderFields = false }).Get("MSA-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, wrongChannel.StatusCode);
        var stored = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "HTTP-A"), Ct));
        Assert.StartsWith("http:", stored.Sender, StringComparison.Ordinal);
        Assert.Contains("client=sender", stored.Sender, StringComparison.Ordinal);
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync("HTTP-A") == 1, "the Patient is in the record");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task the_http_source_answers_413_to_a_body_over_the_channels_limit_and_stores_nothing(bool contentLength)
    {
        await using var server = await MessagingServer.StartAsync([.. Channels(), new("CareHub:Channels:1:Source:MaxMessageBytes", "1024")]);
        using var sender = new HttpClient();
        sender.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("sender", "sender-secret"));
        var oversized = MessagingServer.Bytes(MessagingServer.Adt("HTTP-BIG") + "NTE|1||" + new string('x', 4096) + "\r");

        // With a Content-Length the server knows at once; chunked, only once it has read past the limit.
        using HttpContent body = contentLength ? new ByteArrayContent(oversized) : new StreamContent(new MemoryStream(oversized));
        body.Headers.ContentType = new MediaTypeHeaderValue(MessagingApi.Hl7MediaType);
        if (!contentLength)
        {
            body.Headers.ContentLength = null;
        }

        using var tooLarge = await sender.PostAsync($"{server.BaseUrl}/channels/http-in/messages", body, Ct);
        using var small = await sender.PostAsync($"{server.BaseUrl}/channels/http-in/messages", new StringContent(MessagingServer.Adt("HTTP-SMALL"), Encoding.UTF8, MessagingApi.Hl7MediaType), Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("1024 bytes", await tooLarge.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Empty(await server.Store.SearchAsync(new MessageQuery(Channel: "http-in", ControlId: "HTTP-BIG"), Ct));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }

    [Fact]
    public async Task the_admin_api_needs_a_system_token_with_the_admin_scope()
    {
        await using var server = await MessagingServer.StartAsync(Channels());
        using var sender = new HttpClient();
        sender.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("sender", "sender-secret"));

        using var anonymous = await new HttpClient().GetAsync($"{server.BaseUrl}/admin/messaging/channels", Ct);
        using var sendOnly = await sender.GetAsync($"{server.BaseUrl}/admin/messaging/channels", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, sendOnly.StatusCode);
    }

    [Fact]
    public async Task channels_show_their_counts_and_messages_can_be_searched_shown_and_reprocessed()
    {
        await using var server = await MessagingServer.StartAsync(Channels());
        await using (var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct))
        {
            await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("ADM-1")), Ct);
            await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("ADM-2").Replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01", StringComparison.Ordinal)), Ct);
        }

        await MessagingServer.EventuallyAsync(async () => (await server.Store.SearchAsync(new MessageQuery(ControlId: "ADM-1", State: MessageStates.Sent), Ct)).Count == 1, "ADM-1 sent");
        using (var channels = await JsonAsync(await server.Client.GetAsync($"{server.BaseUrl}/admin/messaging/channels", Ct)))
        {
            var adt = channels.RootElement.EnumerateArray().Single(c => c.GetProperty("name").GetString() == "adt-in");
            Assert.Equal((2, 1, 1, 0), (adt.GetProperty("received").GetInt64(), adt.GetProperty("sent").GetInt64(), adt.GetProperty("errored").GetInt64(), adt.GetProperty("queued").GetInt64()));
            Assert.Equal("mllp", adt.GetProperty("source").GetString());
            Assert.False(adt.GetProperty("paused").GetBoolean());
            Assert.StartsWith("127.0.0.1:", adt.GetProperty("listening").GetString(), StringComparison.Ordinal);
        }

        long errorId;
        using (var found = await JsonAsync(await server.Client.GetAsync($"{server.BaseUrl}/admin/messaging/messages?channel=adt-in&state=error&type=ORU", Ct)))
        {
            var only = Assert.Single(found.RootElement.EnumerateArray());
            Assert.Equal("ADM-2", only.GetProperty("controlId").GetString());
            errorId = only.GetProperty("id").GetInt64();
        }

        using (var one = await JsonAsync(await server.Client.GetAsync($"{server.BaseUrl}/admin/messaging/messages/{errorId}", Ct)))
        {
            Assert.Contains("ORU^R01", one.RootElement.GetProperty("raw").GetString(), StringComparison.Ordinal);
            Assert.Contains("MSA|AR|ADM-2", one.RootElement.GetProperty("response").GetString(), StringComparison.Ordinal);
            Assert.Contains("200", one.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        using (var bad = await server.Client.GetAsync($"{server.BaseUrl}/admin/messaging/messages?state=lost", Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        using (var unfiltered = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/reprocess", null, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unfiltered.StatusCode);
        }

        using (var reprocessed = await JsonAsync(await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/reprocess?channel=adt-in&state=error", null, Ct)))
        {
            Assert.Equal(1, reprocessed.RootElement.GetProperty("reprocessed").GetInt32());
        }

        // The transformer still refuses ORU: reprocessing runs it again and the message stays in error, kept.
        Assert.Equal(MessageStates.Error, (await server.Store.GetAsync(errorId, Ct))!.State);
        using var missing = await server.Client.PostAsync($"{server.BaseUrl}/admin/messaging/messages/999999/reprocess", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
