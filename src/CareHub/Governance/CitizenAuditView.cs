using CareHub.Fhir;
using CareHub.Records;
using CareHub.Search;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Governance;

/// <summary>
/// A citizen's access log (docs/governance.md, "A citizen's access log"). An AuditEvent names every patient and resource
/// its request touched, so one search by a clinician that matched the citizen also names everyone else it matched. The
/// policy lets a citizen see the AuditEvents naming them; this view shows each with only what concerns them: the
/// entities naming other patients, and resources that are not in the citizen's own compartment or that they may not
/// read, are removed; the query text is removed (the searched type stays); the agents stay, since who accessed the record
/// is what the log is for, without the network address they connected from. Searches are kept to the citizen's own
/// events: <c>patient</c> naming anyone else finds nothing (whether or not that patient exists), and parameters that
/// would select events by what else they name (<c>entity</c>, for one) are refused with a 400.
/// </summary>
public sealed class CitizenAuditView : IReadView
{
    private const string QueryRole = "24";

    /// <summary>What a citizen may search their access log by: who, when, what kind and how it ended; not what else it named.</summary>
    private static readonly HashSet<string> Searchable = new(StringComparer.Ordinal)
    {
        "patient", "date", "type", "subtype", "action", "outcome", "agent", "agent-role", "altid", "policy",
        "_id", "_lastUpdated",
        "_count", "_total", "_summary", "_elements", "_cursor", "_before", "_format", "_pretty", "_type",
    };

    private static readonly HashSet<string> Sortable = new(StringComparer.Ordinal) { "_id", "_lastUpdated", "date" };

    private static readonly QueryClause Nothing = new AnyClause([]);

    public bool Shapes(string type) => type == "AuditEvent";

    public async Task<string?> ShowAsync(ReadScope scope, StoredResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(resource);
        if (scope.Principal.Kind != PrincipalKind.Patient)
        {
            return resource.Json;
        }

        var own = scope.Principal.PatientId ?? string.Empty;
        var audit = (AuditEvent)StoredJson.Parse(resource.Json!);
        var named = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var entity in audit.Entity)
        {
            if (Target(entity) is var (type, id) && type != "Patient" && PatientCompartment.ParamsByType.ContainsKey(type))
            {
                if (!named.TryGetValue(type, out var ids))
                {
                    named[type] = ids = [];
                }

                ids.Add(id);
            }
        }

        var visible = new HashSet<(string, string)>();
        foreach (var (type, ids) in named)
        {
            foreach (var id in await scope.VisibleAsync(type, ids, cancellationToken))
            {
                visible.Add((type, id));
            }
        }

        audit.Entity.RemoveAll(entity => entity.Query is null && Target(entity) switch
        {
            ("Patient", var id) => id != own,
            var (type, id) => !visible.Contains((type, id)),
            // An entity that names no resource by a relative reference cannot be shown to be the citizen's own.
            null => true,
        });
        foreach (var entity in audit.Entity.Where(e => e.Query is not null || e.Role?.Code == QueryRole))
        {
            // What the search asked for may name other patients or what they have; the type searched stays.
            entity.Query = null;
            entity.Name = null;
            entity.Detail.Clear();
        }

        foreach (var agent in audit.Agent)
        {
            agent.Network = null;
        }

        return FhirSerialization.ToJson(audit);
    }

    public Task<IReadOnlyList<QueryClause>> SearchClausesAsync(ReadScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(parameters);
        if (scope.Principal.Kind != PrincipalKind.Patient)
        {
            return Task.FromResult<IReadOnlyList<QueryClause>>([]);
        }

        var own = scope.Principal.PatientId ?? string.Empty;
        var clauses = new List<QueryClause>();
        foreach (var (key, value) in parameters)
        {
            var colon = key.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? key : key[..colon];
            if (name == "_sort" && value.Split(',').All(k => Sortable.Contains(k.Trim().TrimStart('-'))))
            {
                continue;
            }

            if (!Searchable.Contains(name) || key.Contains('.', StringComparison.Ordinal))
            {
                throw FhirException.BadRequest(
                    $"Searching your access log by '{key}' is not available: it would select events by what else they name. " +
                    "Search AuditEvent?patient=Patient/[your id] by date, type, subtype, action, outcome or agent.", key);
            }

            if (name != "patient")
            {
                continue;
            }

            if (colon >= 0 && key[(colon + 1)..] != "Patient")
            {
                throw FhirException.BadRequest($"Search your access log with patient=Patient/[your id], not '{key}'.", key);
            }

            // patient=anyone else finds nothing, so whether that patient exists (or shared an event with the citizen) stays unknown.
            if (value.Split(',').Any(v => !IsOwn(v.Trim(), own, scope.Context.BaseUrl)))
            {
                clauses.Add(Nothing);
            }
        }

        return Task.FromResult<IReadOnlyList<QueryClause>>(clauses);
    }

    private static bool IsOwn(string value, string own, string baseUrl) =>
        value == own || value == "Patient/" + own || value == $"{baseUrl}/Patient/{own}";

    /// <summary>The type and id an entity names by a relative reference (a version suffix ignored), or null.</summary>
    private static (string Type, string Id)? Target(AuditEvent.EntityComponent entity) =>
        entity.What?.Reference?.Split('/') is [var type, var id, ..] && type.Length > 0 && id.Length > 0 ? (type, id) : null;
}
