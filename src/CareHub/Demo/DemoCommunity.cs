using CareHub.Identity;
using Hl7.Fhir.Model;
using static CareHub.Demo.DemoCatalogue;

namespace CareHub.Demo;

/// <summary>
/// Generates, from a seed alone, a UK-flavoured local health and social care community as FHIR R4
/// transaction Bundles: first the directory (organisations under their ODS codes, locations,
/// practitioners and their roles with SDS job role codes, endpoints and services, all PUT under fixed
/// ids), then one Bundle per patient whose entries are POSTed with <c>ifNoneExist</c> on an identifier,
/// so loading the same community twice changes nothing. All names, numbers and histories are invented;
/// NHS Numbers come from the synthetic 999 block and phone numbers from Ofcom's ranges reserved for drama.
/// </summary>
public static partial class DemoCommunity
{
    public const string OdsOrganizationCodeSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string SdsUserIdSystem = "https://fhir.nhs.uk/Id/sds-user-id";

    /// <summary>The identifier system of every patient-bundle resource except Patient: its own urn:uuid fullUrl (RFC 3986).</summary>
    public const string UriIdentifierSystem = "urn:ietf:rfc:3986";

    // Organization ids are the ODS codes.
    public const string GpPracticeId = "A81001";
    public const string AcuteTrustId = "RTH";
    public const string CommunityTrustId = "RYG";
    public const string CouncilId = "00K";
    public const string OtherPracticeId = "A81002";

    public const string GpSmithId = "gp-smith";
    public const string GpKhanId = "gp-khan";
    public const string GpOConnorId = "gp-oconnor";
    public const string DrAhmedId = "dr-ahmed";
    public const string DrWilsonId = "dr-wilson";
    public const string NurseJonesId = "nurse-jones";
    public const string SwPatelId = "sw-patel";

    public const string JohnRadcliffeLocationId = "rth-john-radcliffe";
    public const string ChurchillLocationId = "rth-churchill";
    public const string CityOfCoventryHealthCentreLocationId = "ryg-city-of-coventry-health-centre";

    /// <summary>The demo logins: each is a practitioner in one role at one organisation.</summary>
    public static IReadOnlyList<DemoUser> Users { get; } =
    [
        new("gp.smith", GpSmithId, RoleId(GpSmithId), GpPracticeId, "General practitioner", "gp"),
        new("dr.ahmed", DrAhmedId, RoleId(DrAhmedId), AcuteTrustId, "Hospital doctor", "hospital-doctor"),
        new("nurse.jones", NurseJonesId, RoleId(NurseJonesId), CommunityTrustId, "Community nurse", "community-nurse"),
        new("sw.patel", SwPatelId, RoleId(SwPatelId), CouncilId, "Social worker", "social-worker"),
    ];

    /// <summary>The PractitionerRole id of a practitioner (each has exactly one role in the demo).</summary>
    public static string RoleId(string practitionerId) => $"{practitionerId}-role";

    /// <summary>
    /// The directory Bundle first, then one Bundle per patient, in patient order. Load them in this order;
    /// each is a transaction.
    /// </summary>
    public static IReadOnlyList<Bundle> Generate(DemoCommunityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var bundles = new List<Bundle>(options.Patients + 1) { Directory() };
        var numbers = NhsNumber.SyntheticTestNumbers().Take(options.Patients).ToList();
        for (var i = 0; i < options.Patients; i++)
        {
            bundles.Add(new PatientWriter(options, Plan(options, i, numbers[i])).Write());
        }

        return bundles;
    }

    /// <summary>The generated patients, in bundle order, without generating their records.</summary>
    public static IReadOnlyList<DemoPatient> Patients(DemoCommunityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return NhsNumber.SyntheticTestNumbers().Take(options.Patients).Select((n, i) => Plan(options, i, n)).ToList();
    }

    /// <summary>The generated patients' NHS Numbers (ten digits), in bundle order.</summary>
    public static IReadOnlyList<string> NhsNumbers(DemoCommunityOptions options) =>
        Patients(options).Select(p => p.NhsNumber).ToList();

    // Care relationships cycle with the index so every kind of case is present even in a small community:
    // one patient in six is known only to the GP; halves see the hospital and the community trust; a third
    // has social care.
    private static DemoPatient Plan(DemoCommunityOptions options, int index, NhsNumber number)
    {
        var (acute, community, social) = (index % 6) switch
        {
            0 => (false, false, false),
            1 => (true, false, false),
            2 => (true, true, false),
            3 => (false, true, false),
            4 => (false, true, true),
            _ => (true, false, true),
        };
        var fullUrl = $"urn:uuid:{DemoRandom.For(options.Seed, "patient-fullurl", index).NextGuid()}";
        return new DemoPatient(index, number.Value, fullUrl, acute, community, social)
        {
            Practice = index % 10 == 9 ? OtherPracticeId : GpPracticeId,
            OptedOut = index % 20 == 7,
            SocialCareConsent = social && index % 4 != 1,
        };
    }

    private static Bundle Directory()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        void Put(Resource resource) => bundle.Entry.Add(new Bundle.EntryComponent
        {
            // R4 wants a fullUrl on every non-create entry; a urn:uuid fixed by the id never disagrees with it.
            FullUrl = $"urn:uuid:{DemoRandom.For(0, $"{resource.TypeName}/{resource.Id}", 0).NextGuid()}",
            Resource = resource,
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{resource.Id}" },
        });

        Put(Org(GpPracticeId, "The Densham Surgery", "prov", "Healthcare Provider", "GP practice", "01632 960000",
            ["The Health Centre", "Lawson Street"], "Stockton-on-Tees", "Cleveland", "TS18 1HU"));
        Put(Org(OtherPracticeId, "Marsh Lane Surgery", "prov", "Healthcare Provider", "GP practice", "01632 960004",
            ["Marsh Lane"], "Stockton-on-Tees", "Cleveland", "TS18 2AB"));
        Put(Org(AcuteTrustId, "Oxford University Hospitals NHS Foundation Trust", "prov", "Healthcare Provider", "NHS Trust (acute)",
            "01632 960001", ["John Radcliffe Hospital", "Headley Way", "Headington"], "Oxford", "Oxfordshire", "OX3 9DU"));
        Put(Org(CommunityTrustId, "Coventry and Warwickshire Partnership NHS Trust", "prov", "Healthcare Provider",
            "NHS Trust (community and mental health)", "01632 960002", ["Wayside House", "Wilsons Lane"], "Coventry", "West Midlands", "CV6 6NY"));
        Put(Org(CouncilId, "Stockton-on-Tees Borough Council Adult Social Care", "govt", "Government", "Local Authority",
            "01632 960003", ["Municipal Buildings", "Church Road"], "Stockton-on-Tees", "Cleveland", "TS18 1LD"));

        Put(Site(JohnRadcliffeLocationId, "John Radcliffe Hospital", hospital: true, AcuteTrustId, ["Headley Way", "Headington"], "Oxford", "OX3 9DU"));
        Put(Site(ChurchillLocationId, "Churchill Hospital", hospital: true, AcuteTrustId, ["Old Road", "Headington"], "Oxford", "OX3 7LE"));
        Put(Site(CityOfCoventryHealthCentreLocationId, "City of Coventry Health Centre", hospital: false, CommunityTrustId, ["2 Stoney Stanton Road"], "Coventry", "CV1 4FS"));

        foreach (var staff in Staff)
        {
            Put(new Practitioner
            {
                Id = staff.Id,
                Identifier = [new Identifier(SdsUserIdSystem, staff.SdsUserId)],
                Active = true,
                Name = [new HumanName { Use = HumanName.NameUse.Official, Family = staff.Family, Given = [staff.Given], Prefix = staff.Prefix is null ? [] : [staff.Prefix] }],
                Gender = staff.Gender,
                Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, staff.Phone)],
            });
        }

        foreach (var staff in Staff)
        {
            Put(new PractitionerRole
            {
                Id = RoleId(staff.Id),
                Active = true,
                Practitioner = new ResourceReference($"Practitioner/{staff.Id}", staff.Display),
                Organization = OrganizationReference(staff.OrganizationId),
                Code = [Concept(staff.Occupation, staff.JobTitle), SdsJobRole(staff.Occupation)],
                Specialty = staff.Specialty is null ? [] : [Concept(staff.Specialty)],
                Location = staff.LocationId is null ? [] : [new ResourceReference($"Location/{staff.LocationId}")],
                Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, staff.Phone)],
            });
        }

        foreach (var agreement in Agreements())
        {
            Put(agreement);
        }

        foreach (var entry in EndpointsAndServices())
        {
            Put(entry);
        }

        return bundle;
    }

    private static Organization Org(string ods, string name, string typeCode, string typeDisplay, string typeText, string phone,
        string[] lines, string city, string county, string postcode) => new()
    {
        Id = ods,
        Identifier = [new Identifier(OdsOrganizationCodeSystem, ods)],
        Active = true,
        Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/organization-type", typeCode, typeDisplay, typeText)],
        Name = name,
        Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, phone)],
        Address = [new Address { Use = Address.AddressUse.Work, Line = lines, City = city, District = county, PostalCode = postcode, Country = "GB" }],
    };

    private static Location Site(string id, string name, bool hospital, string organizationId, string[] lines, string city, string postcode) => new()
    {
        Id = id,
        Status = Location.LocationStatus.Active,
        Name = name,
        Mode = Location.LocationMode.Instance,
        Type = hospital ? [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "HOSP", "Hospital", text: null)] : [],
        Address = new Address { Use = Address.AddressUse.Work, Line = lines, City = city, PostalCode = postcode, Country = "GB" },
        ManagingOrganization = OrganizationReference(organizationId),
    };

    internal sealed record StaffMember(
        string Id, string SdsUserId, string? Prefix, string Given, string Family, AdministrativeGender Gender, string OrganizationId,
        Term Occupation, string JobTitle, Term? Specialty, string? LocationId, string Phone)
    {
        public string Display => Prefix is null ? $"{Given} {Family}" : $"{Prefix} {Given} {Family}";
    }

    // SDS user ids are twelve digits; these are invented.
    internal static readonly StaffMember[] Staff =
    [
        new(GpSmithId, "100000000001", "Dr", "Helen", "Smith", AdministrativeGender.Female, GpPracticeId,
            GeneralPractitionerOccupation, "General practitioner", GeneralPracticeSpecialty, null, "01632 960101"),
        new(GpKhanId, "100000000002", "Dr", "Imran", "Khan", AdministrativeGender.Male, GpPracticeId,
            GeneralPractitionerOccupation, "General practitioner", GeneralPracticeSpecialty, null, "01632 960102"),
        new(GpOConnorId, "100000000003", "Dr", "Siobhan", "O'Connor", AdministrativeGender.Female, GpPracticeId,
            GeneralPractitionerOccupation, "General practitioner", GeneralPracticeSpecialty, null, "01632 960103"),
        new(DrAhmedId, "100000000004", "Dr", "Farah", "Ahmed", AdministrativeGender.Female, AcuteTrustId,
            MedicalPractitionerOccupation, "Hospital doctor", InternalMedicineSpecialty, JohnRadcliffeLocationId, "01632 960104"),
        new(DrWilsonId, "100000000005", "Dr", "James", "Wilson", AdministrativeGender.Male, AcuteTrustId,
            MedicalPractitionerOccupation, "Hospital doctor", InternalMedicineSpecialty, ChurchillLocationId, "01632 960105"),
        new(NurseJonesId, "100000000006", null, "Rhian", "Jones", AdministrativeGender.Female, CommunityTrustId,
            RegisteredNurseOccupation, "Community nurse", null, CityOfCoventryHealthCentreLocationId, "01632 960106"),
        new(SwPatelId, "100000000007", null, "Priya", "Patel", AdministrativeGender.Female, CouncilId,
            SocialWorkerOccupation, "Social worker", null, null, "01632 960107"),
    ];

    internal static StaffMember StaffById(string id) => Array.Find(Staff, s => s.Id == id)!;

    internal static ResourceReference OrganizationReference(string id) => new($"Organization/{id}", id switch
    {
        GpPracticeId => "The Densham Surgery",
        OtherPracticeId => "Marsh Lane Surgery",
        AcuteTrustId => "Oxford University Hospitals NHS Foundation Trust",
        CommunityTrustId => "Coventry and Warwickshire Partnership NHS Trust",
        _ => "Stockton-on-Tees Borough Council Adult Social Care",
    });

    internal static ResourceReference PractitionerReference(string id) => new($"Practitioner/{id}", StaffById(id).Display);

    internal static CodeableConcept Concept(Term code, string? text = null) =>
        new(code.System, code.Value, code.Display, text);
}

/// <summary>A demo login and the directory entries behind it.</summary>
public sealed record DemoUser(string UserName, string PractitionerId, string PractitionerRoleId, string OrganizationId, string Role, string RoleCode);

/// <summary>
/// One generated patient and the organisations that have a care relationship with them, so that access
/// rules can be shown allowing and denying. One patient in ten is registered with another practice
/// (<see cref="DemoCommunity.OtherPracticeId"/>), one in twenty has opted out of sharing, and a quarter of
/// those in social care have not recorded consent to share with the council.
/// </summary>
public sealed record DemoPatient(int Index, string NhsNumber, string FullUrl, bool AcuteCare, bool CommunityCare, bool SocialCare)
{
    /// <summary>The GP practice the patient is registered with.</summary>
    public string Practice { get; init; } = DemoCommunity.GpPracticeId;

    /// <summary>The patient has a Consent denying sharing (a local opt-out).</summary>
    public bool OptedOut { get; init; }

    /// <summary>The patient in social care has recorded explicit consent to share with the council.</summary>
    public bool SocialCareConsent { get; init; }

    /// <summary>Organisation ids (= ODS codes) with a relationship to the patient, the GP practice first.</summary>
    public IReadOnlyList<string> OrganizationIds =>
    [
        Practice,
        .. AcuteCare ? [DemoCommunity.AcuteTrustId] : Array.Empty<string>(),
        .. CommunityCare ? [DemoCommunity.CommunityTrustId] : Array.Empty<string>(),
        .. SocialCare ? [DemoCommunity.CouncilId] : Array.Empty<string>(),
    ];
}
