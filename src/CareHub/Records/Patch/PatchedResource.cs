using System.Text.Json;
using System.Text.Json.Nodes;
using CareHub.Fhir;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Utility;

namespace CareHub.Records.Patch;

/// <summary>
/// The JSON round trip both patch formats share: a resource to a JSON tree, and a patched tree back to a resource
/// through Firely's strict deserializer, so that a patch can never produce a resource the API would refuse on create.
/// </summary>
internal static class PatchedResource
{
    internal static readonly JsonSerializerOptions Options = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);

    internal static JsonNode ToJson(Resource resource) =>
        JsonSerializer.SerializeToNode(resource, Options)
        ?? throw new InvalidOperationException("Firely serialised a resource to JSON null.");

    /// <summary>
    /// Parses the patched JSON strictly. FHIR R4 http.html#patch: "the server SHALL return an error if the outcome
    /// of the patch operation is not a valid resource" (422). The reasons name elements, never their values, because
    /// the values are patient data.
    /// </summary>
    internal static Resource Parse(JsonNode? patched, string format)
    {
        if (patched is not JsonObject)
        {
            throw FhirException.Unprocessable($"The {format} result is not a JSON object, so it is not a resource.");
        }

        try
        {
            return patched.Deserialize<Resource>(Options)
                ?? throw FhirException.Unprocessable($"The {format} result is not a resource.");
        }
        catch (DeserializationFailedException e)
        {
            var resourceType = patched["resourceType"] is JsonValue v && v.TryGetValue<string>(out var t) ? t : "Resource";
            var problems = e.Exceptions.Take(5).Select(x => Describe(x, resourceType)).ToList();
            var first = problems.Count > 0 ? problems[0].Element : null;
            throw FhirException.Unprocessable(
                $"The {format} result is not a valid resource: {string.Join("; ", problems.Select(p => p.Text))}.", first);
        }
        catch (JsonException)
        {
            throw FhirException.Unprocessable($"The {format} result is not a valid resource: its JSON structure is not FHIR JSON.");
        }
    }

    private static (string? Element, string Text) Describe(CodedException problem, string resourceType)
    {
        var element = (problem as ExtendedCodedException)?.InstancePath;
        if (element is not null && element.StartsWith("$this", StringComparison.Ordinal))
        {
            element = resourceType + element["$this".Length..];
        }

        // Firely's own messages quote the offending values, which may be patient data, so they are summarised by code.
        var reason = problem.ErrorCode switch
        {
            "PVAL102" or "PVAL105" => "a required element is missing",
            "PVAL103" => "too many repetitions",
            "PVAL101" or "PVAL127" => "the value's type is not allowed for the element",
            "PVAL116" => "the code is not in the required value set",
            "PVAL119" or "PVAL120" or "PVAL123" or "PVAL124" or "PVAL125" or "PVAL126" => "the value is not valid for the element's type",
            "PVAL114" or "PVAL115" => "the narrative XHTML is not valid",
            "PVAL118" => "contained resources cannot be nested",
            "PVAL128" or "PVAL131" => "unknown element",
            "PVAL130" or "PVAL132" or "JSON102" or "JSON103" => "unknown or missing resource type",
            "PVAL104" or "PVAL129" or "JSON120" or "JSON121" => "empty elements are not allowed",
            "JSON114" => "a choice element needs its type suffix",
            "JSON125" or "JSON130" => "an array is not allowed here",
            "JSON131" or "JSON132" or "JSON133" or "JSON134" => "a primitive value was given where an object is expected, or the reverse",
            "JSON129" or "JSON135" => "the element is given twice",
            _ => $"invalid content (Firely {problem.ErrorCode})",
        };
        return (element, element is null ? reason : $"{element}: {reason}");
    }
}
