using CareHub.Terminology.Snomed;

namespace CareHub.Tests.Terminology;

/// <summary>
/// The SNOMED CT store contract on PostgreSQL (CAREHUB_TEST_POSTGRES; ./carehub test starts a throwaway cluster), each
/// test in a schema of its own, dropped afterwards.
/// </summary>
public sealed class PostgresSnomedStoreTests : SnomedStoreContract
{
    private readonly string schema = SnomedTestStores.PostgresSchema();

    protected override ValueTask<SnomedStore> CreateStoreAsync() => ValueTask.FromResult<SnomedStore>(new PostgresSnomedStore(SnomedTestStores.PostgresConnectionString(), schema));

    protected override ValueTask DropAsync() => SnomedTestStores.DropPostgresAsync(schema);
}
