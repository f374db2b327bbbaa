using CareHub.Directories;
using Hl7.Fhir.Model;
using static CareHub.Demo.DemoCatalogue;

namespace CareHub.Demo;

/// <summary>
/// The demo's endpoint and service directories: an Endpoint for each organisation and purpose (FHIR base, MHD, MLLP,
/// SMART launch, click-through; the council has no MLLP receiver), the HealthcareServices its teams offer, and the SDS
/// job role each demo role holds. Addresses are under example.org (RFC 2606), so nothing the demo lists can be reached.
/// </summary>
public static partial class DemoCommunity
{
    public const string SdsJobRoleSystem = "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode";
    private const string ReferralMethodSystem = "http://terminology.hl7.org/CodeSystem/service-referral-method";

    /// <summary>The id of the demo Endpoint of an organisation for a purpose.</summary>
    public static string EndpointId(string organizationId, EndpointPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        return $"{organizationId.ToLowerInvariant()}-{purpose.Code}";
    }

    private static IEnumerable<Resource> EndpointsAndServices()
    {
        foreach (var organization in (string[])[GpPracticeId, OtherPracticeId, AcuteTrustId, CommunityTrustId, CouncilId])
        {
            foreach (var purpose in EndpointPurpose.All.Where(p => organization != CouncilId || p != EndpointPurpose.Mllp))
            {
                yield return DemoEndpoint(organization, purpose);
            }
        }

        yield return Service("a81001-general-practice", GpPracticeId, "General practice appointments", GeneralPracticeSpecialty, null,
            "Patients registered with the practice", "phone", "01632 960000");
        yield return Service("a81002-general-practice", OtherPracticeId, "General practice appointments", GeneralPracticeSpecialty, null,
            "Patients registered with the practice", "phone", "01632 960004");
        yield return Service("rth-cardiology", AcuteTrustId, "Cardiology outpatient clinic", new(Snomed, "394579002", "Cardiology"),
            JohnRadcliffeLocationId, "Adults referred by their GP or a hospital consultant", "elec", "01632 960001");
        yield return Service("rth-acute-medicine", AcuteTrustId, "Acute medical unit", InternalMedicineSpecialty,
            ChurchillLocationId, "Adults referred by their GP or the emergency department", "phone", "01632 960001");
        yield return Service("ryg-district-nursing", CommunityTrustId, "District nursing", null,
            CityOfCoventryHealthCentreLocationId, "Housebound adults in Coventry", "elec", "01632 960002");
        yield return Service("ryg-community-mental-health", CommunityTrustId, "Community mental health team", new(Snomed, "394587001", "Psychiatry"),
            CityOfCoventryHealthCentreLocationId, "Adults aged 18 to 65 referred by their GP", "elec", "01632 960002");
        yield return Service("00k-adult-social-care", CouncilId, "Adult social care assessment", null, null,
            "Adults living in Stockton-on-Tees, on referral or their own request", "phone", "01632 960003");
    }

    private static Endpoint DemoEndpoint(string organizationId, EndpointPurpose purpose)
    {
        var host = $"{organizationId.ToLowerInvariant()}.example.org";
        return new Endpoint
        {
            Id = EndpointId(organizationId, purpose),
            Status = Endpoint.EndpointStatus.Active,
            ConnectionType = purpose.ConnectionType,
            Name = $"{OrganizationReference(organizationId).Display}: {purpose.Display}",
            ManagingOrganization = OrganizationReference(organizationId),
            PayloadType = [purpose.PayloadType()],
            Address = purpose.Code switch
            {
                "fhir-base" => $"https://{host}/fhir/R4",
                "mhd" => $"https://{host}/mhd/R4",
                "mllp" => $"mllp://{host}:2575",
                "smart-launch" => $"https://{host}/smart/launch",
                _ => $"https://{host}/record?nhs={{nhsNumber}}&user={{user}}",
            },
        };
    }

    private static HealthcareService Service(string id, string organizationId, string name, Term? specialty, string? locationId,
        string eligibility, string referralMethod, string phone) => new()
    {
        Id = id,
        Active = true,
        ProvidedBy = OrganizationReference(organizationId),
        Name = name,
        Specialty = specialty is null ? [] : [Concept(specialty)],
        Location = locationId is null ? [] : [new ResourceReference($"Location/{locationId}")],
        Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, phone)],
        Eligibility = [new HealthcareService.EligibilityComponent { Code = new CodeableConcept { Text = eligibility } }],
        ReferralMethod = [new CodeableConcept(ReferralMethodSystem, referralMethod)],
        AppointmentRequired = true,
        Endpoint = [new ResourceReference($"Endpoint/{EndpointId(organizationId, EndpointPurpose.Mhd)}")],
    };

    // The national RBAC baseline job roles of the Spine Directory Service (SDS) that the demo's roles correspond to.
    private static CodeableConcept SdsJobRole(Term occupation) => occupation.Value switch
    {
        "224535009" => new(SdsJobRoleSystem, "R8001", "Nurse Access Role", text: null),
        "106328005" => new(SdsJobRoleSystem, "R8003", "Health Professional Access Role", text: null),
        _ => new(SdsJobRoleSystem, "R8000", "Clinical Practitioner Access Role", text: null),
    };
}
