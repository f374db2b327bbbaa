using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CareHub.Demo;
using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Bench;

/// <summary>
/// A transaction Bundle kept as UTF-8 with the place of every occurrence of its entries' urn:uuid GUIDs (fullUrls,
/// references, ids, identifier values), so that each repetition can get fresh GUIDs by overwriting 36 bytes in place:
/// a repeated Bundle then creates new resources that never collide with earlier ones, at the cost of a copy.
/// </summary>
public sealed partial class BundleTemplate
{
    private readonly byte[] utf8;
    private readonly (int Offset, int Guid)[] occurrences;
    private readonly int guids;

    private BundleTemplate(string name, byte[] utf8, (int, int)[] occurrences, int guids, int entries)
    {
        Name = name;
        this.utf8 = utf8;
        this.occurrences = occurrences;
        this.guids = guids;
        Entries = entries;
    }

    public string Name { get; }

    public int Entries { get; }

    public int Bytes => utf8.Length;

    public static BundleTemplate Parse(string name, byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        var entries = document.RootElement.GetProperty("entry");
        var ids = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries.EnumerateArray())
        {
            if (entry.TryGetProperty("fullUrl", out var fullUrl) && fullUrl.GetString() is { } url && url.StartsWith("urn:uuid:", StringComparison.OrdinalIgnoreCase))
            {
                ids.TryAdd(url["urn:uuid:".Length..], ids.Count);
            }
        }

        // Latin-1 maps each byte to one char, so a match's index is its byte offset; GUIDs are ASCII.
        var text = Encoding.Latin1.GetString(utf8);
        var occurrences = Guid36().Matches(text).Where(m => ids.ContainsKey(m.Value)).Select(m => (m.Index, ids[m.Value])).ToArray();
        return new BundleTemplate(name, utf8, occurrences, ids.Count, entries.GetArrayLength());
    }

    [GeneratedRegex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial Regex Guid36();

    /// <summary>A copy of the Bundle with a fresh GUID in place of each of its own.</summary>
    public byte[] Fresh()
    {
        var copy = (byte[])utf8.Clone();
        var fresh = new byte[guids * 36];
        for (var i = 0; i < guids; i++)
        {
            Guid.NewGuid().TryFormat(fresh.AsSpan(i * 36, 36), out _);
        }

        foreach (var (offset, guid) in occurrences)
        {
            fresh.AsSpan(guid * 36, 36).CopyTo(copy.AsSpan(offset, 36));
        }

        return copy;
    }
}

/// <summary>What the ingest bench loads: batch Bundles first (once, as set-up), then transaction Bundles, repeated.</summary>
public sealed record IngestSet(string Source, IReadOnlyList<(string Name, byte[] Json)> Setup, IReadOnlyList<BundleTemplate> Transactions)
{
    /// <summary>
    /// The Synthea Bundles of shared/data/synthea when they are there (batch Bundles of hospitals and practitioners as
    /// set-up); otherwise the demo community (its directory Bundle as set-up, then its patient Bundles).
    /// </summary>
    public static IngestSet Load(bool quick)
    {
        if (SharedData.Find("synthea") is { } folder)
        {
            var setup = new List<(string, byte[])>();
            var transactions = new List<BundleTemplate>();
            foreach (var file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
            {
                var bytes = File.ReadAllBytes(file);
                using var document = JsonDocument.Parse(bytes);
                if (document.RootElement.GetProperty("type").GetString() == "batch")
                {
                    setup.Add((Path.GetFileName(file), bytes));
                }
                else
                {
                    transactions.Add(BundleTemplate.Parse(Path.GetFileName(file), bytes));
                }
            }

            return new IngestSet($"Synthea, {folder}", setup, transactions);
        }

        var community = DemoCommunity.Generate(new DemoCommunityOptions { Patients = quick ? 20 : 60 });
        var json = community.Select(b => Encoding.UTF8.GetBytes(FhirSerialization.ToJson(b))).ToList();
        return new IngestSet("the demo community (../shared/data/synthea was not found): its Patient entries are conditional creates on the NHS Number, so repetitions re-match them",
            [("demo directory", json[0])],
            [.. json.Skip(1).Select((b, i) => BundleTemplate.Parse($"demo patient {i + 1}", b))]);
    }
}

/// <summary>Finds shared/data beside the repository (or above it) by walking up from the binaries.</summary>
public static class SharedData
{
    public static string? Find(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var root in new[] { Path.Combine(dir.FullName, "shared", "data"), Path.Combine(dir.FullName, "..", "shared", "data") })
            {
                var candidate = Path.GetFullPath(Path.Combine(root, relativePath));
                if (Directory.Exists(candidate) || File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
