using CareHub.Fhir;
using CareHub.Messaging.Storage;
using CareHub.Records;
using CareHub.Records.Feed;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Messaging;

/// <summary>Outbound channels whose source is the record's change feed (<c>Source:Type</c> = <c>changes</c>).</summary>
public sealed partial class MessageBroker
{
    /// <summary>The most change events one batch of a change-feed channel reads.</summary>
    public const int FeedBatchSize = 200;

    /// <summary>The prefix of a change-feed channel's consumer name (its position in the message store is the channel's own name).</summary>
    public const string FeedConsumerPrefix = "channel:";

    /// <summary>
    /// One consumer of the change feed per enabled change-feed channel, for the <see cref="ChangeFeedReader"/> to run: it
    /// turns each Patient change into an ADT^A08 message queued for the channel's destinations, and stores the messages and
    /// its position in the message store in one transaction.
    /// </summary>
    public IReadOnlyList<IChangeFeedConsumer> FeedConsumers { get; }

    /// <summary>
    /// Turns the Patient changes of <paramref name="batch"/> into ADT^A08 messages and appends them with the channel's new
    /// position, in one transaction of the message store. Answers false when another node moved the position first.
    /// </summary>
    private async Task<bool> AppendChangesAsync(Channel channel, ChangeBatch batch, CancellationToken cancellationToken)
    {
        var source = channel.Options.Source;
        var context = new RequestContext(channel.Principal, "urn:carehub:channel:" + channel.Options.Name, "changes-" + channel.Options.Name)
        {
            Return = ReturnPreference.Representation,
        };
        var messages = new List<NewMessage>();
        foreach (var change in batch.Events.Where(e => source.ResourceTypes.Contains(e.Type, StringComparer.Ordinal) && e.Method != "DELETE"))
        {
            Patient? patient;
            try
            {
                patient = (await records.ReadAsync(context, change.Type, change.Id, change.Version, cancellationToken)).ToResource() as Patient;
            }
            catch (FhirException e)
            {
                LogChangeSkipped(logger, channel.Options.Name, change.Position, (int)FhirStatus.Of(e));
                continue;
            }

            if (patient is null)
            {
                continue;
            }

            var adt = PatientAdt.Build(patient, source.SendingApplication, source.SendingFacility, change.Time);
            var (processing, _) = Process(channel, adt);
            messages.Add(new NewMessage
            {
                Channel = channel.Options.Name,
                Received = clock.GetUtcNow(),
                Sender = $"changes:{change.Type}/{change.Id}/_history/{change.Version}",
                Raw = adt.EncodeBytes(),
                ControlId = adt.ControlId,
                MessageType = adt.MessageType,
                TriggerEvent = adt.TriggerEvent,
                Processing = processing,
            });
        }

        if (!await store.AppendFromFeedAsync(channel.Options.Name, batch.From, batch.Events[^1].Position, messages, cancellationToken))
        {
            return false;
        }

        if (messages.Count > 0)
        {
            channel.Wake();
        }

        return true;
    }

    /// <summary>A change-feed channel as a consumer of the feed: its position is kept in the message store, with its messages.</summary>
    private sealed class ChannelFeed(MessageBroker broker, Channel channel) : IChangeFeedConsumer
    {
        public string Name { get; } = FeedConsumerPrefix + channel.Options.Name;

        public int BatchSize => FeedBatchSize;

        public TimeSpan Idle => channel.Options.Source.PollInterval;

        public ChangeFeedWake Wake { get; } = new();

        public Task<long> PositionAsync(CancellationToken cancellationToken) => broker.store.GetFeedPositionAsync(channel.Options.Name, cancellationToken);

        public async Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(batch);
            // Not moved: another node took these events; read on from where it left off.
            return await broker.AppendChangesAsync(channel, batch, cancellationToken)
                ? new FeedProgress(batch.Events[^1].Position, true)
                : new FeedProgress(batch.From, true);
        }
    }

    [LoggerMessage(EventId = 4016, Level = LogLevel.Warning, Message = "Channel {Channel}: change at position {Position} skipped (read answered {Status})")]
    private static partial void LogChangeSkipped(ILogger logger, string channel, long position, int status);
}
