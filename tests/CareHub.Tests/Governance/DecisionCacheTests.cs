using CareHub.Governance;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage.Sqlite;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Tests.Governance;

/// <summary>
/// Decisions kept across requests (<see cref="DecisionCache"/>) must never outlive what they rest on: a write in this
/// process, in a transaction, in another process on the same store, or the clock.
/// </summary>
public sealed class DecisionCacheTests : IAsyncLifetime
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "carehub-decisions-" + Guid.NewGuid().ToString("N"));
    private readonly Clock clock = new(DateTimeOffset.UtcNow);
    private SqliteRecordStore store = null!;
    private AuditTrail audit = null!;
    private DecisionCache decisions = null!;
    private RecordService records = null!;
    private string patientId = null!;

    private static readonly RequestContext GpSmith = User("gp.smith", "A81001");

    public async ValueTask InitializeAsync()
    {
        store = new SqliteRecordStore(Path.Combine(directory, "carehub.db"));
        await store.MigrateAsync(CancellationToken.None);
        audit = new AuditTrail(store, clock, NullLogger<AuditTrail>.Instance);
        decisions = new DecisionCache(clock);
        records = new RecordService(store, new GovernancePolicy(PolicyDocument.Default, store, clock), audit, clock, decisions: decisions);
        await records.UpdateAsync(System(), "Organization", "A81001", new Organization { Id = "A81001", Identifier = [new Identifier(OrganisationSource.OdsSystem, "A81001")], Name = "Practice" }, null, CancellationToken.None);
        var patient = await records.CreateAsync(System(), new Patient
        {
            Name = [new HumanName { Family = "Decided", Given = ["Dana"] }],
            GeneralPractitioner = [new ResourceReference("Organization/A81001")],
        }, null, CancellationToken.None);
        patientId = patient.Id;
    }

    public async ValueTask DisposeAsync()
    {
        await audit.DisposeAsync();
        await store.DisposeAsync();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task a_second_read_uses_the_kept_decision()
    {
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);
        var hits = decisions.Hits;
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);
        Assert.Equal(hits + 1, decisions.Hits);
    }

    [Fact]
    public async Task an_opt_out_committed_in_a_transaction_ends_a_kept_permit()
    {
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);

        await records.ProcessBundleAsync(System(), new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry = [new Bundle.EntryComponent { FullUrl = "urn:uuid:" + Guid.NewGuid(), Resource = OptOut(patientId), Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Consent" } }],
        }, CancellationToken.None);

        await Assert.ThrowsAsync<AccessDeniedException>(() => records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None));
    }

    [Fact]
    public async Task a_refusal_is_kept_too_and_ends_when_the_relationship_is_recorded()
    {
        var trust = User("dr.ahmed", "RTH", "hospital-doctor");
        await Assert.ThrowsAsync<AccessDeniedException>(() => records.ReadAsync(trust, "Patient", patientId, null, CancellationToken.None));
        var hits = decisions.Hits;
        await Assert.ThrowsAsync<AccessDeniedException>(() => records.ReadAsync(trust, "Patient", patientId, null, CancellationToken.None));
        Assert.Equal(hits + 1, decisions.Hits);

        await records.UpdateAsync(System(), "Organization", "RTH", new Organization { Id = "RTH", Identifier = [new Identifier(OrganisationSource.OdsSystem, "RTH")], Name = "Trust" }, null, CancellationToken.None);
        await records.CreateAsync(System(), new Encounter
        {
            Status = Encounter.EncounterStatus.InProgress,
            Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER"),
            Subject = new ResourceReference("Patient/" + patientId),
            Period = new Period { Start = clock.GetUtcNow().AddHours(-1).ToString("yyyy-MM-ddTHH:mm:ssK", global::System.Globalization.CultureInfo.InvariantCulture) },
            ServiceProvider = new ResourceReference("Organization/RTH"),
        }, null, CancellationToken.None);

        await records.ReadAsync(trust, "Patient", patientId, null, CancellationToken.None);
    }

    [Fact]
    public async Task a_write_committed_by_another_process_ends_kept_decisions_when_the_feed_brings_it()
    {
        var feed = new DecisionCacheFeed(decisions, new GovernancePolicy(PolicyDocument.Default, store, clock), store);
        var position = await feed.PositionAsync(CancellationToken.None);
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);

        // Another process on the same database: its commits do not pass through this process's store instance.
        await using (var other = new SqliteRecordStore(store.DatabasePath))
        {
            await using var otherAudit = new AuditTrail(other, clock, NullLogger<AuditTrail>.Instance);
            var elsewhere = new RecordService(other, new GovernancePolicy(PolicyDocument.Default, other, clock), otherAudit, clock);
            await elsewhere.CreateAsync(System(), OptOut(patientId), null, CancellationToken.None);
        }

        var changes = await store.ReadChangesAsync(position, 100, CancellationToken.None);
        Assert.NotEmpty(changes);
        await feed.HandleAsync(new ChangeBatch(position, changes), CancellationToken.None);

        await Assert.ThrowsAsync<AccessDeniedException>(() => records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None));
    }

    [Fact]
    public async Task a_kept_decision_is_not_used_past_its_lifetime()
    {
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);
        clock.Advance(decisions.Lifetime + TimeSpan.FromSeconds(1));
        var hits = decisions.Hits;
        await records.ReadAsync(GpSmith, "Patient", patientId, null, CancellationToken.None);
        Assert.Equal(hits, decisions.Hits);
    }

    [Fact]
    public void a_decision_made_before_a_write_is_never_kept_after_it()
    {
        var cache = new DecisionCache(clock);
        var madeAt = cache.Generation;
        cache.Invalidate();
        cache.Keep("k", madeAt, null);
        Assert.False(cache.TryGet("k", out _));

        cache.Keep("k", cache.Generation, AccessDecision.Deny("no", "relationship"));
        Assert.True(cache.TryGet("k", out var kept));
        Assert.Equal("relationship", kept!.Rule);
    }

    [Fact]
    public void callers_share_a_decision_only_when_every_part_the_rules_read_is_the_same()
    {
        var purpose = AccessPurpose.Default;
        string Key(RequestContext c) => DecisionCache.Key(c.Principal, purpose, FhirInteraction.Read, "Patient", "p1", 3);
        var gp = User("gp.smith", "A81001");
        Assert.Equal(Key(gp), Key(gp with { Principal = gp.Principal with { Subject = "gp.other" } }));
        Assert.NotEqual(Key(gp), Key(User("gp.smith", "A81002")));
        Assert.NotEqual(Key(gp), Key(gp with { Principal = gp.Principal with { Role = "hospital-doctor" } }));
        Assert.NotEqual(Key(gp), Key(gp with { Principal = gp.Principal with { FhirUser = "Practitioner/other" } }));
        Assert.NotEqual(Key(gp), DecisionCache.Key(gp.Principal, new AccessPurpose(AccessPurpose.EmergencyTreatment, "arrest"), FhirInteraction.Read, "Patient", "p1", 3));
        Assert.NotEqual(Key(gp), DecisionCache.Key(gp.Principal, purpose, FhirInteraction.Read, "Patient", "p1", 4));
    }

    private static Consent OptOut(string patient) => new()
    {
        Status = Consent.ConsentState.Active,
        Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        Category = [new CodeableConcept("http://loinc.org", "59284-0")],
        Patient = new ResourceReference("Patient/" + patient),
        Policy = [new Consent.PolicyComponent { Uri = "https://www.england.nhs.uk/ig/" }],
        Provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Deny },
    };

    private static RequestContext System() => new(
        new Principal { Kind = PrincipalKind.System, Subject = "tests", ClientId = "tests", Issuer = "tests", Scopes = ScopeSet.Parse("system/*.cruds") },
        "http://localhost/fhir", Guid.NewGuid().ToString("N"))
    {
        Return = ReturnPreference.Minimal,
    };

    private static RequestContext User(string name, string organisation, string role = "gp") => new(
        new Principal
        {
            Kind = PrincipalKind.User, Subject = name, ClientId = "tests", Issuer = "tests", Scopes = ScopeSet.Parse("user/*.cruds"),
            Role = role, Organisation = organisation, FhirUser = "Practitioner/" + name.Replace('.', '-'),
        },
        "http://localhost/fhir", Guid.NewGuid().ToString("N"));

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class Clock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset now = start;

        public override DateTimeOffset GetUtcNow() => now;

        public void Advance(TimeSpan by) => now += by;
    }
}
