using CareHub.Governance;
using CareHub.Identity;
using CareHub.Records;

namespace CareHub.Server.Cli;

/// <summary>
/// What a command (import, reindex, mpi, audit, purge, messages) works with, without a web server: the services of the one
/// composition root (<see cref="CareHubServices.AddCareHub"/>) read from the same settings as the server
/// (appsettings.json beside the binary, environment variables, then the command line), prepared by the same start-up
/// step. So a command writes through the same door, with the same write hooks, access policy and audit, as the server.
/// Commands act as a local operator's system principal (<see cref="ServeCommand.Loader"/>), which the access policy
/// judges by its scopes, as it judges any system client of the server.
/// </summary>
public sealed class LocalRecords : IAsyncDisposable
{
    private readonly ServiceProvider services;

    private LocalRecords(ServiceProvider services) => this.services = services;

    /// <summary>The composition root's services, for what a command needs beyond the door (the message broker).</summary>
    public IServiceProvider Services => services;

    public RecordService Records => services.GetRequiredService<RecordService>();

    /// <summary>The MPI's operations over the same door and settings.</summary>
    public MasterPersonIndex Mpi => services.GetRequiredService<MasterPersonIndex>();

    /// <summary>
    /// The store as the governance jobs see it, for commands that work below the door (audit verify reads the chain; purge
    /// removes expired records with their audit records, which no interaction of the door can do).
    /// </summary>
    public IGovernanceStore Governance => services.GetRequiredService<IGovernanceStore>();

    /// <summary>The server's settings: appsettings.json, environment variables, then the command line.</summary>
    public static IConfiguration Configuration(IEnumerable<KeyValuePair<string, string?>> commandLine) => new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables()
        .AddInMemoryCollection(commandLine)
        .Build();

    public static Task<LocalRecords> OpenAsync(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return OpenAsync(options.Settings());
    }

    /// <summary>Builds the services from the settings and prepares the stores as the server does at start.</summary>
    public static async Task<LocalRecords> OpenAsync(IEnumerable<KeyValuePair<string, string?>> commandLine)
    {
        var services = CareHubServices.BuildForCommand(Configuration(commandLine));
        try
        {
            await CareHubStartup.PrepareAsync(services, CancellationToken.None);
            return new LocalRecords(services);
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }
    }

    /// <summary>After a bulk load: the planner's statistics brought up to date, so the next searches are planned on what was loaded.</summary>
    public async Task<TimeSpan> RefreshStatisticsAsync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await Records.RefreshStatisticsAsync(CancellationToken.None);
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Writes what is still queued for audit, then closes the stores (the container disposes in reverse order of creation).</summary>
    public ValueTask DisposeAsync() => services.DisposeAsync();
}
