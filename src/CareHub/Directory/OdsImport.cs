using System.Diagnostics;
using System.Globalization;
using CareHub.Fhir;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Directories;

/// <summary>
/// Loads ODS extracts into the record through the one door, as Organizations. Every file is read and checked whole
/// before anything is written, so a malformed file writes nothing. Then, per family, the Organizations that an earlier
/// import of that family left (found by their tag) are compared with the new records: an unchanged one is not rewritten,
/// a changed or new one is written, and, for a full extract, one the extract no longer lists is closed (active false).
/// The writes go in transaction Bundles of <see cref="BatchSize"/>: each batch is all or nothing, and because unchanged
/// organisations are skipped, running the same import again after a failure resumes where it stopped.
/// </summary>
public sealed class OdsImport(RecordService records)
{
    /// <summary>Organizations written per transaction.</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>Reads every file (all are checked before any is loaded) and loads them.</summary>
    public Task<OdsImportSummary> ImportFilesAsync(RequestContext context, IReadOnlyList<string> paths, OdsImportOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return ImportAsync(context, [.. paths.Select(OdsExtract.Read)], options, cancellationToken);
    }

    /// <summary>Loads extracts already read; two files of one family are one extract.</summary>
    public async Task<OdsImportSummary> ImportAsync(RequestContext context, IReadOnlyList<OdsExtract> extracts, OdsImportOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(extracts);
        ArgumentNullException.ThrowIfNull(options);
        var watch = Stopwatch.StartNew();
        var seen = new Dictionary<string, (string Path, int Line)>(StringComparer.Ordinal);
        foreach (var extract in extracts)
        {
            foreach (var row in extract.Rows)
            {
                if (!seen.TryAdd(row.Code, (extract.Path, row.Line)))
                {
                    var (path, line) = seen[row.Code];
                    throw new OdsFormatException(extract.Path, row.Line, $"repeats organisation code {row.Code}, already on line {line.ToString(CultureInfo.InvariantCulture)} of {path}.");
                }
            }
        }

        var writes = new List<(Organization Resource, bool Closing)>();
        var unchanged = 0;
        foreach (var family in extracts.GroupBy(e => e.Family))
        {
            var existing = await ExistingAsync(context, family.Key, cancellationToken);
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var row in family.SelectMany(e => e.Rows))
            {
                listed.Add(row.Code);
                var organization = OdsOrganizationMapper.ToOrganization(family.Key, row);
                if (existing.TryGetValue(row.Code, out var current) && Same(current, organization))
                {
                    unchanged++;
                }
                else
                {
                    writes.Add((organization, false));
                }
            }

            if (options.CloseMissing)
            {
                foreach (var current in existing.Values.Where(o => o.Active != false && !listed.Contains(o.Id!)).OrderBy(o => o.Id, StringComparer.Ordinal))
                {
                    var closed = (Organization)current.DeepCopy();
                    closed.Meta = new Meta { Tag = [.. current.Meta?.Tag ?? []] };
                    closed.Active = false;
                    writes.Add((closed, true));
                }
            }
        }

        int added = 0, updated = 0, closedCount = 0;
        options.Progress?.Invoke(0, writes.Count);
        for (var start = 0; start < writes.Count; start += BatchSize)
        {
            var batch = writes.Skip(start).Take(BatchSize).ToList();
            var response = await records.ProcessBundleAsync(context, Transaction(batch.Select(w => w.Resource)), cancellationToken);
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch[i].Closing)
                {
                    closedCount++;
                }
                else if (response.Entry[i].Response?.Status?.StartsWith("201", StringComparison.Ordinal) == true)
                {
                    added++;
                }
                else
                {
                    updated++;
                }
            }

            options.Progress?.Invoke(start + batch.Count, writes.Count);
        }

        return new OdsImportSummary(extracts.Sum(e => e.Rows.Count), added, updated, unchanged, closedCount, watch.Elapsed);
    }

    // What earlier imports of the family left, read through the door page by page (the tag names the family).
    private async Task<Dictionary<string, Organization>> ExistingAsync(RequestContext context, OdsFamily family, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, Organization>(StringComparer.Ordinal);
        IReadOnlyList<KeyValuePair<string, string>> parameters =
        [
            new("_tag", $"{OdsFamily.TagSystem}|{family.Code}"),
            new("_count", SearchRequest.MaxCount.ToString(CultureInfo.InvariantCulture)),
        ];
        while (true)
        {
            var page = await records.SearchAsync(context, "Organization", parameters, cancellationToken);
            foreach (var organization in page.Entry.Select(e => e.Resource).OfType<Organization>())
            {
                found[organization.Id!] = organization;
            }

            var next = page.Link.FirstOrDefault(l => l.Relation == "next")?.Url;
            if (next is null)
            {
                return found;
            }

            parameters = QueryString.Parse(next);
        }
    }

    // Compared as JSON without the version's own metadata (version id, last updated): what the extract says, nothing else.
    private static bool Same(Organization current, Organization incoming)
    {
        var copy = (Organization)current.DeepCopy();
        copy.Meta = new Meta { Tag = [.. current.Meta?.Tag ?? []] };
        return string.Equals(FhirSerialization.ToJson(copy), FhirSerialization.ToJson(incoming), StringComparison.Ordinal);
    }

    private static Bundle Transaction(IEnumerable<Organization> organizations)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        foreach (var organization in organizations)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = $"urn:uuid:{Guid.NewGuid()}",
                Resource = organization,
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Organization/{organization.Id}" },
            });
        }

        return bundle;
    }
}

/// <summary>How an ODS import runs.</summary>
public sealed record OdsImportOptions
{
    /// <summary>
    /// The files are full extracts: an Organization of the same family that an earlier import wrote and that the files no
    /// longer list is closed. Off for a partial file (a few rows), which must not close the rest.
    /// </summary>
    public bool CloseMissing { get; init; } = true;

    /// <summary>Called with (written, to write) before the first batch and after each.</summary>
    public Action<int, int>? Progress { get; init; }
}

/// <summary>What an ODS import did: records read, Organizations added, updated, left unchanged and closed.</summary>
public sealed record OdsImportSummary(int Read, int Added, int Updated, int Unchanged, int Closed, TimeSpan Elapsed);
