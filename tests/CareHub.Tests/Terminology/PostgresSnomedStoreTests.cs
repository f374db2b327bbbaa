using CareHub.Terminology.Snomed;
using Npgsql;

namespace CareHub.Tests.Terminology;

/// <summary>
/// The SNOMED CT store contract on PostgreSQL (CAREHUB_TEST_POSTGRES; ./carehub test starts a throwaway cluster), each
/// test in a schema of its own, dropped afterwards.
/// </summary>
public sealed class PostgresSnomedStoreTests : SnomedStoreContract
{
    private readonly string schema = $"carehub_sct_{Guid.NewGuid():N}";

    internal static string ConnectionString()
    {
        var value = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return value;
    }

    protected override ValueTask<SnomedStore> CreateStoreAsync() => ValueTask.FromResult<SnomedStore>(new PostgresSnomedStore(ConnectionString(), schema));

    protected override async ValueTask DropAsync()
    {
        await using var admin = NpgsqlDataSource.Create(ConnectionString());
        await using var command = admin.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await command.ExecuteNonQueryAsync(Ct);
    }
}
