using System.Collections.Frozen;

namespace CareHub.Search;

/// <summary>
/// The R4 Patient compartment (compartmentdefinition-patient.html, FHIR 4.0.1): for each resource type in it, the search
/// parameters that put a resource in a patient's compartment. Types not listed are not in the compartment. The SDK does
/// not ship CompartmentDefinitions, so the table is taken from the specification.
/// </summary>
public static class PatientCompartment
{
    public static FrozenDictionary<string, IReadOnlyList<string>> ParamsByType { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["Account"] = ["subject"],
        ["AdverseEvent"] = ["subject"],
        ["AllergyIntolerance"] = ["patient", "recorder", "asserter"],
        ["Appointment"] = ["actor"],
        ["AppointmentResponse"] = ["actor"],
        ["AuditEvent"] = ["patient"],
        ["Basic"] = ["patient", "author"],
        ["BodyStructure"] = ["patient"],
        ["CarePlan"] = ["patient", "performer"],
        ["CareTeam"] = ["patient", "participant"],
        ["ChargeItem"] = ["subject"],
        ["Claim"] = ["patient", "payee"],
        ["ClaimResponse"] = ["patient"],
        ["ClinicalImpression"] = ["subject"],
        ["Communication"] = ["subject", "sender", "recipient"],
        ["CommunicationRequest"] = ["subject", "sender", "recipient", "requester"],
        ["Composition"] = ["subject", "author", "attester"],
        ["Condition"] = ["patient", "asserter"],
        ["Consent"] = ["patient"],
        ["Coverage"] = ["policy-holder", "subscriber", "beneficiary", "payor"],
        ["CoverageEligibilityRequest"] = ["patient"],
        ["CoverageEligibilityResponse"] = ["patient"],
        ["DetectedIssue"] = ["patient"],
        ["DeviceRequest"] = ["subject", "performer"],
        ["DeviceUseStatement"] = ["subject"],
        ["DiagnosticReport"] = ["subject"],
        ["DocumentManifest"] = ["subject", "author", "recipient"],
        ["DocumentReference"] = ["subject", "author"],
        ["Encounter"] = ["patient"],
        ["EnrollmentRequest"] = ["subject"],
        ["EpisodeOfCare"] = ["patient"],
        ["ExplanationOfBenefit"] = ["patient", "payee"],
        ["FamilyMemberHistory"] = ["patient"],
        ["Flag"] = ["patient"],
        ["Goal"] = ["patient"],
        ["Group"] = ["member"],
        ["ImagingStudy"] = ["patient"],
        ["Immunization"] = ["patient"],
        ["ImmunizationEvaluation"] = ["patient"],
        ["ImmunizationRecommendation"] = ["patient"],
        ["Invoice"] = ["subject", "patient", "recipient"],
        ["List"] = ["subject", "source"],
        ["MeasureReport"] = ["patient"],
        ["Media"] = ["subject"],
        ["MedicationAdministration"] = ["patient", "performer", "subject"],
        ["MedicationDispense"] = ["subject", "patient", "receiver"],
        ["MedicationRequest"] = ["subject"],
        ["MedicationStatement"] = ["subject"],
        ["MolecularSequence"] = ["patient"],
        ["NutritionOrder"] = ["patient"],
        ["Observation"] = ["subject", "performer"],
        ["Patient"] = ["link"],
        ["Person"] = ["patient"],
        ["Procedure"] = ["patient", "performer"],
        ["Provenance"] = ["patient"],
        ["QuestionnaireResponse"] = ["subject", "author"],
        ["RelatedPerson"] = ["patient"],
        ["RequestGroup"] = ["subject", "participant"],
        ["ResearchSubject"] = ["individual"],
        ["RiskAssessment"] = ["subject"],
        ["Schedule"] = ["actor"],
        ["ServiceRequest"] = ["subject", "performer"],
        ["Specimen"] = ["subject"],
        ["SupplyDelivery"] = ["patient"],
        ["SupplyRequest"] = ["subject"],
        ["VisionPrescription"] = ["patient"],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The compartment parameters that this build can search (all of them, unless the SDK lacks one).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Searchable(IEnumerable<string> types) =>
        types.Where(ParamsByType.ContainsKey).ToDictionary(
            t => t,
            t => (IReadOnlyList<string>)ParamsByType[t].Where(p => SearchParameterCatalog.Find(t, p) is { Type: Hl7.Fhir.Model.SearchParamType.Reference }).ToList(),
            StringComparer.Ordinal);
}
