using CareHub.Governance;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Tests.Identity;

/// <summary>The one door with the MPI hook over a fresh embedded store, and the MPI's operations.</summary>
public sealed class MpiFixture : IAsyncDisposable
{
    private MpiFixture(SqliteRecordStore store, MpiOptions options)
    {
        Store = store;
        Audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
        var matcher = new PersonMatcher(options.ToMatchSettings());
        Records = new RecordService(store, new ScopeAccessPolicy(), Audit, TimeProvider.System, writeHooks: [new MpiWriteHook(options, Store, matcher, TimeProvider.System)]);
        Mpi = new MasterPersonIndex(Records, store, options, matcher, TimeProvider.System);
    }

    public SqliteRecordStore Store { get; }

    public AuditTrail Audit { get; }

    public RecordService Records { get; }

    public MasterPersonIndex Mpi { get; }

    public static RequestContext Context => RecordsFixture.System();

    public static async Task<MpiFixture> CreateAsync(MpiOptions? options = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "carehub-mpi-" + Guid.NewGuid().ToString("N"));
        var store = new SqliteRecordStore(Path.Combine(directory, "carehub.db"));
        await store.MigrateAsync(CancellationToken.None);
        return new MpiFixture(store, options ?? new MpiOptions());
    }

    public static Patient NewPatient(string given = "Jo", string family = "Smith", string birthDate = "1970-01-01", string? nhs = null,
        string? postcode = "LS1 4AP", AdministrativeGender? gender = AdministrativeGender.Female, string? localId = null)
    {
        var patient = new Patient
        {
            Name = [new HumanName { Family = family, Given = [given] }],
            BirthDate = birthDate,
            Gender = gender,
        };
        if (nhs is not null)
        {
            patient.Identifier.Add(new Identifier(NhsNumber.IdentifierSystem, nhs));
        }

        if (localId is not null)
        {
            patient.Identifier.Add(new Identifier("https://example.org/pas", localId));
        }

        if (postcode is not null)
        {
            patient.Address.Add(new Address { Use = Address.AddressUse.Home, Line = ["1 High Street"], City = "Leeds", PostalCode = postcode });
        }

        return patient;
    }

    /// <summary>The one door and the MPI over this fixture's store with other settings (a restart with new configuration).</summary>
    public (RecordService Records, MasterPersonIndex Mpi) OpenWith(MpiOptions options)
    {
        var matcher = new PersonMatcher(options.ToMatchSettings());
        var records = new RecordService(Store, new ScopeAccessPolicy(), Audit, TimeProvider.System, writeHooks: [new MpiWriteHook(options, Store, matcher, TimeProvider.System)]);
        return (records, new MasterPersonIndex(records, Store, options, matcher, TimeProvider.System));
    }

    public async Task<string> CreateAsync(Patient patient, CancellationToken cancellationToken) =>
        (await Records.CreateAsync(Context, patient, null, cancellationToken)).Id;

    /// <summary>The MPI Person linking a Patient, or null.</summary>
    public async Task<Person?> PersonOfAsync(string patientId, CancellationToken cancellationToken)
    {
        var page = await Store.SearchAsync(new StoreQuery("Person", [new TokenClause(MpiCodes.LinkParam, [new TokenMatch(null, patientId, false)])], 2) { Scope = QueryScope.Internal("test") }, cancellationToken);
        return page.Resources.Count == 1 ? (Person)StoredJson.Parse(page.Resources[0].Json!) : null;
    }

    /// <summary>Ids of the Patients in the Person of a Patient, sorted.</summary>
    public async Task<IReadOnlyList<string>> MembersAsync(string patientId, CancellationToken cancellationToken) =>
        (await PersonOfAsync(patientId, cancellationToken)) is { } person
            ? person.Link.Select(l => l.Target!.Reference!["Patient/".Length..]).Order(StringComparer.Ordinal).ToList()
            : [];

    public async Task<IReadOnlyList<FhirTask>> ReviewsAsync(CancellationToken cancellationToken) =>
        (await Mpi.ReviewQueueAsync(Context, 100, cancellationToken)).Entry.Select(e => (FhirTask)e.Resource!).ToList();

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
