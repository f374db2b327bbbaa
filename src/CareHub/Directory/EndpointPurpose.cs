using Hl7.Fhir.Model;

namespace CareHub.Directories;

/// <summary>
/// What an Endpoint is for, in CareHub's code system, carried in <c>Endpoint.payloadType</c> (searchable as
/// <c>payload-type</c>); <c>Endpoint.connectionType</c> says how to talk to it (HL7's endpoint-connection-type codes, or
/// CareHub's <c>web-launch</c> for an address a browser is sent to). docs/directories.md lists the codes.
/// </summary>
public sealed record EndpointPurpose(string Code, string Display, Coding ConnectionType)
{
    public const string System = "https://carehub.local/fhir/CodeSystem/endpoint-purpose";
    public const string Hl7ConnectionTypes = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type";
    public const string CareHubConnectionTypes = "https://carehub.local/fhir/CodeSystem/endpoint-connection-type";

    /// <summary>The organisation's FHIR R4 server base, for reads and searches.</summary>
    public static readonly EndpointPurpose FhirBase = new("fhir-base", "FHIR R4 base", new Coding(Hl7ConnectionTypes, "hl7-fhir-rest", "HL7 FHIR"));

    /// <summary>Its IHE MHD document responder (documents: where to fetch and where to send).</summary>
    public static readonly EndpointPurpose Mhd = new("mhd", "IHE MHD document responder", new Coding(Hl7ConnectionTypes, "hl7-fhir-rest", "HL7 FHIR"));

    /// <summary>Its HL7 v2 MLLP receiver, <c>mllp://host:port</c> (notifications and messages: where to deliver).</summary>
    public static readonly EndpointPurpose Mllp = new("mllp", "HL7 v2 MLLP receiver", new Coding(Hl7ConnectionTypes, "hl7v2-mllp", "HL7 v2 MLLP"));

    /// <summary>Its SMART App Launch URL (sign-in: launch targets).</summary>
    public static readonly EndpointPurpose SmartLaunch = new("smart-launch", "SMART App Launch URL", new Coding(CareHubConnectionTypes, "web-launch", "Web launch"));

    /// <summary>
    /// Its click-through template: a URL with <c>{nhsNumber}</c> (and, where the system takes one, <c>{user}</c>) to
    /// fill in, opening the source system at the patient.
    /// </summary>
    public static readonly EndpointPurpose ClickThrough = new("click-through", "Click-through template", new Coding(CareHubConnectionTypes, "web-launch", "Web launch"));

    public static IReadOnlyList<EndpointPurpose> All { get; } = [FhirBase, Mhd, Mllp, SmartLaunch, ClickThrough];

    /// <summary>The purpose as a CodeableConcept for <c>Endpoint.payloadType</c>.</summary>
    public CodeableConcept PayloadType() => new(System, Code, Display, text: null);
}
