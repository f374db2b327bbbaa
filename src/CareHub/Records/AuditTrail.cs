using System.Threading.Channels;
using CareHub.Fhir;
using CareHub.Storage;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Records;

/// <summary>
/// Every interaction, allowed or denied, leaves an AuditEvent (FHIR R4 AuditEvent, shaped after IHE BALP's RESTful
/// events): who (user and client), what (entities), which patient, when, and the outcome. Audit of a write is written in
/// the write's own transaction; audit of reads and failures goes through a queue written in batches, so reads do not
/// queue behind the single writer one by one. Audit events are resources of type AuditEvent, readable through the API,
/// and never produce change-feed events.
/// </summary>
public sealed partial class AuditTrail : IAsyncDisposable
{
    public const string SourceSystem = "https://carehub.local/fhir";

    /// <summary>The AuditEvent subtypes CareHub adds to the RESTful interaction: break-glass and denied accesses are listed by them.</summary>
    public const string SubtypeSystem = "https://carehub.local/fhir/CodeSystem/audit-subtype";

    private static readonly HashSet<string> IndexedParams = new(StringComparer.Ordinal)
    {
        "patient", "date", "subtype", "type", "agent", "agent-role", "altid", "outcome", "action", "entity", "policy",
    };

    private readonly IRecordStore store;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly Channel<VersionWrite> queue = Channel.CreateUnbounded<VersionWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task pump;
    private long pending;

    public AuditTrail(IRecordStore store, TimeProvider clock, ILogger<AuditTrail> logger)
    {
        this.store = store;
        this.clock = clock;
        this.logger = logger;
        pump = Task.Run(PumpAsync);
    }

    /// <summary>Builds the AuditEvent write for inclusion in a write transaction.</summary>
    public VersionWrite ToWrite(RequestContext context, AuditFacts facts)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());
        var audit = Build(context, facts, now);
        // A fresh time-ordered id cannot exist yet: no version check (the unique version key still guards it). Indexed on
        // the parameters the IG officer and citizens search by (patient, date, subtype, agent, outcome...), no more.
        var index = Search.IndexExtractor.Extract(audit, IndexedParams);
        return new VersionWrite("AuditEvent", audit.Id!, 1, now, "POST", FhirSerialization.ToJson(audit), null, index, ChangeEvent: false);
    }

    /// <summary>Queues an audit record written shortly after, in a batch (reads, searches, denials, failures).</summary>
    public void Record(RequestContext context, AuditFacts facts)
    {
        Interlocked.Increment(ref pending);
        if (!queue.Writer.TryWrite(ToWrite(context, facts)))
        {
            Interlocked.Decrement(ref pending);
            LogAuditDropped(logger, facts.Interaction);
        }
    }

    /// <summary>Waits until every queued record is written (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref pending) > 0)
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    private async Task PumpAsync()
    {
        var batch = new List<VersionWrite>(256);
        while (await queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < 256 && queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await store.AppendAsync(batch, CancellationToken.None);
                    break;
                }
                catch (Exception e) when (attempt < 5)
                {
                    LogAuditRetry(logger, e, batch.Count, attempt);
                    await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt));
                }
                catch (Exception e)
                {
                    LogAuditLost(logger, e, batch.Count);
                    break;
                }
            }

            Interlocked.Add(ref pending, -batch.Count);
            batch.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await pump;
    }

    private static AuditEvent Build(RequestContext context, AuditFacts facts, DateTimeOffset now)
    {
        var principal = context.Principal;
        var audit = new AuditEvent
        {
            Id = Guid.CreateVersion7().ToString(),
            Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation"),
            Subtype = [new Coding("http://hl7.org/fhir/restful-interaction", facts.Interaction)],
            Action = facts.Action,
            Recorded = now,
            Outcome = facts.Success ? AuditEvent.AuditEventOutcome.N0 : AuditEvent.AuditEventOutcome.N4,
            OutcomeDesc = facts.Failure,
            Source = new AuditEvent.SourceComponent
            {
                Site = "CareHub",
                Observer = new ResourceReference { Display = "CareHub FHIR server", Identifier = new Identifier(SourceSystem, "carehub") },
                Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
            },
        };

        if (context.Purpose.BreakGlass)
        {
            audit.Subtype.Add(new Coding(SubtypeSystem, "break-glass", "Break-glass access"));
        }

        if (facts.SelfClaimed)
        {
            audit.Subtype.Add(new Coding(SubtypeSystem, "self-claimed-relationship", "Self-claimed legitimate relationship"));
        }

        if (facts.Rule is { } rule && !facts.Success)
        {
            audit.Subtype.Add(new Coding(SubtypeSystem, "denied", "Refused by the access policy"));
            audit.OutcomeDesc = $"[{rule}] {facts.Failure}";
        }

        audit.PurposeOfEvent = [new CodeableConcept(Governance.AccessPurpose.ActReasonSystem, context.Purpose.Code) { Text = facts.SelfClaimed ? context.RelationshipReason : context.Purpose.Reason }];

        var user = new AuditEvent.AgentComponent
        {
            Requestor = true,
            Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", principal.Kind == Governance.PrincipalKind.System ? "AUT" : "IRCP"),
            Who = principal.FhirUser is { } fhirUser
                ? new ResourceReference(fhirUser) { Identifier = new Identifier(principal.Issuer, principal.Subject) }
                : new ResourceReference { Identifier = new Identifier(principal.Issuer, principal.Subject) },
            AltId = principal.ClientId,
            Network = context.RemoteAddress is null ? null : new AuditEvent.NetworkComponent { Address = context.RemoteAddress, Type = AuditEvent.AuditEventAgentNetworkType.N2 },
            Policy = [context.CorrelationId],
        };
        if (principal.Role is { } role)
        {
            user.Role = [new CodeableConcept("https://fhir.nhs.uk/CodeSystem/NHSJobRoleCode", role)];
        }

        if (context.Purpose.BreakGlass)
        {
            user.PurposeOfUse = [new CodeableConcept(Governance.AccessPurpose.ActReasonSystem, context.Purpose.Code) { Text = context.Purpose.Reason }];
        }

        audit.Agent.Add(user);
        if (principal.Organisation is { } ods)
        {
            // The organisation the user acted for: the data controller accountable for the access.
            audit.Agent.Add(new AuditEvent.AgentComponent
            {
                Requestor = false,
                Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider", null),
                Who = new ResourceReference { Identifier = new Identifier(Governance.OrganisationSource.OdsSystem, ods) },
            });
        }

        foreach (var patient in facts.Patients)
        {
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference(patient),
                Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
                Role = new Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
            });
        }

        foreach (var entity in facts.Entities.Take(1000))
        {
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference(entity),
                Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
            });
        }

        if (facts.Query is { } query)
        {
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                Role = new Coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"),
                Description = facts.ResourceType,
                Query = System.Text.Encoding.UTF8.GetBytes(query),
            });
        }

        return audit;
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Audit record for {Interaction} could not be queued")]
    private static partial void LogAuditDropped(ILogger logger, string interaction);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Writing {Count} audit records failed (attempt {Attempt}); retrying")]
    private static partial void LogAuditRetry(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Critical, Message = "Writing {Count} audit records failed for good")]
    private static partial void LogAuditLost(ILogger logger, Exception exception, int count);
}

/// <summary>What one audited interaction did, before it becomes an AuditEvent.</summary>
public sealed record AuditFacts(
    string Interaction,
    AuditEvent.AuditEventAction Action,
    string? ResourceType,
    IReadOnlyList<string> Entities,
    IReadOnlyCollection<string> Patients,
    bool Success,
    string? Failure = null,
    string? Query = null,
    string? Rule = null)
{
    /// <summary>A write that gave its author a relationship with the patient they did not have: listed for the IG officer.</summary>
    public bool SelfClaimed { get; init; }
}
