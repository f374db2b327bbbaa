using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Governance;

/// <summary>
/// The index rows the access policy queries, written with every version in the same transaction as the search index
/// (so a policy decision sees exactly the committed record, and a reindex rebuilds them):
/// <list type="bullet">
/// <item><c>_carehub-source</c>: the ODS code of the organisation the resource came from, read from <c>meta.source</c>
/// when it is an ODS organisation URL (<see cref="OrganisationSource"/>);</item>
/// <item><c>_carehub-consent</c> (Consent only): the top-level provision's effect as the system (<c>deny</c> or
/// <c>permit</c>) and each actor it names as the code (<c>Organization/x</c>, <c>Practitioner/y</c>, <c>ods:CODE</c>),
/// or <c>*</c> when it names none (the provision applies to everyone);</item>
/// <item><c>_carehub-consent-class</c> (Consent only): the resource types the provision is limited to
/// (<c>provision.class</c> codes of http://hl7.org/fhir/resource-types); none means every type.</item>
/// </list>
/// </summary>
public static class GovernanceIndex
{
    public const string SourceParam = "_carehub-source";
    public const string ConsentParam = "_carehub-consent";
    public const string ConsentClassParam = "_carehub-consent-class";
    public const string ResourceTypesSystem = "http://hl7.org/fhir/resource-types";

    /// <summary>
    /// The patients a resource belongs to: itself for a Patient, otherwise each Patient its Patient-compartment
    /// parameters refer to (compartmentdefinition-patient.html). One parameter for every type, so the access policy's
    /// patient rules are the same clause whatever the type searched.
    /// </summary>
    public const string PatientParam = "_carehub-patient";

    /// <summary>
    /// The parameters that say which patients a resource of <paramref name="resourceType"/> belongs to: its Patient
    /// compartment parameters; or, for a type the compartment leaves out that still names a patient (R4 Task, Device,
    /// GuidanceResponse), its <c>patient</c> parameter, so a clinical Task is governed like the record it is about.
    /// </summary>
    public static IReadOnlyList<string> PatientParamsOf(string resourceType) =>
        Search.PatientCompartment.ParamsByType.TryGetValue(resourceType, out var parameters)
            ? parameters
            : Search.SearchParameterCatalog.Find(resourceType, "patient") is { Type: SearchParamType.Reference } patient && patient.Targets.Contains("Patient")
                ? ["patient"]
                : [];

    public static IEnumerable<IndexRow> Rows(Resource resource, IReadOnlyList<IndexRow> extracted)
    {
        if (resource is Patient && resource.Id is { Length: > 0 } self)
        {
            yield return new ReferenceIndexRow(PatientParam, "Patient", self, null);
        }
        else if (PatientParamsOf(resource.TypeName) is { Count: > 0 } parameters)
        {
            foreach (var patient in extracted.OfType<ReferenceIndexRow>()
                .Where(r => r.TargetType == "Patient" && r.TargetId is not null && parameters.Contains(r.Param))
                .Select(r => r.TargetId!).Distinct(StringComparer.Ordinal))
            {
                yield return new ReferenceIndexRow(PatientParam, "Patient", patient, null);
            }
        }

        if (OrganisationSource.Parse(resource.Meta?.Source) is { } ods)
        {
            yield return new TokenIndexRow(SourceParam, OrganisationSource.OdsSystem, ods);
        }

        if (resource is Consent { Provision: { Type: { } effect } provision })
        {
            var system = effect == Consent.ConsentProvisionType.Deny ? "deny" : "permit";
            var actors = provision.Actor.Select(a => ActorKey(a.Reference)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            foreach (var actor in actors.Count == 0 ? ["*"] : actors)
            {
                yield return new TokenIndexRow(ConsentParam, system, actor);
            }

            foreach (var type in provision.Class.Where(c => c.System == ResourceTypesSystem).Select(c => c.Code).OfType<string>().Where(c => c.Length > 0).Distinct(StringComparer.Ordinal))
            {
                yield return new TokenIndexRow(ConsentClassParam, ResourceTypesSystem, type);
            }
        }
    }

    /// <summary>How a consent actor is keyed: a relative reference as written, an ODS identifier as <c>ods:CODE</c>.</summary>
    public static string? ActorKey(ResourceReference? reference)
    {
        if (reference?.Reference is { Length: > 0 } literal && !literal.StartsWith('#'))
        {
            var (type, id, _) = Search.IndexExtractor.ParseReference(literal);
            return type is not null && id is not null ? $"{type}/{id}" : null;
        }

        return reference?.Identifier is { System: OrganisationSource.OdsSystem, Value: { Length: > 0 } code } ? "ods:" + code : null;
    }
}

/// <summary>
/// Where a resource came from, for data sharing agreements: <c>meta.source</c> holding the organisation's ODS URL,
/// <c>https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/{ODS}</c> (the NHS ODS API address of the
/// organisation), optionally followed by <c>#</c> and the sending system. CareHub stamps it on writes by callers acting
/// for an organisation when the writer did not say.
/// </summary>
public static class OrganisationSource
{
    public const string OdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string Prefix = "https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/";

    public static string For(string ods) => Prefix + ods;

    public static string? Parse(string? source)
    {
        if (source is null || !source.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = source[Prefix.Length..];
        var end = rest.IndexOfAny(['#', '/', '?']);
        var ods = end < 0 ? rest : rest[..end];
        return ods.Length is > 0 and <= 12 && ods.All(char.IsAsciiLetterOrDigit) ? ods.ToUpperInvariant() : null;
    }
}
