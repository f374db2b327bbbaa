using System.Globalization;
using Hl7.Fhir.Model;

namespace CareHub.Directories;

/// <summary>
/// Turns an ODS record into the Organization CareHub keeps for it: the resource id is the ODS code (as the demo names its
/// organisations), the identifier NHS England's ODS code system, the type the ODS role (NHS England's
/// ODSOrganisationRole code system), the open and close dates NHS England's TypedPeriod extension as the ODS FHIR API
/// writes them, and a tag naming the extract, so a later full extract of the same family can close what it no longer lists.
/// The mapping table is in docs/directories.md.
/// </summary>
public static class OdsOrganizationMapper
{
    public const string OdsOrganizationCodeSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string OrganisationRoleSystem = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole";
    public const string TypedPeriodUrl = "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedPeriod";
    public const string PeriodTypeSystem = "https://fhir.nhs.uk/England/CodeSystem/England-PeriodType";

    /// <summary>CareHub's code system for epraccur's prescribing setting (column 26), whose codes NHS Digital lists in the extract's documentation.</summary>
    public const string PrescribingSettingSystem = "https://carehub.local/fhir/CodeSystem/ods-prescribing-setting";

    /// <summary>CareHub's extension for epraccur's "Provider/Purchaser" (column 24), an ODS code as an Identifier.</summary>
    public const string ProviderPurchaserUrl = "https://carehub.local/fhir/StructureDefinition/ods-provider-purchaser";

    private static readonly Dictionary<int, string> PrescribingSettings = new()
    {
        [0] = "Other", [1] = "WIC Practice", [2] = "OOH Practice", [3] = "WIC + OOH Practice", [4] = "GP Practice",
        [8] = "Public Health Service", [9] = "Community Health Service", [10] = "Hospital Service", [11] = "Optometry Service",
        [12] = "Urgent & Emergency Care", [13] = "Hospice", [14] = "Care Home / Nursing Home", [15] = "Border Force",
        [16] = "Young Offender Institution", [17] = "Secure Training Centre", [18] = "Secure Children's Home",
        [19] = "Immigration Removal Centre", [20] = "Court", [21] = "Police Custody", [22] = "Sexual Assault Referral Centre (SARC)",
        [24] = "Other - Justice Estate", [25] = "Prison",
    };

    /// <summary>The Organization for one record of an extract of <paramref name="family"/>.</summary>
    public static Organization ToOrganization(OdsFamily family, OdsRow row)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(row);
        var organization = new Organization
        {
            Id = row.Code,
            Meta = new Meta { Tag = [new Coding(OdsFamily.TagSystem, family.Code, family.Display)] },
            Identifier = [new Identifier(OdsOrganizationCodeSystem, row.Code)],
            Active = IsActive(row),
            Name = row.Name,
            Type = [Types(family, row)],
            Address = [new Address
            {
                Use = Address.AddressUse.Work,
                Line = row.AddressLines,
                PostalCode = row.Postcode.Length > 0 ? row.Postcode : null,
                Country = "GB",
            }],
        };
        organization.Extension.Add(OperationalPeriod(row.OpenDate, row.CloseDate));
        if (row.Phone is not null)
        {
            organization.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, row.Phone));
        }

        if (row.Parent is not null)
        {
            organization.PartOf = Reference(row.Parent);
        }

        if (row.ProviderPurchaser is not null)
        {
            organization.Extension.Add(new Extension(ProviderPurchaserUrl, new Identifier(OdsOrganizationCodeSystem, row.ProviderPurchaser)));
        }

        return organization;
    }

    /// <summary>A reference to the organisation with an ODS code, literal (its resource id is the code) and by identifier.</summary>
    public static ResourceReference Reference(string code) => new($"Organization/{code}")
    {
        Identifier = new Identifier(OdsOrganizationCodeSystem, code),
    };

    /// <summary>
    /// epraccur's status decides (only A, active, is active: closed, dormant and proposed are not); a layout without a
    /// status is active until its close date.
    /// </summary>
    private static bool IsActive(OdsRow row) => row.Status is null ? row.CloseDate is null : row.Status == "A";

    private static CodeableConcept Types(OdsFamily family, OdsRow row)
    {
        var concept = new CodeableConcept();
        if (family == OdsFamily.GpPractices)
        {
            concept.Coding.Add(new Coding(OrganisationRoleSystem, "RO177", "PRESCRIBING COST CENTRE"));
            if (row.PrescribingSetting == 4)
            {
                concept.Coding.Add(new Coding(OrganisationRoleSystem, "RO76", "GP PRACTICE"));
            }

            if (row.PrescribingSetting is { } setting)
            {
                concept.Coding.Add(new Coding(PrescribingSettingSystem, setting.ToString(CultureInfo.InvariantCulture), PrescribingSettings.GetValueOrDefault(setting)));
            }
        }
        else
        {
            concept.Coding.Add(new Coding(OrganisationRoleSystem, "RO197", "NHS TRUST"));
        }

        return concept;
    }

    private static Extension OperationalPeriod(DateOnly? open, DateOnly? close)
    {
        var period = new Period
        {
            Start = open?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            End = close?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
        var extension = new Extension { Url = TypedPeriodUrl };
        extension.Extension.Add(new Extension("dateType", new Coding(PeriodTypeSystem, "Operational", "Operational")));
        extension.Extension.Add(new Extension("period", period));
        return extension;
    }
}
