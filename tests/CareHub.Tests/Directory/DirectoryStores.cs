using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Postgres;
using CareHub.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Directories;

/// <summary>
/// The one door over a fresh store of either kind, for the directory tests: SQLite in a temporary folder, or PostgreSQL
/// (CAREHUB_TEST_POSTGRES, set by ./carehub test) in a schema of its own, dropped afterwards.
/// </summary>
public sealed class DirectoryStores : IAsyncDisposable
{
    private const string Variable = "CAREHUB_TEST_POSTGRES";
    private readonly SqlRecordStore store;
    private readonly AuditTrail audit;
    private readonly Func<ValueTask> drop;

    private DirectoryStores(SqlRecordStore store, Func<ValueTask> drop, PolicyDocument? policy)
    {
        this.store = store;
        this.drop = drop;
        audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        IAccessPolicy access = policy is null ? new ScopeAccessPolicy() : new GovernancePolicy(policy, store, TimeProvider.System);
        Records = new RecordService(store, access, audit, TimeProvider.System);
    }

    public RecordService Records { get; }

    /// <summary>The read-only look-ups the same store offers CareHub's own services.</summary>
    public IRecordLookups Lookups => (IRecordLookups)store;

    /// <summary>A fresh store; the door judges by scopes alone, or by the access policy of <paramref name="policy"/> when given.</summary>
    public static async Task<DirectoryStores> CreateAsync(bool postgres, CancellationToken cancellationToken, PolicyDocument? policy = null)
    {
        DirectoryStores stores;
        if (postgres)
        {
            var connectionString = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                Assert.Skip($"{Variable} is not set: run ./carehub test, which starts a throwaway PostgreSQL");
            }

            var schema = $"carehub_test_{Guid.NewGuid():N}";
            stores = new DirectoryStores(new PostgresRecordStore(connectionString, schema), async () =>
            {
                await using var source = Npgsql.NpgsqlDataSource.Create(connectionString);
                await using var command = source.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                await command.ExecuteNonQueryAsync(CancellationToken.None);
            }, policy);
        }
        else
        {
            var folder = Path.Combine(Path.GetTempPath(), "carehub-directory-" + Guid.NewGuid().ToString("N"));
            stores = new DirectoryStores(new SqliteRecordStore(Path.Combine(folder, "carehub.db")), () =>
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (IOException)
                {
                }

                return ValueTask.CompletedTask;
            }, policy);
        }

        await stores.store.MigrateAsync(cancellationToken);
        return stores;
    }

    public async ValueTask DisposeAsync()
    {
        await audit.DisposeAsync();
        await store.DisposeAsync();
        await drop();
    }
}
