using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Xml;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Utility;
using Hl7.Fhir.Validation;

namespace CareHub.Fhir;

/// <summary>The two FHIR wire formats (R4 formats.html): JSON and XML, parsed strictly and validated structurally.</summary>
public enum FhirFormat
{
    Json,
    Xml,
}

/// <summary>
/// Parsing and serialising FHIR resources with the Firely SDK. Parsing is strict: unknown elements, wrong types, bad
/// primitive formats, codes outside required value sets and cardinality (required elements) are errors, so a stored
/// resource is always structurally valid. Every failure is a 400 naming the element at fault.
/// </summary>
public static class FhirSerialization
{
    private static readonly FhirJsonDeserializer JsonParser = new(new DeserializerSettings().UsingMode(DeserializationMode.Strict));
    private static readonly FhirXmlDeserializer XmlParser = new(new DeserializerSettings().UsingMode(DeserializationMode.Strict));
    private static readonly BaseFhirJsonSerializer JsonSerializer = new(ModelInfo.ModelInspector);
    private static readonly BaseFhirXmlSerializer XmlSerializer = new(ModelInfo.ModelInspector);

    // JSON is served as application/fhir+json, never embedded in HTML, so '+', '&' and non-ASCII letters need no escaping.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Parses text that came from a file or a message; it passes the same <see cref="FhirInputCheck"/> as a request body.</summary>
    public static Resource Parse(string body, FhirFormat format, int maxDepth = FhirInputCheck.DefaultMaxDepth) =>
        ParseChecked(FhirInputCheck.Check(Encoding.UTF8.GetBytes(body), format, maxDepth), format);

    /// <summary>Parses a body as it came over the wire: UTF-8, checked (<see cref="FhirInputCheck"/>) before the parser runs.</summary>
    public static Resource Parse(ReadOnlySpan<byte> utf8, FhirFormat format, int maxDepth) =>
        ParseChecked(FhirInputCheck.Check(utf8, format, maxDepth), format);

    private static Resource ParseChecked(string body, FhirFormat format)
    {
        Resource resource;
        try
        {
            resource = format == FhirFormat.Json ? JsonParser.DeserializeResource(body) : XmlParser.DeserializeResource(body);
        }
        catch (DeserializationFailedException e)
        {
            throw new InvalidInputException(e.Exceptions.Select(ToIssue).Take(20).ToList());
        }
        catch (Exception e) when (e is JsonException or XmlException or FormatException or CodedException)
        {
            throw FhirException.BadRequest($"The body is not a valid FHIR {format} resource: {e.Message}");
        }
        catch (NotSupportedException)
        {
            // Firely's XML parser fails this way on an attribute it does not know on a primitive element (valuE="x");
            // its message names its own internals, not the body.
            throw FhirException.BadRequest($"The body is not a valid FHIR {format} resource: an element has an attribute or content FHIR does not define there.");
        }

        // Strict mode already validated cardinality, required elements, codes and primitive formats (nested resources
        // included), so the POCO validation is not run a second time here.
        return resource;
    }

    /// <summary>Structural validation of a resource built or changed in code (PATCH results, mapped messages).</summary>
    public static void Validate(Resource resource)
    {
        var errors = resource.Validate(ModelInfo.ModelInspector, NarrativeValidationKind.FhirXhtml, null, true).ToList();
        if (errors.Count > 0)
        {
            throw new InvalidInputException(errors.Select(ToIssue).Take(20).ToList());
        }
    }

    private static FhirException.Issue ToIssue(CodedException e) =>
        new(OperationOutcome.IssueSeverity.Error, OperationOutcome.IssueType.Structure, e.Message, Location(e));

    private static string? Location(CodedException e) =>
        e switch
        {
            CodedValidationException v => v.InstancePath,
            FhirJsonException j => j.InstancePath,
            FhirXmlException x => x.InstancePath,
            _ => null,
        };

    public static string ToJson(Base resource)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            JsonSerializer.Serialize(resource, writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public static void WriteJson(Base resource, Stream stream)
    {
        using var writer = new Utf8JsonWriter(stream, WriterOptions);
        JsonSerializer.Serialize(resource, writer);
    }

    public static string ToXml(Base resource)
    {
        var builder = new StringBuilder();
        using (var writer = XmlWriter.Create(builder, new XmlWriterSettings { OmitXmlDeclaration = false, Encoding = Encoding.UTF8 }))
        {
            XmlSerializer.Serialize(resource, writer);
        }

        return builder.ToString();
    }

    public static string Serialize(Base resource, FhirFormat format) => format == FhirFormat.Json ? ToJson(resource) : ToXml(resource);
}
