using CareHub.Governance;
using Hl7.Fhir.Model;

namespace CareHub.Demo;

/// <summary>
/// The demo's information governance: the data sharing agreements between its organisations (one of them expired, to
/// show an agreement out of force), and the consent records and sensitivity labels written with the patients.
/// </summary>
public static partial class DemoCommunity
{
    public const string HealthSharingAgreementId = "dsa-health-shared-record";
    public const string SocialCareAgreementId = "dsa-health-and-social-care";
    public const string ExpiredAgreementId = "dsa-council-laboratory-pilot";

    private static IEnumerable<Contract> Agreements()
    {
        string[] health = [GpPracticeId, OtherPracticeId, AcuteTrustId, CommunityTrustId];
        // The health organisations share everything with each other, for treatment and emergency treatment.
        yield return Agreement(HealthSharingAgreementId, "Shared care record: health organisations", health, health, [], new DateOnly(2024, 4, 1), null);
        // Health shares what social care needs with the council, and the council shares its social care records back.
        yield return Agreement(SocialCareAgreementId, "Shared care record: health and adult social care", health, [CouncilId],
            ["demographics", "alerts", "care-plans", "encounters"], new DateOnly(2024, 4, 1), null);
        yield return Agreement(SocialCareAgreementId + "-return", "Shared care record: adult social care to health", [CouncilId], health,
            ["demographics", "social-care", "care-plans", "alerts"], new DateOnly(2024, 4, 1), null);
        // A pilot that let the council see laboratory results; it has ended, so it no longer shares anything.
        yield return Agreement(ExpiredAgreementId, "Pilot: laboratory results for reablement (ended)", [AcuteTrustId], [CouncilId],
            ["laboratory"], new DateOnly(2023, 1, 1), new DateOnly(2023, 12, 31));
    }

    private static Contract Agreement(string id, string title, string[] sources, string[] recipients, string[] categories, DateOnly start, DateOnly? end)
    {
        ResourceReference Ods(string code) => new() { Identifier = new Identifier(OdsOrganizationCodeSystem, code), Display = OrganizationReference(code).Display };
        return new Contract
        {
            Id = id,
            Status = Contract.ContractResourceStatusCodes.Executed,
            Title = title,
            Type = new CodeableConcept(DataSharingAgreement.TypeSystem, DataSharingAgreement.TypeCode, "Data sharing agreement", null),
            Applies = new Period { StartElement = new FhirDateTime(start.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)), EndElement = end is { } e ? new FhirDateTime(e.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)) : null },
            Term =
            [
                new Contract.TermComponent
                {
                    Offer = new Contract.ContractOfferComponent
                    {
                        Party =
                        [
                            new Contract.ContractPartyComponent { Role = new CodeableConcept(DataSharingAgreement.PartySystem, "source"), Reference = sources.Select(Ods).ToList() },
                            new Contract.ContractPartyComponent { Role = new CodeableConcept(DataSharingAgreement.PartySystem, "recipient"), Reference = recipients.Select(Ods).ToList() },
                        ],
                    },
                    Asset = categories.Length == 0 ? [] : [new Contract.ContractAssetComponent { Type = categories.Select(c => new CodeableConcept(DataSharingAgreement.CategorySystem, c)).ToList() }],
                    Action =
                    [
                        new Contract.ActionComponent
                        {
                            Type = new CodeableConcept(DataSharingAgreement.TypeSystem, "share"),
                            Intent = new CodeableConcept { Coding = [new Coding(AccessPurpose.ActReasonSystem, AccessPurpose.Treatment), new Coding(AccessPurpose.ActReasonSystem, AccessPurpose.EmergencyTreatment)] },
                            Status = new CodeableConcept("http://hl7.org/fhir/contractactionstatus", "complete"),
                        },
                    ],
                },
            ],
        };
    }
}
