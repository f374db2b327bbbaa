using System.Text;
using CareHub.Hl7v2;
using CareHub.Messaging;
using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Sqlite;
using CareHub.Tests.Messaging.Mapping;
using CareHub.Tests.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Messaging;

/// <summary>
/// A v2-to-fhir channel into the record, in process: no ADT event of HL7 v2.5.1 chapter 3 is refused as unsupported
/// (those the mapper does not map are stored, accepted and flagged unmapped, unless the channel says to refuse them),
/// the mapped ones reach the record, and every shared sample gets the answer its MSH-15 asks for.
/// </summary>
public sealed class BrokerCoverageTests : IAsyncLifetime
{
    private readonly string messagesPath = Path.Combine(Path.GetTempPath(), "carehub-tests", $"broker-{Guid.NewGuid():N}.db");
    private RecordsFixture? records;
    private SqliteMessageStore? store;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        records = await RecordsFixture.CreateAsync();
        store = new SqliteMessageStore(messagesPath);
        await store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (store is not null)
        {
            await store.DisposeAsync();
        }

        if (records is not null)
        {
            await records.DisposeAsync();
        }

        foreach (var file in new[] { messagesPath, messagesPath + "-wal", messagesPath + "-shm" })
        {
            File.Delete(file);
        }
    }

    private MessageBroker Broker(bool refuseUnmapped = false) => new(store!, records!.Records, new MessagingOptions { PollInterval = TimeSpan.FromMilliseconds(50) },
        [
            new ChannelOptions
            {
                Name = "pas",
                Source = new SourceOptions { Type = "http" },
                Transformer = "v2-to-fhir",
                RefuseUnmapped = refuseUnmapped,
                Destinations = [new DestinationOptions { Type = "record" }],
            },
        ],
        [new V2ToFhirTransformer()], TimeProvider.System, NullLogger<MessageBroker>.Instance);

    private static byte[] Bytes(Hl7Message message) => Encoding.UTF8.GetBytes(message.Encode());

    public static IEnumerable<TheoryDataRow<string>> Events() => V2AdtEventTests.Events();

    [Fact]
    public async Task every_adt_event_of_the_chapter_is_accepted_and_the_mapped_ones_reach_the_record()
    {
        await using var broker = Broker();
        var triggers = Events().Select(e => e.Data).ToList();
        foreach (var trigger in triggers)
        {
            var outcome = await broker.ReceiveAsync("pas", Bytes(V2AdtEventTests.Build(trigger, "RTH-" + trigger, "VN-" + trigger)), "test", Ct);

            Assert.True(outcome.Accepted, $"{trigger} is accepted");
            Assert.Equal("AA", Hl7Message.Parse(outcome.Ack!).Get("MSA-1"));
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var running = broker.RunAsync(stopping.Token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await store!.SearchAsync(new MessageQuery(State: MessageStates.Queued), Ct)).Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "every queued message is delivered within 60 s");
            await Task.Delay(25, Ct);
        }

        await stopping.CancelAsync();
        await running;
        var all = await store!.SearchAsync(new MessageQuery(Count: 1000), Ct);
        Assert.Equal(triggers.Count, all.Count);
        Assert.Empty(all.Where(m => m.State == MessageStates.Error).Select(m => $"{m.TriggerEvent}: {m.Error}"));
        var unmapped = all.Where(m => m.Flags.Contains(MessageFlags.Unmapped)).Select(m => m.TriggerEvent).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["A19", "A20", "A24", "A35", "A37", "A41", "A42", "A43", "A44", "A46", "A48", "A49", "A51"], unmapped);
        Assert.All(all.Where(m => m.Flags.Contains(MessageFlags.Unmapped)), m => Assert.Equal(MessageStates.Filtered, m.State));
        Assert.All(all.Where(m => !m.Flags.Contains(MessageFlags.Unmapped)), m => Assert.Equal(MessageStates.Sent, m.State));
    }

    [Fact]
    public async Task a_channel_that_refuses_unmapped_events_answers_them_AR_with_code_201()
    {
        await using var broker = Broker(refuseUnmapped: true);

        var outcome = await broker.ReceiveAsync("pas", Bytes(V2AdtEventTests.Build("A20")), "test", Ct);

        var ack = Hl7Message.Parse(outcome.Ack!);
        Assert.Equal(("AR", MessageStates.Error), (ack.Get("MSA-1"), outcome.State));
        Assert.StartsWith("201", ack.Get("ERR-3"), StringComparison.Ordinal);
    }

    public static IEnumerable<TheoryDataRow<string>> Samples() => V2Samples.Files();

    /// <summary>Samples refused for their content rather than their type, and why (a clear AE with the field).</summary>
    private static readonly Dictionary<string, string> ContentRefusals = new(StringComparer.Ordinal)
    {
        // An A01 with neither a visit number (PV1-19) nor an admit time (PV1-44): a repeat could not find the visit.
        ["ADT01-28.hl7"] = "PV1",
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task every_shared_sample_gets_the_answer_its_msh_15_asks_for_and_none_is_refused_as_unsupported(string file)
    {
        await using var broker = Broker();
        var raw = await File.ReadAllBytesAsync(Path.Combine(SharedData.Require(V2Samples.Folder), file), Ct);
        var message = Hl7Message.Parse(raw);

        var outcome = await broker.ReceiveAsync("pas", raw, "test", Ct);

        var accept = Hl7Acknowledgement.IsAcceptAckRequested(message, outcome.Accepted ? Hl7AckOutcome.Accept : Hl7AckOutcome.Error);
        Assert.Equal(accept, outcome.Ack is not null);
        if (ContentRefusals.TryGetValue(file, out var segment))
        {
            Assert.False(outcome.Accepted);
            Assert.StartsWith(segment, Hl7Message.Parse(outcome.Ack!).Get("ERR-2"), StringComparison.Ordinal);
            return;
        }

        Assert.True(outcome.Accepted, $"{file} ({message.MessageType}^{message.TriggerEvent}) is accepted: {(await store!.GetAsync(outcome.MessageId!.Value, Ct))?.Error}");
        if (outcome.Ack is { } ack)
        {
            Assert.Contains(Hl7Message.Parse(ack).Get("MSA-1"), new[] { "AA", "CA" });
        }
    }
}
