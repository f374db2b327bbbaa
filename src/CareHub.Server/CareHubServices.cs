using CareHub.Governance;
using CareHub.Messaging.Storage;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Search;
using CareHub.Server.Feed;
using CareHub.Server.Fhir;
using CareHub.Server.Identity;
using CareHub.Server.Messaging;
using CareHub.Server.Notifications;
using CareHub.Server.Security;
using CareHub.Server.SignIn;
using CareHub.Server.Terminology;
using CareHub.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CareHub.Server;

/// <summary>
/// The one composition root: every face (the web host, each command-line command) gets the record's door, its write
/// hooks, read views and patient links, the access policy, the audit trail, the MPI and the message broker from here,
/// so none of them can run the door with a different set of collaborators.
/// </summary>
public static class CareHubServices
{
    /// <summary>
    /// Reads and validates every <c>CareHub:*</c> section the record and the broker use (failing fast with the setting's
    /// path), and registers the stores, the access policy, the audit trail, the door (<see cref="RecordService"/>) with
    /// its collaborators, the MPI and the message broker. Background work is not started here (see
    /// <see cref="AddCareHubWorkers"/>), nor is HTTP authentication, which only the server's faces need
    /// (<see cref="AuthServiceCollectionExtensions.AddCareHubAuth"/>: a command acts as a local operator and needs no
    /// token issuer configured).
    /// </summary>
    public static IServiceCollection AddCareHub(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var storage = ReadStorage(configuration);
        var fhir = configuration.GetSection(FhirOptions.SectionName).Get<FhirOptions>() ?? new FhirOptions();
        fhir.Validate();
        var searchLimits = configuration.GetSection(SearchLimits.SectionName).Get<SearchLimits>() ?? SearchLimits.Default;
        searchLimits.Validate();
        // Information governance (docs/governance.md): the policy file, or the default one CareHub ships with.
        var retention = configuration.GetSection(Governance.Lifecycle.RetentionOptions.SectionName).Get<Governance.Lifecycle.RetentionOptions>() ?? new Governance.Lifecycle.RetentionOptions();
        retention.Validate();
        var policy = configuration["CareHub:Governance:PolicyFile"] is { Length: > 0 } policyFile ? PolicyDocument.Load(policyFile) : PolicyDocument.Default;

        services.AddLogging();
        services.AddSingleton(storage);
        services.AddSingleton(new ServerLimits(storage.MaxBodyBytes, fhir.MaxNestingDepth));
        services.AddSingleton(fhir);
        services.AddSingleton(searchLimits);
        services.AddSingleton(retention);
        services.TryAddSingleton(TimeProvider.System);
        // One store under each of its interfaces: the door's contract, and the narrower ones CareHub's own look-ups, the MPI
        // and the governance jobs read through.
        // The owner is created with the store, before any of the store's users, so the container disposes it after all
        // of them; the registrations below hand out the same store without closing it (SqlRecordStore.ClosedByOwner).
        services.AddSingleton(_ => new RecordStoreOwner(OpenStore(storage, closedByOwner: true)));
        services.AddSingleton(sp => sp.GetRequiredService<RecordStoreOwner>().Store);
        services.AddSingleton<IRecordStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        services.AddSingleton<IRecordLookups>(sp => sp.GetRequiredService<SqlRecordStore>());
        services.AddSingleton<CareHub.Identity.IPersonIndexStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        services.AddSingleton<IGovernanceStore>(sp => sp.GetRequiredService<SqlRecordStore>());
        services.AddSingleton<IChangeFeed>(sp => sp.GetRequiredService<SqlRecordStore>());
        services.AddSingleton<IAccessPolicy>(sp => new GovernancePolicy(policy, sp.GetRequiredService<IRecordLookups>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<AuditTrail>();
        services.AddSingleton(sp => new DecisionCache(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new RecordService(
            sp.GetRequiredService<IRecordStore>(), sp.GetRequiredService<IAccessPolicy>(), sp.GetRequiredService<AuditTrail>(), sp.GetRequiredService<TimeProvider>(),
            writeHooks: sp.GetServices<IWriteHook>(),
            patientLinks: sp.GetService<IPatientLinks>(),
            readViews: sp.GetServices<IReadView>(),
            bundlePatch: FhirApi.PatchFrom,
            decisions: sp.GetRequiredService<DecisionCache>(),
            terminology: sp.GetService<ISearchTerminology>()));
        services.AddSingleton<IReadView, CitizenAuditView>();
        services.AddMpi(configuration);
        services.AddSingleton<CapabilityStatementFactory>();

        // Directories: where an organisation's endpoints are, what services it offers, the roles of a practitioner.
        services.AddSingleton<CareHub.Directories.DirectoryLookup>();
        services.AddCareHubMessaging(configuration, storage);
        services.AddCareHubSignInStore(configuration, storage);
        services.AddCareHubNotifications(configuration, storage);
        services.AddCareHubTerminology(configuration, storage);
        return services;
    }

    /// <summary>
    /// The background work of a server: the broker's delivery workers and MLLP listeners, notification delivery, and the
    /// change-feed reader with its consumers (queued matching, change-feed channels, the notification engine, the access
    /// policy's kept decisions). Only the server adds these; a command-line command shares the
    /// server's store and leaves that work to it.
    /// </summary>
    public static IServiceCollection AddCareHubWorkers(this IServiceCollection services)
    {
        services.AddSingleton<MessagingHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<MessagingHostedService>());
        services.AddSingleton<IChangeFeedConsumer>(sp => new DecisionCacheFeed(
            sp.GetRequiredService<DecisionCache>(), sp.GetRequiredService<IAccessPolicy>(), sp.GetRequiredService<IChangeFeed>()));
        services.AddNotificationWorkers();
        services.AddChangeFeed();
        return services;
    }

    /// <summary>
    /// The services of a command-line command: the same registrations as the server, without its background work, and
    /// without log output (commands report on the console themselves).
    /// </summary>
    public static ServiceProvider BuildForCommand(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddCareHub(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    /// <summary>Reads and validates <c>CareHub:Storage</c>.</summary>
    public static StorageOptions ReadStorage(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var storage = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        storage.Validate();
        return storage;
    }

    /// <summary>Opens the configured store; <see cref="CareHubStartup.PrepareAsync"/> migrates it.</summary>
    public static SqlRecordStore OpenStore(StorageOptions storage, bool closedByOwner = false)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Postgres is { } connectionString
            ? new Storage.Postgres.PostgresRecordStore(connectionString, storage.PostgresSchema) { StatisticsOptions = new() { Every = storage.StatisticsEvery }, ClosedByOwner = closedByOwner }
            : new Storage.Sqlite.SqliteRecordStore(Path.Combine(storage.DataDirectory, "carehub.db"), storage.FullSync) { StatisticsOptions = new() { Every = storage.StatisticsEvery }, ClosedByOwner = closedByOwner };
    }
}

/// <summary>Closes the record store when the container that created it is disposed, after everything that used it.</summary>
public sealed class RecordStoreOwner(SqlRecordStore store) : IAsyncDisposable
{
    public SqlRecordStore Store { get; } = store;

    public ValueTask DisposeAsync() => Store.CloseAsync();
}

/// <summary>The one start-up step of every face: the stores brought to this build's schema, and the custom search parameters loaded.</summary>
public static class CareHubStartup
{
    /// <summary>
    /// Migrates the record store (failing fast on a schema newer than this build), loads the stored SearchParameter
    /// resources into effect, migrates the message, sign-in, notification and SNOMED CT stores (each with its own migrations
    /// and version table), and loads the sign-in server's keys when it is on.
    /// </summary>
    public static async Task PrepareAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        var store = services.GetRequiredService<IRecordStore>();
        await store.MigrateAsync(cancellationToken);
        await CustomSearchParameters.LoadAsync(store, cancellationToken);
        await services.GetRequiredService<IMessageStore>().MigrateAsync(cancellationToken);
        await services.GetRequiredService<CareHub.Notifications.Storage.INotificationStore>().MigrateAsync(cancellationToken);
        await SignInServices.PrepareSignInAsync(services, cancellationToken);
        await services.GetRequiredService<CareHub.Terminology.Snomed.SnomedStore>().MigrateAsync(cancellationToken);
    }
}
