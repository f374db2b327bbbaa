using System.Text;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// Builds the transaction Bundle (R4 http.html#transaction): each entry gets a <c>urn:uuid</c> fullUrl that the other
/// entries reference, and is written by conditional update (<c>PUT Type?identifier=system|value</c>) or conditional
/// create (<c>ifNoneExist</c>), so a repeated message finds what the first one wrote. The same resource asked for twice
/// in one message gives one entry: two conditional creates with the same criteria in one transaction would both miss
/// and create two resources.
/// <para>
/// Each feed writes its own source records: every resource except the shared reference data (Organization,
/// Practitioner) carries the feed's <c>meta.source</c>, and its conditional criteria add <c>_source</c>
/// (R4 search.html#all), so a key such as an NHS Number only ever finds what this feed wrote, never another
/// organisation's record. The one exception is a feed that an agreement makes authoritative for demographics: its
/// Patient keys are not scoped.
/// </para>
/// </summary>
internal sealed class TransactionBuilder(string source, bool demographicsAuthority = false)
{
    private readonly Bundle bundle = new() { Type = Bundle.BundleType.Transaction };
    private readonly Dictionary<string, Bundle.EntryComponent> byCriteria = new(StringComparer.Ordinal);

    /// <summary>The <c>meta.source</c> of the records this feed writes.</summary>
    public string Source => source;

    public Bundle Bundle => bundle;

    /// <summary>The resources added so far, with their fullUrls.</summary>
    public IEnumerable<(string FullUrl, Resource Resource)> Entries => bundle.Entry.Select(e => (e.FullUrl!, e.Resource!));

    /// <summary>Conditional update: the resource matching <paramref name="keys"/> (any of them) is replaced, or created when none matches.</summary>
    public string Put(Resource resource, params Identifier[] keys)
    {
        var criteria = Scoped(resource, keys);
        if (byCriteria.TryGetValue(criteria, out var existing))
        {
            existing.Resource = resource;
            return existing.FullUrl!;
        }

        var entry = NewEntry(resource, new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = criteria });
        byCriteria[criteria] = entry;
        return entry.FullUrl!;
    }

    /// <summary>Conditional create: the resource is written only when none matches one of <paramref name="keys"/>; either way others can refer to it.</summary>
    public string CreateIfNoneExist(Resource resource, params Identifier[] keys)
    {
        var criteria = Scoped(resource, keys);
        if (byCriteria.TryGetValue(criteria, out var existing))
        {
            return existing.FullUrl!;
        }

        var entry = NewEntry(resource, new Bundle.RequestComponent
        {
            Method = Bundle.HTTPVerb.POST,
            Url = resource.TypeName,
            IfNoneExist = criteria[(resource.TypeName.Length + 1)..],
        });
        byCriteria[criteria] = entry;
        return entry.FullUrl!;
    }

    /// <summary>A plain create, for records of an event (Provenance) that each message adds anew.</summary>
    public string Create(Resource resource)
    {
        Own(resource);
        return NewEntry(resource, new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName }).FullUrl!;
    }

    /// <summary>True when a resource of <paramref name="type"/> was already added under exactly these keys.</summary>
    public bool Contains(string type, params Identifier[] keys) => byCriteria.ContainsKey(Criteria(type, keys, ScopeOf(type)));

    /// <summary>Shared reference data (organisations, practitioners) is found by its national identifiers and only ever created, never replaced, so it is not scoped to one feed.</summary>
    private static bool IsShared(string type) => type is "Organization" or "Practitioner";

    private string? ScopeOf(string type) => IsShared(type) || (demographicsAuthority && type == "Patient") ? null : source;

    /// <summary>Marks the resource as this feed's record and returns its criteria, scoped to this feed unless it is shared.</summary>
    private string Scoped(Resource resource, Identifier[] keys)
    {
        Own(resource);
        return Criteria(resource.TypeName, keys, ScopeOf(resource.TypeName));
    }

    private void Own(Resource resource)
    {
        if (!IsShared(resource.TypeName))
        {
            resource.Meta ??= new Meta();
            resource.Meta.Source = source;
        }
    }

    private Bundle.EntryComponent NewEntry(Resource resource, Bundle.RequestComponent request)
    {
        var entry = new Bundle.EntryComponent
        {
            FullUrl = "urn:uuid:" + Guid.NewGuid().ToString("D"),
            Resource = resource,
            Request = request,
        };
        bundle.Entry.Add(entry);
        return entry;
    }

    /// <summary>
    /// <c>Type?identifier=s|v,s2|v2[&amp;_source=uri]</c>: a comma is OR (R4 search.html#combining); ',', '|', '$' and '\' in a value are
    /// escaped with '\' (search.html#escaping) and the whole value is percent-encoded for the URL.
    /// </summary>
    public static string Criteria(string type, IReadOnlyList<Identifier> keys, string? source = null)
    {
        if (keys.Count == 0)
        {
            throw new ArgumentException("a conditional write needs at least one identifier", nameof(keys));
        }

        var tokens = keys.Select(k => Escape(k.System ?? string.Empty) + "|" + Escape(k.Value ?? string.Empty));
        var criteria = type + "?identifier=" + Uri.EscapeDataString(string.Join(',', tokens));
        return source is null ? criteria : criteria + "&_source=" + Uri.EscapeDataString(source);
    }

    private static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is ',' or '|' or '$' or '\\')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }
}
