using CareHub.Notifications.Storage;
using CareHub.Notifications.Storage.Postgres;
using Npgsql;

namespace CareHub.Tests.Notifications;

/// <summary>
/// The notification store contract on PostgreSQL (CAREHUB_TEST_POSTGRES; ./carehub test starts a throwaway cluster), in a
/// schema of its own per test; plus what only a shared server has: two nodes contending for one subscription's queue.
/// </summary>
public sealed class PostgresNotificationStoreTests : NotificationStoreContract
{
    private const string Variable = "CAREHUB_TEST_POSTGRES";
    private readonly string schema = $"carehub_notify_{Guid.NewGuid():N}";
    private NpgsqlDataSource? admin;

    private static string ConnectionString()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Skip($"{Variable} is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return value;
    }

    protected override ValueTask<INotificationStore> CreateStoreAsync()
    {
        var connectionString = ConnectionString();
        admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema, Pooling = false }.ConnectionString);
        return ValueTask.FromResult<INotificationStore>(new PostgresNotificationStore(connectionString, schema));
    }

    protected override async ValueTask DropDatabaseAsync()
    {
        await using var command = admin!.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await command.ExecuteNonQueryAsync(Ct);
        await admin.DisposeAsync();
    }

    [Fact]
    public async Task a_second_node_passes_a_queue_that_another_node_is_delivering()
    {
        await using var otherNode = new PostgresNotificationStore(ConnectionString(), schema);
        await SubscribeAsync(0, Settings("a"));

        var held = await Store.ClaimAsync("a", Ct);
        var other = await otherNode.ClaimAsync("a", Ct);
        await held!.DisposeAsync();
        var afterRelease = await otherNode.ClaimAsync("a", Ct);

        Assert.Null(other);
        Assert.NotNull(afterRelease);
        await afterRelease.DisposeAsync();
    }
}
