using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Records;

/// <summary>The one door over a fresh embedded store, with a system principal holding every scope.</summary>
public sealed class RecordsFixture : IAsyncDisposable
{
    private RecordsFixture(SqliteRecordStore store)
    {
        Store = store;
        Audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        Records = new RecordService(store, new ScopeAccessPolicy(), Audit, TimeProvider.System);
    }

    public SqliteRecordStore Store { get; }

    public AuditTrail Audit { get; }

    public RecordService Records { get; }

    public static RequestContext System(string scopes = "system/*.cruds") => new(
        new Principal { Kind = PrincipalKind.System, Subject = "tests", ClientId = "tests", Issuer = "tests", Scopes = ScopeSet.Parse(scopes) },
        "http://localhost/fhir",
        Guid.NewGuid().ToString("N"))
    {
        Return = ReturnPreference.Minimal,
    };

    public static async Task<RecordsFixture> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "carehub-records-" + Guid.NewGuid().ToString("N"));
        var store = new SqliteRecordStore(Path.Combine(directory, "carehub.db"));
        await store.MigrateAsync(CancellationToken.None);
        return new RecordsFixture(store);
    }

    public async ValueTask DisposeAsync()
    {
        await Audit.DisposeAsync();
        var path = Path.GetDirectoryName(Store.DatabasePath)!;
        await Store.DisposeAsync();
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
