using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Postgres;
using Npgsql;

namespace CareHub.Tests.Messaging;

/// <summary>
/// The message store contract on PostgreSQL (CAREHUB_TEST_POSTGRES; ./carehub test starts a throwaway cluster), in a
/// schema of its own per test; plus what only a shared server has: two nodes contending for one queue.
/// </summary>
public sealed class PostgresMessageStoreTests : MessageStoreContract
{
    private const string Variable = "CAREHUB_TEST_POSTGRES";
    private readonly string schema = $"carehub_msg_{Guid.NewGuid():N}";
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

    protected override ValueTask<IMessageStore> CreateStoreAsync()
    {
        var connectionString = ConnectionString();
        admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema, Pooling = false }.ConnectionString);
        return ValueTask.FromResult<IMessageStore>(new PostgresMessageStore(connectionString, schema));
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var command = admin!.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    protected override async ValueTask DropDatabaseAsync()
    {
        await ExecuteSqlAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await admin!.DisposeAsync();
    }

    [Fact]
    public async Task a_second_node_passes_a_queue_that_another_node_is_delivering()
    {
        await using var otherNode = new PostgresMessageStore(ConnectionString(), schema);
        await Store.InsertAsync(new NewMessage
        {
            Channel = "adt",
            Received = T0,
            Sender = "test",
            Raw = [0x4D],
            Processing = new ProcessedMessage(MessageStates.Queued, "x", "text/plain", null, ["record"]),
        }, Ct);

        var held = (await Store.ClaimNextAsync("adt", "record", T0, Ct)).Claim;
        var other = await otherNode.ClaimNextAsync("adt", "record", T0, Ct);
        await held!.DisposeAsync();
        var afterRelease = await otherNode.ClaimNextAsync("adt", "record", T0, Ct);

        Assert.Null(other.Claim);
        Assert.NotNull(afterRelease.Claim);
        await afterRelease.Claim.DisposeAsync();
    }

    [Fact]
    public async Task the_message_store_keeps_its_schema_version_apart_from_the_record_store()
    {
        await using var command = admin!.CreateCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('message_schema_version', 'schema_version')");
        var tables = Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(1, tables);
    }
}
