using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Sqlite;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// CareHub as its own OS process, killed with SIGKILL while eight MLLP connections stream messages into it. After a
/// restart, every message that was acknowledged AA is in the message store and reaches its destination exactly once.
/// </summary>
public sealed class KillTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task every_message_acknowledged_AA_survives_a_killed_process_and_is_delivered_once()
    {
        var data = Path.Combine(Path.GetTempPath(), "carehub-msgkill-" + Guid.NewGuid().ToString("N"));
        var outbox = Path.Combine(data, "delivered");
        var port = ServerProcess.FreePort();
        var acknowledged = new ConcurrentBag<string>();
        try
        {
            await using (var server = await StartAsync(data, outbox, port))
            {
                using var stop = new CancellationTokenSource();
                var senders = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
                {
                    try
                    {
                        await using var client = await MllpClient.ConnectAsync("127.0.0.1", port, cancellationToken: CancellationToken.None);
                        for (var i = 0; !stop.IsCancellationRequested; i++)
                        {
                            var id = $"K{c}-{i.ToString(CultureInfo.InvariantCulture)}";
                            var ack = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt(id)), CancellationToken.None);
                            if (ack.Get("MSA-1") == "AA")
                            {
                                acknowledged.Add(id);
                            }
                        }
                    }
                    catch (Exception e) when (e is MllpException or IOException or SocketException)
                    {
                        // The server died under this message: it was never acknowledged.
                    }
                }, CancellationToken.None)).ToList();

                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (acknowledged.Count < 400 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10, Ct);
                }

                await server.KillAsync();
                await stop.CancelAsync();
                await Task.WhenAll(senders);
            }

            Assert.True(acknowledged.Count >= 400, $"only {acknowledged.Count} messages were acknowledged before the deadline");

            await using var restarted = await StartAsync(data, outbox, port);
            await using var store = new SqliteMessageStore(Path.Combine(data, SqliteMessageStore.FileName));
            var missing = new List<string>();
            foreach (var id in acknowledged)
            {
                if ((await store.SearchAsync(new MessageQuery(ControlId: id), Ct)).Count != 1)
                {
                    missing.Add(id);
                }
            }

            Assert.Empty(missing);
            await MessagingServer.EventuallyAsync(async () => (await store.ChannelStatusAsync(Ct)).Single().Count(MessageStates.Queued) == 0,
                "every queued message is delivered after the restart", seconds: 120);

            var delivered = Directory.GetFiles(outbox, "*.hl7")
                .Select(f => Hl7Message.Parse(File.ReadAllBytes(f)).ControlId)
                .GroupBy(id => id, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            var notOnce = acknowledged.Where(id => delivered.GetValueOrDefault(id) != 1).ToList();
            var repeated = delivered.Where(d => d.Value != 1).Select(d => d.Key).ToList();
            Assert.True(notOnce.Count == 0, $"acknowledged but not delivered exactly once: {string.Join(", ", notOnce.Take(20))}");
            Assert.True(repeated.Count == 0, $"delivered more than once: {string.Join(", ", repeated.Take(20))}");
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

    /// <summary>
    /// The real server binary with one inbound MLLP channel to a folder. It answers HTTP only once its hosted services,
    /// the MLLP listener among them, have started.
    /// </summary>
    private static Task<ServerProcess> StartAsync(string data, string outbox, int mllpPort) =>
        ServerProcess.StartAsync(data, Ct, new Dictionary<string, string>
        {
            ["CareHub__Messaging__PollInterval"] = "00:00:00.200",
            ["CareHub__Channels__0__Name"] = "adt-in",
            ["CareHub__Channels__0__Source__Type"] = "mllp",
            ["CareHub__Channels__0__Source__Port"] = mllpPort.ToString(CultureInfo.InvariantCulture),
            ["CareHub__Channels__0__Source__Unauthenticated"] = "true",
            ["CareHub__Channels__0__Transformer"] = "pass-through",
            ["CareHub__Channels__0__Destinations__0__Type"] = "folder",
            ["CareHub__Channels__0__Destinations__0__Path"] = outbox,
        });
}
