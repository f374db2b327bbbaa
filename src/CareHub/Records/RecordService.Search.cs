using System.Globalization;
using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

public sealed partial class RecordService
{
    /// <summary>Type-level search (R4 search.html) answering a searchset Bundle with stable keyset paging links.</summary>
    public async Task<Bundle> SearchAsync(RequestContext context, string type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        EnsureType(type);
        var query = Describe(parameters);
        Authorize(context, FhirInteraction.Search, type, "search-type", AuditEvent.AuditEventAction.E, type);
        try
        {
            var request = SearchRequest.Parse(type, parameters, context.StrictHandling);
            var page = await store.SearchAsync(request.ToStoreQuery() with { Count = request.SummaryCount ? 0 : request.Count }, cancellationToken);
            var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = FhirIds.NewId(), Meta = new Meta { LastUpdated = Now() } };
            if (page.Total is { } total)
            {
                bundle.Total = (int)Math.Min(total, int.MaxValue);
            }

            var self = Link(context, type, request.Applied, null, null);
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = self });
            if (page.HasMore && page.Resources.Count > 0)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(context, type, request.Applied, "_cursor", page.Resources[^1].Id) });
            }

            if (page.HasPrevious && page.Resources.Count > 0)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "previous", Url = Link(context, type, request.Applied, "_before", page.Resources[0].Id) });
            }

            var patients = new HashSet<string>(StringComparer.Ordinal);
            foreach (var stored in page.Resources)
            {
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    FullUrl = $"{context.BaseUrl}/{stored.Type}/{stored.Id}",
                    Resource = StoredJson.Parse(stored.Json!),
                    Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match },
                });
                patients.UnionWith(PatientsOf(stored.Type, stored.Id, stored.Json));
            }

            if (request.Ignored.Count > 0)
            {
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    Resource = new OperationOutcome
                    {
                        Issue = [new OperationOutcome.IssueComponent
                        {
                            Severity = OperationOutcome.IssueSeverity.Warning,
                            Code = OperationOutcome.IssueType.NotSupported,
                            Diagnostics = $"These search parameters are not supported and were ignored: {string.Join(", ", request.Ignored)}. Send 'Prefer: handling=strict' to have them rejected.",
                        }],
                    },
                    Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Outcome },
                });
            }

            audit.Record(context, new AuditFacts("search-type", AuditEvent.AuditEventAction.E, type, page.Resources.Select(r => $"{r.Type}/{r.Id}").ToList(), patients, true, Query: query));
            return bundle;
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts("search-type", AuditEvent.AuditEventAction.E, type, [], [], false, e.Message, query));
            throw;
        }
    }

    /// <summary>History at instance, type or system level (R4 http.html#history), newest first, paged by keyset.</summary>
    public async Task<Bundle> HistoryAsync(RequestContext context, string? type, string? id, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        if (type is not null)
        {
            EnsureType(type);
        }

        var interaction = id is not null ? "history-instance" : type is not null ? "history-type" : "history-system";
        Authorize(context, FhirInteraction.Read, type ?? "*", interaction, AuditEvent.AuditEventAction.R, type ?? "*");
        try
        {
            DateTimeOffset? since = null;
            long? before = null;
            var count = SearchRequest.DefaultCount;
            var applied = new List<KeyValuePair<string, string>>();
            foreach (var (name, value) in parameters)
            {
                switch (name)
                {
                    case "_since":
                        since = FhirDates.Range(value)?.Start ?? throw FhirException.BadRequest($"_since must be a FHIR instant, not '{value}'.", "_since");
                        applied.Add(new(name, value));
                        break;
                    case "_count":
                        count = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c > 0
                            ? Math.Min(c, SearchRequest.MaxCount)
                            : throw FhirException.BadRequest($"_count must be a positive whole number, not '{value}'.", "_count");
                        applied.Add(new(name, FhirIds.FormatVersion(count)));
                        break;
                    case "_before":
                        before = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? b : throw FhirException.BadRequest("The paging cursor is not valid.", "_before");
                        break;
                    case "_format" or "_pretty":
                        break;
                    default:
                        if (context.StrictHandling)
                        {
                            throw FhirException.BadRequest($"The history parameter '{name}' is not supported (_since and _count are).", name);
                        }

                        break;
                }
            }

            if (id is not null && !FhirIds.IsValidId(id))
            {
                throw FhirException.NotFound($"{type}/{id} is not known.");
            }

            var page = await store.HistoryAsync(new HistoryQuery(type, id, since, before, count), cancellationToken);
            if (id is not null && page.Total == 0)
            {
                throw FhirException.NotFound($"{type}/{id} is not known.");
            }

            var path = type is null ? "_history" : id is null ? $"{type}/_history" : $"{type}/{id}/_history";
            var bundle = new Bundle { Type = Bundle.BundleType.History, Id = FhirIds.NewId(), Total = (int)Math.Min(page.Total, int.MaxValue), Meta = new Meta { LastUpdated = Now() } };
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Link(context, path, applied, null, null) });
            if (page.NextBeforeSequence is { } next)
            {
                bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(context, path, applied, "_before", next.ToString(CultureInfo.InvariantCulture)) });
            }

            var patients = new HashSet<string>(StringComparer.Ordinal);
            foreach (var version in page.Versions)
            {
                var entry = new Bundle.EntryComponent
                {
                    FullUrl = $"{context.BaseUrl}/{version.Type}/{version.Id}",
                    Request = new Bundle.RequestComponent
                    {
                        Method = version.Method switch { "POST" => Bundle.HTTPVerb.POST, "DELETE" => Bundle.HTTPVerb.DELETE, "PATCH" => Bundle.HTTPVerb.PATCH, _ => Bundle.HTTPVerb.PUT },
                        Url = version.Method == "POST" ? version.Type : $"{version.Type}/{version.Id}",
                    },
                    Response = new Bundle.ResponseComponent
                    {
                        Status = version.Deleted ? "204 No Content" : version.Version == 1 ? "201 Created" : "200 OK",
                        Etag = $"W/\"{FhirIds.FormatVersion(version.Version)}\"",
                        LastModified = version.LastUpdated,
                    },
                };
                if (version.Json is not null)
                {
                    entry.Resource = StoredJson.Parse(version.Json);
                }

                bundle.Entry.Add(entry);
                patients.UnionWith(PatientsOf(version.Type, version.Id, version.Json));
            }

            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, page.Versions.Select(v => $"{v.Type}/{v.Id}/_history/{FhirIds.FormatVersion(v.Version)}").ToList(), patients, true));
            return bundle;
        }
        catch (FhirException e)
        {
            audit.Record(context, new AuditFacts(interaction, AuditEvent.AuditEventAction.R, type, [], [], false, e.Message));
            throw;
        }
    }

    /// <summary>The change feed for downstream consumers (notifications, outbound channels): committed writes after a position, in order.</summary>
    public Task<IReadOnlyList<ChangeEvent>> ReadChangesAsync(long afterPosition, int max, CancellationToken cancellationToken) =>
        store.ReadChangesAsync(afterPosition, max, cancellationToken);

    private static string Link(RequestContext context, string path, IReadOnlyList<KeyValuePair<string, string>> applied, string? cursorName, string? cursor)
    {
        var parts = applied.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}").ToList();
        if (cursorName is not null)
        {
            parts.Add($"{cursorName}={Uri.EscapeDataString(cursor!)}");
        }

        return parts.Count == 0 ? $"{context.BaseUrl}/{path}" : $"{context.BaseUrl}/{path}?{string.Join("&", parts)}";
    }

    private static string Describe(IReadOnlyList<KeyValuePair<string, string>> parameters) =>
        string.Join("&", parameters.Select(p => $"{p.Key}={p.Value}"));
}
