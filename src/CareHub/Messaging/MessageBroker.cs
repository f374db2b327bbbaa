using System.Text;
using CareHub.Governance;
using CareHub.Hl7v2;
using CareHub.Messaging.Destinations;
using CareHub.Messaging.Storage;
using CareHub.Records;
using CareHub.Records.Feed;
using Microsoft.Extensions.Logging;


namespace CareHub.Messaging;

/// <summary>
/// The message broker: channels (source, filters, transformer, destinations) over the message store. Intake stores every
/// inbound message durably before it is acknowledged, answers a resend with the stored answer, and queues one delivery
/// per destination; <see cref="RunAsync"/> runs the delivery workers, the purge and watched folders, and
/// <see cref="FeedConsumers"/> are the change-feed channels for the <see cref="ChangeFeedReader"/> to run.
/// Sources that listen on the network (MLLP, HTTP) live in the server and call <see cref="ReceiveAsync"/>.
/// </summary>
public sealed partial class MessageBroker : IAsyncDisposable
{
    private readonly IMessageStore store;
    private readonly RecordService records;
    private readonly MessagingOptions options;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly Dictionary<string, Channel> channels;

    public MessageBroker(IMessageStore store, RecordService records, MessagingOptions options, IReadOnlyList<ChannelOptions> channelOptions,
        IEnumerable<IMessageTransformer> transformers, TimeProvider clock, ILogger<MessageBroker> logger,
        Func<ChannelOptions, DestinationOptions, IMessageDestination>? destinationFactory = null)
    {
        ArgumentNullException.ThrowIfNull(channelOptions);
        this.store = store;
        this.records = records;
        this.options = options;
        this.clock = clock;
        this.logger = logger;
        var byName = transformers.ToDictionary(t => t.Name, StringComparer.Ordinal);
        options.Validate();
        channels = new Dictionary<string, Channel>(StringComparer.Ordinal);
        for (var i = 0; i < channelOptions.Count; i++)
        {
            var c = channelOptions[i];
            c.Validate($"{MessagingOptions.ChannelsSectionName}:{i}", byName.Keys);
            if (c.Source.Type == "changes" && c.Source.ResourceTypes.Any(t => t != "Patient"))
            {
                throw new InvalidOperationException($"{MessagingOptions.ChannelsSectionName}:{i}:Source:ResourceTypes: change-feed channels send Patient changes (as ADT^A08) only.");
            }

            if (!channels.TryAdd(c.Name, new Channel(c, new MessageFilter(c.Filters), new SenderRule(c.Source.Senders), byName[c.Transformer], Principal(c))))
            {
                throw new InvalidOperationException($"{MessagingOptions.ChannelsSectionName}:{i}:Name '{c.Name}' is used by another channel.");
            }
        }

        var factory = destinationFactory ?? CreateDestination;
        foreach (var channel in channels.Values)
        {
            foreach (var d in channel.Options.Destinations)
            {
                channel.Routes.Add(new Route(channel, d, factory(channel.Options, d)));
            }
        }

        FeedConsumers = channels.Values.Where(c => c.Options.Enabled && c.Options.Source.Type == "changes").Select(c => (IChangeFeedConsumer)new ChannelFeed(this, c)).ToList();
    }

    public IMessageStore Store => store;

    /// <summary>The configured channels, by name.</summary>
    public IReadOnlyCollection<ChannelOptions> Channels => channels.Values.Select(c => c.Options).ToList();

    public ChannelOptions? FindChannel(string name) => channels.TryGetValue(name, out var c) ? c.Options : null;

    /// <summary>The principal a channel acts as in the record: a system, with the channel's scopes.</summary>
    public static Principal Principal(ChannelOptions channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return new Principal
        {
            Kind = PrincipalKind.System,
            Subject = "channel:" + channel.Name,
            ClientId = "channel:" + channel.Name,
            Issuer = "carehub-messaging",
            Scopes = ScopeSet.Parse(channel.RecordScopes),
            Organisation = channel.Organisation,
        };
    }

    private IMessageDestination CreateDestination(ChannelOptions channel, DestinationOptions d) => d.Type switch
    {
        "record" => new RecordDestination(records, Principal(channel), d.EffectiveName, channel.DemographicsAgreement, clock),
        "mllp" => new MllpDestination(d),
        "http" => new HttpDestination(d),
        "folder" => new FolderDestination(d),
        _ => throw new InvalidOperationException($"Unknown destination type '{d.Type}'."),
    };

    // ---- intake --------------------------------------------------------------------------------------------------

    /// <summary>
    /// Takes one inbound message: parses it, answers a resend with the stored answer, filters and transforms it, stores
    /// it with its deliveries queued, and only then returns the ACK to send. A message that cannot be parsed is stored in
    /// error state and answered AE or AR with an ERR segment (or not at all when it has no MSH to answer).
    /// </summary>
    /// <exception cref="ArgumentException">No such channel.</exception>
    public async Task<IntakeOutcome> ReceiveAsync(string channelName, byte[] raw, string sender, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(raw);
        var channel = channels.TryGetValue(channelName, out var c) ? c : throw new ArgumentException($"No channel '{channelName}'.", nameof(channelName));
        var now = clock.GetUtcNow();
        Hl7Message message;
        try
        {
            message = Hl7Message.Parse(raw);
        }
        catch (Hl7ParseException e)
        {
            var nak = Hl7Acknowledgement.ForUnparseable(raw, e);
            var stored = await store.InsertAsync(new NewMessage
            {
                Channel = channel.Options.Name,
                Received = now,
                Sender = sender,
                Raw = raw,
                ControlId = NullIfEmpty(nak?.Get("MSA-2")),
                Response = nak?.Encode(),
                Processing = ProcessedMessage.Failed($"{(int)e.ErrorCode} {Hl7ErrorCodes.Describe(e.ErrorCode)}: {e.Message}"),
            }, cancellationToken);
            LogUnparseable(logger, channel.Options.Name, stored.Id, (int)e.ErrorCode, sender);
            return new IntakeOutcome(nak?.EncodeBytes(), stored.Id, MessageStates.Error, false);
        }

        // A resend is the same sender, control id and content; the same control id with other content is new data
        // (senders' counters restart after upgrades and failovers), which is processed and flagged, never discarded.
        var controlKey = message.ControlId.Length > 0
            ? $"{message.Header.Field(3).Raw}|{message.Header.Field(4).Raw}|{message.ControlId}"
            : null;
        var contentHash = ContentHash(message);
        var dedupKey = controlKey is null ? null : controlKey + "|" + contentHash;
        var resendSince = now - channel.Options.ResendWindow;
        if (dedupKey is not null && await store.FindDuplicateAsync(channel.Options.Name, dedupKey, resendSince, cancellationToken) is { } earlier)
        {
            LogDuplicate(logger, channel.Options.Name, earlier.Id);
            return new IntakeOutcome(Answer(earlier.Response, message), earlier.Id, earlier.State, true);
        }

        var (processing, ack) = Process(channel, message);
        var result = await store.InsertAsync(new NewMessage
        {
            Channel = channel.Options.Name,
            Received = now,
            Sender = sender,
            Raw = raw,
            ControlId = NullIfEmpty(message.ControlId),
            MessageType = NullIfEmpty(message.MessageType),
            TriggerEvent = NullIfEmpty(message.TriggerEvent),
            Response = ack?.Encode(),
            DedupKey = processing.State == MessageStates.Error ? null : dedupKey,
            ResendSince = resendSince,
            ControlKey = controlKey,
            ContentHash = contentHash,
            Processing = processing,
        }, cancellationToken);

        if (result.Duplicate)
        {
            LogDuplicate(logger, channel.Options.Name, result.Id);
            return new IntakeOutcome(Answer(result.Response, message), result.Id, processing.State, true);
        }

        if (processing.Destinations.Count > 0)
        {
            channel.Wake();
        }

        return new IntakeOutcome(ack?.EncodeBytes(), result.Id, processing.State, false);
    }

    /// <summary>
    /// The hash of the whole message as text, segments ended by CR: a resend carries the same bytes, so any difference
    /// (a new send time in MSH-7 or EVN-2 included) makes it new data rather than a resend.
    /// </summary>
    private static string ContentHash(Hl7Message message) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(message.Encode())));

    /// <summary>The stored answer to a message, encoded as the message asks (MSH-18).</summary>
    private static byte[]? Answer(string? response, Hl7Message message) =>
        response is null ? null : (Hl7CharacterSets.ForName(message.CharacterSet) ?? new UTF8Encoding(false)).GetBytes(response);

    /// <summary>Filter and transform: the state to store and the ACK to answer with (null when the sender asked for none).</summary>
    private (ProcessedMessage Processing, Hl7Message? Ack) Process(Channel channel, Hl7Message message)
    {
        ProcessedMessage processing;
        Hl7Message ack;
        if (channel.Senders.Refusal(message) is { } refusal)
        {
            // Refused, not filtered: the sender is not one this channel was set up for. Kept in error state for inspection;
            // AR (HL7 v2 chapter 2.9.2: the message is rejected and must not be sent again as it is), ERR at MSH-4.
            LogSenderRefused(logger, channel.Options.Name);
            processing = ProcessedMessage.Failed($"{(int)Hl7ErrorCode.ApplicationInternalError} {refusal}");
            ack = Hl7Acknowledgement.Create(message, Hl7Acknowledgement.CodeFor(Hl7Acknowledgement.ModeOf(message), Hl7AckOutcome.Reject),
                [new Hl7Error(Hl7ErrorCode.ApplicationInternalError, new Hl7ErrorLocation("MSH", 1, 4), refusal)]);
        }
        else if (!channel.Filter.Matches(message))
        {
            processing = ProcessedMessage.Filtered();
            ack = Hl7Acknowledgement.Accept(message);
        }
        else
        {
            try
            {
                var transformed = channel.Transformer.Transform(message, channel.Options);
                processing = new ProcessedMessage(MessageStates.Queued, transformed.Content, transformed.ContentType, null,
                    channel.Options.Destinations.Select(d => d.EffectiveName).ToList());
                ack = Hl7Acknowledgement.Accept(message);
            }
            catch (MessageTransformException e) when (e.Code is Hl7ErrorCode.UnsupportedMessageType or Hl7ErrorCode.UnsupportedEventCode && !channel.Options.RefuseUnmapped)
            {
                // A message the transformer does not map is still the sender's data, and refusing it stops the sender's
                // interface: it is kept, accepted, and flagged so that it shows as unmapped rather than as delivered.
                LogUnmapped(logger, channel.Options.Name, message.MessageType, message.TriggerEvent);
                processing = ProcessedMessage.Filtered() with { Flags = [MessageFlags.Unmapped], Error = $"{(int)e.Code} {e.Message}" };
                ack = Hl7Acknowledgement.Accept(message);
            }
            catch (MessageTransformException e)
            {
                processing = ProcessedMessage.Failed($"{(int)e.Code} {Hl7ErrorCodes.Describe(e.Code)}: {e.Message}");
                ack = Hl7Acknowledgement.Error(message, new Hl7Error(e.Code, e.Location, e.Message));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A transformer bug must not lose the message: it is kept in error state for reprocessing once fixed.
                LogTransformFailed(logger, e, channel.Options.Name, channel.Transformer.Name);
                processing = ProcessedMessage.Failed($"{(int)Hl7ErrorCode.ApplicationInternalError} transformer {channel.Transformer.Name} failed: {e.GetType().Name}");
                ack = Hl7Acknowledgement.Error(message, new Hl7Error(Hl7ErrorCode.ApplicationInternalError, null, "the message could not be transformed; it is kept for reprocessing"));
            }
        }

        processing = processing with { PartitionKey = PatientPartition.Of(message, channel.PartitionOptions) };
        var outcome = processing.State == MessageStates.Error ? Hl7AckOutcome.Error : Hl7AckOutcome.Accept;
        return (processing, Hl7Acknowledgement.IsAcceptAckRequested(message, outcome) ? ack : null);
    }

    // ---- reprocess and pause -------------------------------------------------------------------------------------

    /// <summary>
    /// Runs a stored message through its channel again (parse, filter, transform) and queues it anew for every
    /// destination, at the end of their queues. False when the message or its channel is unknown.
    /// </summary>
    public async Task<bool> ReprocessAsync(long id, CancellationToken cancellationToken)
    {
        var message = await store.GetAsync(id, cancellationToken);
        if (message is null || !channels.TryGetValue(message.Channel, out var channel))
        {
            return false;
        }

        ProcessedMessage processing;
        if (channel.Options.Source.Type == "changes")
        {
            processing = new ProcessedMessage(MessageStates.Queued, message.Transformed, message.TransformedType, null,
                channel.Options.Destinations.Select(d => d.EffectiveName).ToList());
        }
        else
        {
            try
            {
                processing = Process(channel, Hl7Message.Parse(message.Raw)).Processing;
            }
            catch (Hl7ParseException error)
            {
                processing = ProcessedMessage.Failed($"{(int)error.ErrorCode} {Hl7ErrorCodes.Describe(error.ErrorCode)}: {error.Message}");
            }
        }

        var done = await store.ReprocessAsync(id, processing, clock.GetUtcNow(), cancellationToken);
        LogReprocessed(logger, message.Channel, id, processing.State);
        channel.Wake();
        return done;
    }

    /// <summary>Reprocesses every message the query finds (all pages); returns how many.</summary>
    public async Task<int> ReprocessAsync(MessageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var count = 0;
        var page = query with { Count = 500, BeforeId = null };
        while (true)
        {
            var found = await store.SearchAsync(page, cancellationToken);
            foreach (var summary in found)
            {
                if (await ReprocessAsync(summary.Id, cancellationToken))
                {
                    count++;
                }
            }

            if (found.Count < page.Count)
            {
                return count;
            }

            page = page with { BeforeId = found[^1].Id };
        }
    }

    /// <summary>
    /// Sets a dead-lettered message aside: it stays in the store, in error, with the reason, and the later messages of
    /// its patient that it held up go on. False when the message has no dead-lettered delivery.
    /// </summary>
    public async Task<bool> SetAsideAsync(long id, string reason, CancellationToken cancellationToken)
    {
        var message = await store.GetAsync(id, cancellationToken);
        if (message is null || !await store.SetAsideAsync(id, reason, clock.GetUtcNow(), cancellationToken))
        {
            return false;
        }

        LogSetAside(logger, message.Channel, id);
        if (channels.TryGetValue(message.Channel, out var channel))
        {
            channel.Wake();
        }

        return true;
    }

    /// <summary>Pauses or resumes a channel's deliveries (intake goes on: messages queue while paused). False for an unknown channel.</summary>
    public async Task<bool> SetPausedAsync(string channelName, bool paused, CancellationToken cancellationToken)
    {
        if (!channels.TryGetValue(channelName, out var channel))
        {
            return false;
        }

        await store.SetPausedAsync(channelName, paused, cancellationToken);
        channel.Paused = paused;
        LogPaused(logger, channelName, paused);
        channel.Wake();
        return true;
    }

    /// <summary>True when the channel's deliveries are paused (as this node last saw).</summary>
    public bool IsPaused(string channelName) => channels.TryGetValue(channelName, out var c) && c.Paused;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    public async ValueTask DisposeAsync()
    {
        foreach (var route in channels.Values.SelectMany(c => c.Routes))
        {
            await route.Destination.DisposeAsync();
        }
    }

    /// <summary>A configured channel at run time: its parts, its routes, and a signal that wakes its workers.</summary>
    private sealed class Channel(ChannelOptions options, MessageFilter filter, SenderRule senders, IMessageTransformer transformer, Principal principal)
    {
        private readonly object gate = new();
        private TaskCompletionSource signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ChannelOptions Options { get; } = options;

        public MessageFilter Filter { get; } = filter;

        public SenderRule Senders { get; } = senders;

        public IMessageTransformer Transformer { get; } = transformer;

        public Principal Principal { get; } = principal;

        /// <summary>How the patient's identifiers are read for the partition key: the channel's placeholder NHS Numbers left out.</summary>
        public Mapping.V2MappingOptions PartitionOptions { get; } = Mapping.V2MappingOptions.Default with { PlaceholderNhsNumbers = options.EffectivePlaceholderNhsNumbers };

        public List<Route> Routes { get; } = [];

        public volatile bool Paused;

        /// <summary>Completed passes over the watched folder of a folder channel.</summary>
        public long FolderPasses;

        /// <summary>Completes when <see cref="Wake"/> is next called.</summary>
        public Task WhenWoken
        {
            get
            {
                lock (gate)
                {
                    return signal.Task;
                }
            }
        }

        public void Wake()
        {
            TaskCompletionSource woken;
            lock (gate)
            {
                woken = signal;
                signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            woken.TrySetResult();
        }
    }

    private sealed record Route(Channel Channel, DestinationOptions Options, IMessageDestination Destination)
    {
        /// <summary>Passes of this destination's worker completed so far (read through <see cref="DeliveryCycles"/>).</summary>
        public long Cycles;
    }

    /// <summary>
    /// How many passes the worker of a channel's destination has completed: each pass claims and delivers one message,
    /// finds nothing due, or finds the channel paused. Tests wait for passes to complete instead of sleeping.
    /// </summary>
    internal long DeliveryCycles(string channel, string destination) =>
        Interlocked.Read(ref channels[channel].Routes.Single(r => r.Options.EffectiveName == destination).Cycles);

    /// <summary>How many passes over a watched folder have completed (those that failed too), for the same reason.</summary>
    internal long FolderPasses(string channel) => Interlocked.Read(ref channels[channel].FolderPasses);

    /// <summary>Text of a stored message for display.</summary>
    public static string Display(byte[] raw) => SqlMessageStore.DisplayText(raw).Replace("\r", "\n", StringComparison.Ordinal);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Channel {Channel}: message {MessageId} from {Sender} could not be parsed (HL7 error {Code}); stored in error state")]
    private static partial void LogUnparseable(ILogger logger, string channel, long messageId, int code, string sender);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Channel {Channel}: resend of message {MessageId} answered again, not processed twice")]
    private static partial void LogDuplicate(ILogger logger, string channel, long messageId);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "Channel {Channel}: transformer {Transformer} failed")]
    private static partial void LogTransformFailed(ILogger logger, Exception exception, string channel, string transformer);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Channel {Channel}: message {MessageId} reprocessed, now {State}")]
    private static partial void LogReprocessed(ILogger logger, string channel, long messageId, string state);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Channel {Channel}: message refused AR, its MSH-3/MSH-4 is not a configured sender; stored in error state")]
    private static partial void LogSenderRefused(ILogger logger, string channel);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Channel {Channel}: message {MessageId} set aside; its patient's later messages go on")]
    private static partial void LogSetAside(ILogger logger, string channel, long messageId);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "Channel {Channel}: {Type}^{Trigger} is not mapped by the channel's transformer; stored and accepted as unmapped")]
    private static partial void LogUnmapped(ILogger logger, string channel, string type, string trigger);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Channel {Channel}: paused = {Paused}")]
    private static partial void LogPaused(ILogger logger, string channel, bool paused);
}

/// <summary>What intake made of one inbound message: the answer to send (null: none, close or stay silent) and where it is stored.</summary>
public sealed record IntakeOutcome(byte[]? Ack, long? MessageId, string State, bool Duplicate)
{
    /// <summary>True when the message was stored in a state other than error (the ACK is AA or CA).</summary>
    public bool Accepted => State != MessageStates.Error;
}
