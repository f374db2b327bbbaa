using System.Globalization;
using CareHub.Storage;
using CareHub.Storage.Postgres;
using Npgsql;

namespace CareHub.Tests.Storage;

/// <summary>
/// The contract on PostgreSQL, plus what only a shared server has (concurrent nodes, row locks). The server comes from
/// CAREHUB_TEST_POSTGRES (an Npgsql connection string; ./carehub test starts a throwaway cluster with
/// scripts/pg-test-cluster.sh and sets it). Every test gets a schema of its own, dropped afterwards.
/// </summary>
public sealed class PostgresRecordStoreTests : RecordStoreContract
{
    private const string Variable = "CAREHUB_TEST_POSTGRES";
    private readonly string schema = $"carehub_test_{Guid.NewGuid():N}";
    private NpgsqlDataSource? admin;

    private NpgsqlDataSource Admin => admin ?? throw new InvalidOperationException("The data source is created with the store.");

    private static string ConnectionString()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Skip($"{Variable} is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return value;
    }

    protected override ValueTask<SqlRecordStore> CreateStoreAsync()
    {
        var connectionString = ConnectionString();
        admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema, Pooling = false }.ConnectionString);
        return ValueTask.FromResult<SqlRecordStore>(new PostgresRecordStore(connectionString, schema));
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    protected override string HexLiteral(byte[] bytes) => $"'\\x{Convert.ToHexString(bytes)}'::bytea";

    protected override async Task<long> ScalarSqlAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
    }

    protected override async ValueTask DropDatabaseAsync()
    {
        await ExecuteSqlAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await Admin.DisposeAsync();
    }

    [Fact]
    public async Task concurrent_nodes_migrate_once()
    {
        var nodeSchema = schema + "_nodes";
        var nodes = Enumerable.Range(0, 4).Select(_ => new PostgresRecordStore(ConnectionString(), nodeSchema)).ToList();
        try
        {
            await Task.WhenAll(nodes.Select(node => Task.Run(() => node.MigrateAsync(Ct), Ct)));

            Assert.Equal(MigrationCount("postgresql"), await ScalarSqlAsync($"SELECT COUNT(*) FROM \"{nodeSchema}\".schema_version"));
            Assert.Equal(1, await ScalarSqlAsync($"SELECT COUNT(*) FROM pg_namespace WHERE nspname = '{nodeSchema}'"));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            await ExecuteSqlAsync($"DROP SCHEMA IF EXISTS \"{nodeSchema}\" CASCADE");
        }
    }

    [Fact]
    public async Task a_writer_that_waited_on_the_row_lock_reads_the_version_committed_meanwhile()
    {
        await Store.AppendAsync([Write(1, 0)], Ct);
        await using var first = await Store.BeginWriteAsync(Ct);
        await first.WriteAsync(Write(2, 1), Ct);

        var second = Task.Run(async () =>
        {
            await using var session = await Store.BeginWriteAsync(Ct);
            var seen = await session.ReadAsync("Patient", "locked", Ct);
            var conflict = await Assert.ThrowsAsync<VersionConflictException>(() => session.WriteAsync(Write(2, 1), Ct));
            return (seen?.Version, conflict.Actual);
        }, Ct);
        await WaitUntilAWriterWaitsForALockAsync();
        await first.CommitAsync(Ct);

        Assert.Equal((2, 2), await second);
    }

    [Fact]
    public void a_schema_name_must_be_a_plain_identifier() =>
        Assert.Throws<ArgumentException>(() => new PostgresRecordStore("Host=127.0.0.1", "x\"; DROP SCHEMA public; --"));

    private static VersionWrite Write(int version, int expected) =>
        new("Patient", "locked", version, DateTimeOffset.UnixEpoch, "PUT", """{"resourceType":"Patient"}""", expected, []);

    private async Task WaitUntilAWriterWaitsForALockAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarSqlAsync($"SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%' AND datname = current_database()") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no writer waited for the row lock within 30 s");
            await Task.Delay(10, Ct);
        }
    }
}
