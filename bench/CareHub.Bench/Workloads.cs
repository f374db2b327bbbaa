using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CareHub.Demo;
using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Bench;

/// <summary>The bodies the benchmarks send, built once before any clock starts.</summary>
public static partial class Workloads
{
    /// <summary>
    /// Patient, Observation and Encounter bodies of the demo community, in the community's own proportions. Their
    /// urn:uuid references (meaningful only inside their transaction Bundle) become relative references Type/uuid, as a
    /// client would send after creating the targets; CareHub does not require the targets to exist.
    /// </summary>
    public static IReadOnlyList<ResourceBody> CreateBodies(bool patientsOnly, int patients = 60)
    {
        var bodies = new List<ResourceBody>();
        foreach (var bundle in DemoCommunity.Generate(new DemoCommunityOptions { Patients = patients }).Skip(1))
        {
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in bundle.Entry)
            {
                if (entry.FullUrl is { } fullUrl && entry.Resource is { } resource)
                {
                    types[fullUrl] = resource.TypeName;
                }
            }

            foreach (var entry in bundle.Entry)
            {
                if (entry.Resource is not (Patient or Observation or Encounter) || (patientsOnly && entry.Resource is not Patient))
                {
                    continue;
                }

                var json = ReferenceToUuid().Replace(FhirSerialization.ToJson(entry.Resource), m =>
                    types.TryGetValue(m.Groups[1].Value, out var type) ? $"\"reference\":\"{type}/{m.Groups[1].Value["urn:uuid:".Length..]}\"" : m.Value);
                bodies.Add(new ResourceBody(entry.Resource.TypeName, Encoding.UTF8.GetBytes(json)));
            }
        }

        // Interleave so that every stretch of the run sees the same mix (Patient first in each bundle otherwise).
        return [.. bodies.Select((b, i) => (b, Key: (i * 7919L) % bodies.Count)).OrderBy(p => p.Key).Select(p => p.b)];
    }

    [GeneratedRegex("\"reference\":\"(urn:uuid:[0-9a-fA-F-]{36})\"")]
    private static partial Regex ReferenceToUuid();

    /// <summary>The mix of <paramref name="bodies"/>, e.g. "61% Observation, 27% Encounter, 12% Patient".</summary>
    public static string Mix(IReadOnlyList<ResourceBody> bodies) =>
        string.Join(", ", bodies.GroupBy(b => b.Type).OrderByDescending(g => g.Count())
            .Select(g => $"{Math.Round(100.0 * g.Count() / bodies.Count)}% {g.Key}"));

    /// <summary>A transaction Bundle that POSTs <paramref name="bodies"/>, each under a fresh urn:uuid fullUrl.</summary>
    public static byte[] TransactionOf(IEnumerable<ResourceBody> bodies)
    {
        using var buffer = new MemoryStream();
        buffer.Write("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["u8);
        var first = true;
        foreach (var body in bodies)
        {
            if (!first)
            {
                buffer.WriteByte((byte)',');
            }

            first = false;
            buffer.Write(Encoding.UTF8.GetBytes($"{{\"fullUrl\":\"urn:uuid:{Guid.NewGuid()}\",\"resource\":"));
            buffer.Write(body.Json);
            buffer.Write(Encoding.UTF8.GetBytes($",\"request\":{{\"method\":\"POST\",\"url\":\"{body.Type}\"}}}}"));
        }

        buffer.Write("]}"u8);
        return buffer.ToArray();
    }

    /// <summary>
    /// The ids a bundle answer names: CareHub's transaction-response (entry.response.location "Type/id/_history/1") or
    /// the ceiling's list of "Type/id".
    /// </summary>
    public static IEnumerable<string> IdsFromAnswer(string json)
    {
        using var document = JsonDocument.Parse(json);
        var locations = document.RootElement.ValueKind == JsonValueKind.Array
            ? document.RootElement.EnumerateArray().Select(e => e.GetString()!).ToList()
            : document.RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("location").GetString()!).ToList();
        return locations.Select(l => l.Split('/')[1]);
    }
}

/// <summary>One resource body to POST: its type and its JSON as UTF-8.</summary>
public sealed record ResourceBody(string Type, byte[] Json);
