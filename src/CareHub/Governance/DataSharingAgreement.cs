using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Governance;

/// <summary>
/// A data sharing agreement, kept as a FHIR <c>Contract</c> (so the registry is the FHIR API: stored, versioned,
/// audited, searchable) with <c>type</c> = https://carehub.local/fhir/CodeSystem/agreement-type|data-sharing:
/// <list type="bullet">
/// <item><c>status</c> <c>executed</c> and <c>applies</c> (a period, open ends allowed) say when it is in force;</item>
/// <item>each <c>term.offer.party</c> with <c>role</c> <c>source</c> or <c>recipient</c> (code system
/// https://carehub.local/fhir/CodeSystem/agreement-party) names organisations by ODS code (<c>reference.identifier</c>
/// with system https://fhir.nhs.uk/Id/ods-organization-code, or a reference <c>Organization/{ODS}</c>);</item>
/// <item><c>term.asset.type</c> codes (https://carehub.local/fhir/CodeSystem/data-category) are the data categories
/// shared, none meaning all;</item>
/// <item><c>term.action.intent</c> codes (v3 ActReason, e.g. TREAT) are the purposes, none meaning all.</item>
/// </list>
/// </summary>
public sealed record DataSharingAgreement(
    string Id,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    IReadOnlySet<string> Sources,
    IReadOnlySet<string> Recipients,
    IReadOnlySet<string> Categories,
    IReadOnlySet<string> Purposes)
{
    public const string TypeSystem = "https://carehub.local/fhir/CodeSystem/agreement-type";
    public const string TypeCode = "data-sharing";
    public const string PartySystem = "https://carehub.local/fhir/CodeSystem/agreement-party";
    public const string CategorySystem = "https://carehub.local/fhir/CodeSystem/data-category";

    public bool InForce(DateTimeOffset now) => (Start is null || Start <= now) && (End is null || now < End);

    public bool Covers(string purpose) => Purposes.Count == 0 || Purposes.Contains(purpose);

    /// <summary>The agreement a stored Contract describes, or null when it is not an executed data sharing agreement.</summary>
    public static DataSharingAgreement? Parse(string json)
    {
        if (StoredJson.Parse(json) is not Contract contract || contract.Status != Contract.ContractResourceStatusCodes.Executed
            || contract.Type?.Coding.Any(c => c.System == TypeSystem && c.Code == TypeCode) != true)
        {
            return null;
        }

        var sources = new HashSet<string>(StringComparer.Ordinal);
        var recipients = new HashSet<string>(StringComparer.Ordinal);
        var categories = new HashSet<string>(StringComparer.Ordinal);
        var purposes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var term in contract.Term)
        {
            foreach (var party in term.Offer?.Party ?? [])
            {
                var role = party.Role?.Coding.FirstOrDefault(c => c.System == PartySystem)?.Code;
                var set = role switch { "source" => sources, "recipient" => recipients, _ => null };
                if (set is null)
                {
                    continue;
                }

                foreach (var reference in party.Reference)
                {
                    if (Ods(reference) is { } ods)
                    {
                        set.Add(ods);
                    }
                }
            }

            categories.UnionWith(term.Asset.SelectMany(a => a.Type).SelectMany(t => t.Coding).Where(c => c.System == CategorySystem).Select(c => c.Code).OfType<string>());
            purposes.UnionWith(term.Action.SelectMany(a => a.Intent?.Coding ?? []).Where(c => c.System == AccessPurpose.ActReasonSystem).Select(c => c.Code).OfType<string>());
        }

        var applies = contract.Applies;
        return new DataSharingAgreement(contract.Id ?? string.Empty, applies?.StartElement?.ToDateTimeOffset(TimeSpan.Zero), applies?.EndElement?.ToDateTimeOffset(TimeSpan.Zero),
            sources, recipients, categories, purposes);
    }

    private static string? Ods(ResourceReference reference)
    {
        if (reference.Identifier is { System: OrganisationSource.OdsSystem, Value: { Length: > 0 } code })
        {
            return code.ToUpperInvariant();
        }

        return reference.Reference is { } literal && literal.StartsWith("Organization/", StringComparison.Ordinal) ? literal["Organization/".Length..].ToUpperInvariant() : null;
    }
}
