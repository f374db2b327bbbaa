using CareHub.Records;
using CareHub.Server.Security;
using Hl7.Fhir.Model;

namespace CareHub.Server.Fhir;

/// <summary>The CapabilityStatement (R4 capabilitystatement.html), generated from what this server really supports.</summary>
public sealed class CapabilityStatementFactory(AuthOptions auth, TimeProvider clock)
{
    private static readonly string[] Interactions = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"];
    private static readonly string[] AuditInteractions = ["read", "vread", "history-instance", "history-type", "search-type"];

    public CapabilityStatement Build(string baseUrl)
    {
        var rest = new CapabilityStatement.RestComponent
        {
            Mode = CapabilityStatement.RestfulCapabilityMode.Server,
            Documentation = "Every interaction except metadata needs an OAuth2 bearer token; SMART scopes are enforced per resource type and interaction.",
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
}
