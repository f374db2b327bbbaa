using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CareHub.Records;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace CareHub.Search;

/// <summary>
/// _summary and _elements (search.html#summary, #elements): a subset of each returned resource, marked with the
/// SUBSETTED tag so that nobody mistakes it for the whole resource.
/// </summary>
public static class ResultShaping
{
    private static readonly BaseFhirJsonSerializer Serializer = new(ModelInfo.ModelInspector);
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The tag of a subsetted resource (R4 search.html#summary, v3-ObservationValue SUBSETTED).</summary>
    public static readonly Coding Subsetted = new("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED", "Resource encoded in summary mode");

    public static Resource Shape(string json, SummaryMode summary, IReadOnlyList<string>? elements)
    {
        var resource = StoredJson.Parse(json);
        Func<SerializationFilter>? filter = elements is { Count: > 0 }
            ? () => SerializationFilter.ForElements([.. elements], true)
            : summary switch
            {
                SummaryMode.True => SerializationFilter.ForSummary,
                SummaryMode.Text => SerializationFilter.ForText,
                SummaryMode.Data => SerializationFilter.ForData,
                _ => null,
            };
        if (filter is null)
        {
            return resource;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Serializer.Serialize(resource, writer, filter);
        }

        var subset = StoredJson.Parse(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        subset.Id ??= resource.Id;
        subset.Meta ??= new Meta { VersionId = resource.Meta?.VersionId, LastUpdated = resource.Meta?.LastUpdated };
        subset.Meta.Tag.Add((Coding)Subsetted.DeepCopy());
        return subset;
    }
}
