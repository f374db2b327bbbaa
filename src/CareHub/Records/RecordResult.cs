using System.Net;
using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>
/// The outcome of one interaction on one resource. <see cref="Json"/> is the stored JSON when there is a body to return
/// (a read serves it as it is, with no re-serialisation); <see cref="Outcome"/> carries information or warnings.
/// </summary>
public sealed record RecordResult(
    HttpStatusCode Status,
    string Type,
    string Id,
    int Version,
    DateTimeOffset LastUpdated,
    string? Json,
    OperationOutcome? Outcome = null)
{
    /// <summary>The write gave its author a legitimate relationship with the patient they did not have (docs/governance.md).</summary>
    public bool SelfClaimed { get; init; }

    public string VersionedReference => $"{Type}/{Id}/_history/{FhirIds.FormatVersion(Version)}";

    public string ETag => $"W/\"{FhirIds.FormatVersion(Version)}\"";

    public Resource? ToResource() => Json is null ? null : StoredJson.Parse(Json);
}

/// <summary>Stored JSON was validated when written, so it is read back without strict checks.</summary>
public static class StoredJson
{
    private static readonly Hl7.Fhir.Serialization.FhirJsonDeserializer Parser =
        new(new Hl7.Fhir.Serialization.DeserializerSettings().UsingMode(Hl7.Fhir.Serialization.DeserializationMode.Ostrich));

    public static Resource Parse(string json) => Hl7.Fhir.Serialization.PocoDeserializationExtensions.DeserializeResource(Parser, json);
}
