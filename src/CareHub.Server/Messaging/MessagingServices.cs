using CareHub.Messaging;
using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Postgres;
using CareHub.Messaging.Storage.Sqlite;
using CareHub.Records;

namespace CareHub.Server.Messaging;

/// <summary>
/// Registers the message broker: its store, channels (validated at start) and transformers. Its listeners and delivery
/// workers (<see cref="MessagingHostedService"/>) are server workers, added by <see cref="CareHubServices.AddCareHubWorkers"/>.
/// </summary>
public static class MessagingServices
{
    /// <summary>
    /// Reads <c>CareHub:Messaging</c> and <c>CareHub:Channels</c>, failing fast with the setting's path when a channel is
    /// wrong. The message store is <c>messages.db</c> in the data folder, or the record's PostgreSQL database.
    /// </summary>
    public static IServiceCollection AddCareHubMessaging(this IServiceCollection services, IConfiguration configuration, StorageOptions storage)
    {
        var options = configuration.GetSection(MessagingOptions.SectionName).Get<MessagingOptions>() ?? new MessagingOptions();
        var channels = ReadChannels(configuration);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<IMessageStore>(_ => OpenStore(storage));
        services.AddSingleton<IMessageTransformer, PassThroughTransformer>();
        services.AddSingleton<IMessageTransformer, V2ToFhirTransformer>();
        services.AddSingleton(sp => new MessageBroker(
            sp.GetRequiredService<IMessageStore>(), sp.GetRequiredService<RecordService>(), options, channels,
            sp.GetServices<IMessageTransformer>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<MessageBroker>>()));
        return services;
    }

    /// <summary>The demo's MLLP port unless --mllp-port says otherwise (2575 is the port IANA registered for HL7 over MLLP).</summary>
    public const int DemoMllpPort = 2575;

    /// <summary>
    /// The demo's channel: ADT and ORU over MLLP on 127.0.0.1, without sender authentication (labelled Unauthenticated,
    /// which only a loopback listener may be). Until the HL7 v2 to FHIR mapper is registered as
    /// <c>v2-to-fhir</c>, it passes messages through to a folder in the data folder (<c>demo-inbox</c>); with the mapper
    /// it sets <c>Transformer</c> to <c>v2-to-fhir</c> and the destination to <c>record</c>.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> DemoChannel(int port, string dataDirectory, bool mapperRegistered) =>
    [
        new("CareHub:Channels:0:Name", "demo-adt-oru"),
        new("CareHub:Channels:0:Source:Type", "mllp"),
        new("CareHub:Channels:0:Source:Host", "127.0.0.1"),
        new("CareHub:Channels:0:Source:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        // UNAUTHENTICATED, loopback only: a demo convenience so that mllp_send works without certificates. Real channels
        // authenticate senders (AllowedAddresses and/or client certificates) and name them (Senders); see docs/messaging.md.
        new("CareHub:Channels:0:Source:Unauthenticated", "true"),
        new("CareHub:Channels:0:Filters:MessageTypes:0", "ADT"),
        new("CareHub:Channels:0:Filters:MessageTypes:1", "ORU"),
        new("CareHub:Channels:0:Transformer", mapperRegistered ? "v2-to-fhir" : "pass-through"),
        new("CareHub:Channels:0:Destinations:0:Type", mapperRegistered ? "record" : "folder"),
        new("CareHub:Channels:0:Destinations:0:Path", mapperRegistered ? null : Path.Combine(dataDirectory, "demo-inbox")),
    ];

    /// <summary>The channels of <c>CareHub:Channels</c> (checked by the broker when it is built).</summary>
    public static IReadOnlyList<ChannelOptions> ReadChannels(IConfiguration configuration) =>
        configuration.GetSection(MessagingOptions.ChannelsSectionName).Get<ChannelOptions[]>() ?? [];

    /// <summary>Opens the message store beside the record: its own SQLite file, or the record's PostgreSQL database and schema.</summary>
    public static IMessageStore OpenStore(StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Postgres is { } connectionString
            ? new PostgresMessageStore(connectionString, storage.PostgresSchema)
            : new SqliteMessageStore(Path.Combine(storage.DataDirectory, SqliteMessageStore.FileName), storage.FullSync);
    }
}

/// <summary>
/// Starts the broker's background work and the MLLP listeners of the enabled MLLP channels with the host, and stops
/// them with it. Listeners bind during start, so a port in use fails the start.
/// </summary>
public sealed class MessagingHostedService(MessageBroker broker, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly List<MllpListener> listeners = [];
    private CancellationTokenSource? stopping;
    private Task? running;

    /// <summary>The listeners, for callers that need the bound port (port 0 in tests, the demo's banner).</summary>
    public IReadOnlyList<MllpListener> Listeners => listeners;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("CareHub.Messaging.Mllp");
        foreach (var channel in broker.Channels.Where(c => c.Enabled && c.Source.Type == "mllp"))
        {
            var listener = new MllpListener(channel, broker, logger);
            listener.Start();
            listeners.Add(listener);
        }

        stopping = new CancellationTokenSource();
        running = Task.Run(() => broker.RunAsync(stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var listener in listeners)
        {
            await listener.DisposeAsync();
        }

        listeners.Clear();
        if (stopping is not null)
        {
            await stopping.CancelAsync();
            await running!;
            stopping.Dispose();
            stopping = null;
        }
    }

    /// <summary>Stops what is still running; the broker itself is disposed by the container that owns it.</summary>
    public ValueTask DisposeAsync() => new(StopAsync(CancellationToken.None));
}
