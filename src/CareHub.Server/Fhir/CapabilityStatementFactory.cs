using CareHub.Records;
using CareHub.Server.Security;
using Hl7.Fhir.Model;

namespace CareHub.Server.Fhir;

/// <summary>The CapabilityStatement (R4 capabilitystatement.html), generated from what this server really supports.</summary>
public sealed class CapabilityStatementFactory(AuthOptions auth, TimeProvider clock)
{
    private static readonly string[] Interactions = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"];
    private static readonly string[] AuditInteractions = ["read", "vread", "history-instance", "history-type", "search-type"];

    /// <summary>
    /// Every FHIR operation the server maps, with the definition it follows: HL7's own where FHIR defines the operation
    /// (R5's Patient $merge is used as published for R5), IHE's for PIXm, and CareHub's own names for the MPI's
    /// administration. Status URLs of asynchronous operations (<c>$reindex-status</c>) are not operations.
    /// </summary>
    public static readonly IReadOnlyList<OperationSupport> Operations =
    [
        new(null, "reindex", "urn:carehub:operation:reindex", "Re-extracts search index rows after custom SearchParameters change; asynchronous (R4 async.html)."),
        new("Patient", "everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything", "A patient's record as the caller may see it, with the records of the same person from other sources."),
        new("Patient", "match", "http://hl7.org/fhir/OperationDefinition/Patient-match", "The Patients that may be the person described, best first, scored and graded (match-grade)."),
        new("Patient", "ihe-pix", "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix", "IHE PIXm ITI-83: the identifiers of the same person in other domains."),
        new("Patient", "merge", "http://hl7.org/fhir/OperationDefinition/Patient-merge", "Merges a duplicate Patient into the one kept (parameters as R5 Patient $merge)."),
        new("Patient", "mpi-link", "urn:carehub:operation:mpi-link", "Links two Patients as one person by a person's decision (MPI administration)."),
        new("Patient", "mpi-unlink", "urn:carehub:operation:mpi-unlink", "Separates two Patients for good: they are never linked again automatically (MPI administration)."),
        new("Patient", "mpi-status", "urn:carehub:operation:mpi-status", "How Patient writes are matched and, with queued matching, how far behind the matcher is; no patient data (MPI administration)."),
        new("Task", "mpi-reviews", "urn:carehub:operation:mpi-reviews", "Possible matches waiting for a person to decide (MPI administration)."),
        new("Task", "mpi-accept", "urn:carehub:operation:mpi-accept", "Accepts a possible match: its Patients are linked as one person (MPI administration)."),
        new("Task", "mpi-reject", "urn:carehub:operation:mpi-reject", "Rejects a possible match (MPI administration)."),
        new("CodeSystem", "lookup", "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup", "A code's display, designations and properties (parents, children, SNOMED CT attributes, inactive), from SNOMED CT or a stored CodeSystem."),
        new("CodeSystem", "subsumes", "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes", "Whether one code subsumes another, from SNOMED CT's transitive closure or a stored CodeSystem's hierarchy."),
        new("CodeSystem", "validate-code", "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code", "Whether a code (and its display) is in SNOMED CT or a stored CodeSystem."),
        new("ValueSet", "expand", "http://hl7.org/fhir/OperationDefinition/ValueSet-expand", "Expands a stored ValueSet or an implicit SNOMED CT one (isa, refset, ecl), with filter, offset and count."),
        new("ValueSet", "validate-code", "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code", "Whether a code is in a stored ValueSet or an implicit SNOMED CT one."),
        new("ConceptMap", "translate", "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate", "Translates a code through stored ConceptMaps and SNOMED CT map refsets."),
    ];

    public CapabilityStatement Build(string baseUrl)
    {
        var rest = new CapabilityStatement.RestComponent
        {
            Mode = CapabilityStatement.RestfulCapabilityMode.Server,
            Documentation = "Every interaction except metadata needs an OAuth2 bearer token. Every read and write is decided by the access policy (SMART scopes, roles, legitimate relationships, consent, data sharing agreements, break-glass) and audited.",
            Security = new CapabilityStatement.SecurityComponent
            {
                Cors = false,
                Service = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/restful-security-service", "SMART-on-FHIR", "SMART-on-FHIR")],
                Description = "OAuth2 bearer JWTs from the configured issuers (signature, issuer, audience and expiry checked).",
            },
            Interaction =
            [
                new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.Transaction },
                new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.Batch },
                new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.HistorySystem },
                new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.SearchSystem },
            ],
            Operation = OperationsOf(null),
        };

        if (auth.DevTokens is { Enabled: true })
        {
            var oauth = new Extension { Url = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" };
            oauth.Extension.Add(new Extension("token", new FhirUri(baseUrl[..^"/fhir".Length] + "/auth/token")));
            rest.Security.Extension.Add(oauth);
        }

        foreach (var type in ModelInfo.SupportedResources.Where(t => t is not ("Resource" or "DomainResource")).Order(StringComparer.Ordinal))
        {
            var audit = type == "AuditEvent";
            var resource = new CapabilityStatement.ResourceComponent
            {
                Type = type,
                Versioning = CapabilityStatement.ResourceVersionPolicy.VersionedUpdate,
                ReadHistory = true,
                UpdateCreate = !audit,
                ConditionalCreate = !audit,
                ConditionalRead = CapabilityStatement.ConditionalReadStatus.NotSupported,
                ConditionalUpdate = !audit,
                ConditionalDelete = audit ? CapabilityStatement.ConditionalDeleteStatus.NotSupported : CapabilityStatement.ConditionalDeleteStatus.Single,
                Interaction = (audit ? AuditInteractions : Interactions)
                    .Select(code => new CapabilityStatement.ResourceInteractionComponent { Code = Enum.Parse<CapabilityStatement.TypeRestfulInteraction>(code.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true) })
                    .ToList(),
                SearchParam = SearchRequest.SupportedFor(type)
                    .Select(p => new CapabilityStatement.SearchParamComponent { Name = p.Name, Type = Enum.Parse<SearchParamType>(p.Type, ignoreCase: true), Documentation = p.Documentation })
                    .ToList(),
                SearchInclude = SearchRequest.IncludesFor(type),
                SearchRevInclude = SearchRequest.RevIncludesFor(type),
                Operation = OperationsOf(type),
            };
            rest.Resource.Add(resource);
        }

        return new CapabilityStatement
        {
            Id = "carehub",
            Url = baseUrl + "/metadata",
            Name = "CareHub",
            Title = "CareHub FHIR R4 server",
            Status = PublicationStatus.Active,
            Date = clock.GetUtcNow().ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            Publisher = "CareHub",
            Kind = CapabilityStatementKind.Instance,
            Software = new CapabilityStatement.SoftwareComponent { Name = "CareHub", Version = typeof(CapabilityStatementFactory).Assembly.GetName().Version?.ToString() },
            Implementation = new CapabilityStatement.ImplementationComponent { Description = "CareHub integrated care record", Url = baseUrl },
            FhirVersion = FHIRVersion.N4_0_1,
            Format = ["application/fhir+json", "application/fhir+xml"],
            PatchFormat = ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
            Rest = [rest],
        };
    }

    private static List<CapabilityStatement.OperationComponent> OperationsOf(string? type) => Operations
        .Where(o => o.Type == type)
        .Select(o => new CapabilityStatement.OperationComponent { Name = o.Name, Definition = o.Definition, Documentation = o.Documentation })
        .ToList();
}

/// <summary>One operation: on a resource type (instance or type level), or on the whole system when <see cref="Type"/> is null.</summary>
public sealed record OperationSupport(string? Type, string Name, string Definition, string Documentation);
