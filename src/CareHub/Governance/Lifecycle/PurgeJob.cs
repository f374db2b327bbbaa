using System.Runtime.CompilerServices;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Governance.Lifecycle;

/// <summary>
/// The retention job (docs/lifecycle.md): finds the resources whose retention has ended and removes each, in its own
/// transaction, with every version, its index rows and its change-feed events, writing in the same transaction an
/// AuditEvent that names the purged resource and the rule (nothing of its content). A resource that changed after it
/// was judged expired is skipped; the next run judges it again.
/// </summary>
public sealed class PurgeJob(IGovernanceStore store, RetentionPolicy policy, TimeProvider clock)
{
    private const int PageSize = 500;

    /// <summary>Who the purge's audit records name as the agent.</summary>
    public const string Agent = "carehub-retention";

    /// <summary>Every expired resource as of <paramref name="asOf"/>, type by type, in id order; changes nothing.</summary>
    public async IAsyncEnumerable<PurgeCandidate> FindExpiredAsync(DateTimeOffset asOf, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var type in policy.PurgeableTypes)
        {
            var cutoff = policy.ScanCutoff(type, asOf);
            string? after = null;
            while (true)
            {
                var page = await store.ScanCurrentAsync(type, cutoff, after, PageSize, cancellationToken);
                foreach (var current in page)
                {
                    var body = current.Json ?? await LastBodyAsync(current, cancellationToken);
                    var decision = await policy.DecideAsync(store, current, body, asOf, cancellationToken);
                    if (decision.Expired)
                    {
                        yield return new PurgeCandidate(current.Type, current.Id, current.Version, current.LastUpdated, current.Deleted, decision.Reason, decision.ExpiredAt!.Value);
                    }
                }

                if (page.Count < PageSize)
                {
                    break;
                }

                after = page[^1].Id;
            }
        }
    }

    /// <summary>Purges every expired resource, one transaction each; <paramref name="onPurged"/> hears of each one done.</summary>
    public async Task<PurgeSummary> RunAsync(DateTimeOffset asOf, Action<PurgeCandidate, int>? onPurged, CancellationToken cancellationToken)
    {
        int purged = 0, versions = 0, skipped = 0;
        await foreach (var candidate in FindExpiredAsync(asOf, cancellationToken))
        {
            var removed = await PurgeAsync(candidate, cancellationToken);
            if (removed is null)
            {
                skipped++;
                continue;
            }

            purged++;
            versions += removed.Value;
            onPurged?.Invoke(candidate, removed.Value);
        }

        return new PurgeSummary(purged, versions, skipped);
    }

    /// <summary>Purges one resource with its audit record; null when it changed since it was judged (nothing is done).</summary>
    public Task<int?> PurgeAsync(PurgeCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return store.PurgeAsync(candidate.Type, candidate.Id, candidate.Version, removed => AuditWrite(candidate, removed), cancellationToken);
    }

    private async Task<string?> LastBodyAsync(StoredResource tombstone, CancellationToken cancellationToken)
    {
        for (var version = tombstone.Version - 1; version >= 1; version--)
        {
            if ((await store.ReadAsync(tombstone.Type, tombstone.Id, version, cancellationToken))?.Json is { } json)
            {
                return json;
            }
        }

        return null;
    }

    /// <summary>
    /// The purge's audit record: a lifecycle "destroy" event (ISO/TS 21089 trusted end-to-end information flows, the codes
    /// FHIR R4 binds to AuditEvent.entity.lifecycle) naming the purged resource by reference, the rule and the number of
    /// versions removed; nothing of the resource's content, so no patient data.
    /// </summary>
    private VersionWrite AuditWrite(PurgeCandidate candidate, int versions)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());
        var destroy = new Coding("http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "destroy", "Destroy/Delete");
        var audit = new AuditEvent
        {
            Id = Guid.CreateVersion7().ToString(),
            Type = destroy,
            Action = AuditEvent.AuditEventAction.D,
            Recorded = now,
            Outcome = AuditEvent.AuditEventOutcome.N0,
            Source = new AuditEvent.SourceComponent
            {
                Site = "CareHub",
                Observer = new ResourceReference { Display = "CareHub retention job", Identifier = new Identifier(AuditTrail.SourceSystem, "carehub") },
                Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
            },
            Agent =
            [
                new AuditEvent.AgentComponent
                {
                    Requestor = true,
                    Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "AUT"),
                    Who = new ResourceReference { Identifier = new Identifier(AuditTrail.SourceSystem, Agent) },
                    AltId = Agent,
                },
            ],
            Entity =
            [
                new AuditEvent.EntityComponent
                {
                    What = new ResourceReference($"{candidate.Type}/{candidate.Id}"),
                    Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                    Lifecycle = destroy,
                    Detail =
                    [
                        new AuditEvent.DetailComponent { Type = "retention-rule", Value = new FhirString(candidate.Rule) },
                        new AuditEvent.DetailComponent { Type = "versions-removed", Value = new FhirString(versions.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
                        new AuditEvent.DetailComponent { Type = "last-updated", Value = new FhirString(candidate.LastUpdated.ToString("O", System.Globalization.CultureInfo.InvariantCulture)) },
                    ],
                },
            ],
        };
        return new VersionWrite("AuditEvent", audit.Id, 1, now, "POST", FhirSerialization.ToJson(audit), null, [], ChangeEvent: false);
    }
}

/// <summary>A resource whose retention has ended: what it is, when it was last updated, and the rule that let it go.</summary>
public sealed record PurgeCandidate(string Type, string Id, int Version, DateTimeOffset LastUpdated, bool Deleted, string Rule, DateTimeOffset ExpiredAt);

/// <summary>What a run did: resources purged (with their versions), and those skipped because they changed meanwhile.</summary>
public sealed record PurgeSummary(int Purged, int Versions, int Skipped);
