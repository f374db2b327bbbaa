using System.Text.Json;
using System.Text.RegularExpressions;
using CareHub.Demo;
using CareHub.Identity;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Validation;

namespace CareHub.Tests.Demo;

public class DemoCommunityTests
{
    private static readonly DemoCommunityOptions Defaults = new();

    // Generated once: every test below only reads the bundles.
    private static readonly Lazy<IReadOnlyList<Bundle>> DefaultCommunity = new(() => DemoCommunity.Generate(Defaults));

    private static IReadOnlyList<Bundle> Community => DefaultCommunity.Value;

    private static IEnumerable<Bundle> PatientBundles => Community.Skip(1);

    private static readonly FhirJsonSerializer Serializer = new();

    [Fact]
    public void generates_the_directory_then_one_transaction_bundle_per_patient()
    {
        Assert.Equal(Defaults.Patients + 1, Community.Count);
        Assert.Equal(240, Defaults.Patients);
        Assert.All(Community, b => Assert.Equal(Bundle.BundleType.Transaction, b.Type));
        Assert.All(PatientBundles, b => Assert.Single(b.Entry, e => e.Resource is Patient));
    }

    [Fact]
    public void the_same_options_give_byte_identical_json()
    {
        var again = DemoCommunity.Generate(Defaults);

        Assert.Equal(Community.Count, again.Count);
        for (var i = 0; i < again.Count; i++)
        {
            Assert.Equal(Serializer.SerializeToString(Community[i]), Serializer.SerializeToString(again[i]));
        }
    }

    [Fact]
    public void another_seed_gives_other_people_under_the_same_nhs_numbers()
    {
        var other = DemoCommunity.Generate(Defaults with { Seed = 7, Patients = 12 });

        Assert.NotEqual(Serializer.SerializeToString(Community[1]), Serializer.SerializeToString(other[1]));
        Assert.Equal(DemoCommunity.NhsNumbers(Defaults).Take(12), DemoCommunity.NhsNumbers(Defaults with { Seed = 7, Patients = 12 }));
        Assert.Equal(Serializer.SerializeToString(Community[0]), Serializer.SerializeToString(other[0]));
    }

    [Fact]
    public void every_patient_has_a_valid_unique_synthetic_nhs_number_marked_verified()
    {
        var identifiers = PatientBundles.Select(b => b.Entry.Select(e => e.Resource).OfType<Patient>().Single())
            .Select(p => Assert.Single(p.Identifier, i => i.System == NhsNumber.IdentifierSystem))
            .ToList();

        Assert.All(identifiers, i =>
        {
            Assert.True(NhsNumber.TryParse(i.Value, out var number));
            Assert.True(number.IsSynthetic);
            Assert.StartsWith("999", i.Value, StringComparison.Ordinal);
            Assert.Equal(NhsNumberVerificationStatus.NumberPresentAndVerified, NhsNumberVerificationStatus.Of(i));
        });
        Assert.Equal(identifiers.Count, identifiers.Select(i => i.Value).Distinct().Count());
        Assert.Equal(DemoCommunity.NhsNumbers(Defaults), identifiers.Select(i => i.Value));
    }

    [Fact]
    public void every_resource_passes_firely_poco_validation()
    {
        foreach (var bundle in Community)
        {
            // Validating the Bundle walks into every entry's resource.
            var errors = bundle.Validate();
            Assert.True(errors.Count == 0, string.Join("; ", errors.Select(e => e.Message)));
        }
    }

    [Fact]
    public void poco_validation_reaches_resources_inside_a_bundle()
    {
        // Guards the test above: an Observation without its required status must be caught inside a Bundle.
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry = [new Bundle.EntryComponent { FullUrl = "urn:uuid:7e0e4c59-5bd4-4d5e-9b47-0c3f9e1b2a10", Resource = new Observation { Code = new CodeableConcept("http://loinc.org", "8867-4") } }],
        };

        Assert.NotEmpty(bundle.Validate());
    }

    [Fact]
    public void every_reference_resolves_in_its_bundle_or_to_the_directory()
    {
        var directory = Community[0].Entry.Select(e => $"{e.Resource!.TypeName}/{e.Resource.Id}").ToHashSet(StringComparer.Ordinal);
        foreach (var bundle in PatientBundles)
        {
            var fullUrls = bundle.Entry.Select(e => e.FullUrl).ToHashSet(StringComparer.Ordinal);
            var references = References(Serializer.SerializeToString(bundle)).ToList();

            Assert.NotEmpty(references);
            Assert.All(references, r => Assert.True(fullUrls.Contains(r) || directory.Contains(r), $"Unresolved reference {r}"));
        }

        Assert.All(References(Serializer.SerializeToString(Community[0])), r => Assert.Contains(r, directory));
    }

    [Fact]
    public void patient_entries_are_posted_once_per_nhs_number_and_the_rest_once_per_identifier()
    {
        foreach (var entry in PatientBundles.SelectMany(b => b.Entry))
        {
            Assert.Equal(Bundle.HTTPVerb.POST, entry.Request!.Method);
            Assert.Equal(entry.Resource!.TypeName, entry.Request.Url);
            Assert.StartsWith("urn:uuid:", entry.FullUrl, StringComparison.Ordinal);
            var expected = entry.Resource is Patient patient
                ? $"identifier=https://fhir.nhs.uk/Id/nhs-number|{patient.Identifier[0].Value}"
                : $"identifier=urn:ietf:rfc:3986|{entry.FullUrl}";
            Assert.Equal(expected, entry.Request.IfNoneExist);
        }
    }

    [Fact]
    public void directory_entries_are_put_under_fixed_ids_with_ods_and_sds_identifiers()
    {
        var entries = Community[0].Entry;
        Assert.All(entries, e =>
        {
            Assert.Equal(Bundle.HTTPVerb.PUT, e.Request!.Method);
            Assert.Equal($"{e.Resource!.TypeName}/{e.Resource.Id}", e.Request.Url);
        });

        var organizations = entries.Select(e => e.Resource).OfType<Organization>().ToList();
        Assert.Equal(["A81001", "A81002", "RTH", "RYG", "00K"], organizations.Select(o => o.Id));
        Assert.All(organizations, o => Assert.Equal(o.Id, Assert.Single(o.Identifier, i => i.System == "https://fhir.nhs.uk/Id/ods-organization-code").Value));
        Assert.Equal("The Densham Surgery", organizations[0].Name);
        Assert.Equal("TS18 1HU", organizations[0].Address[0].PostalCode);
        Assert.Equal("Marsh Lane Surgery", organizations[1].Name);
        Assert.Equal("Oxford University Hospitals NHS Foundation Trust", organizations[2].Name);
        Assert.Equal("Coventry and Warwickshire Partnership NHS Trust", organizations[3].Name);
        Assert.Equal("Local Authority", organizations[4].Type[0].Text);

        Assert.All(entries.Select(e => e.Resource).OfType<Practitioner>(), p =>
            Assert.Matches(@"^\d{12}$", Assert.Single(p.Identifier, i => i.System == "https://fhir.nhs.uk/Id/sds-user-id").Value));
    }

    [Fact]
    public void each_demo_user_is_a_practitioner_in_a_role_at_their_organisation()
    {
        var resources = Community[0].Entry.Select(e => e.Resource).ToList();

        Assert.Equal(["gp.smith", "dr.ahmed", "nurse.jones", "sw.patel"], DemoCommunity.Users.Select(u => u.UserName));
        foreach (var user in DemoCommunity.Users)
        {
            Assert.Single(resources.OfType<Practitioner>(), p => p.Id == user.PractitionerId);
            var role = Assert.Single(resources.OfType<PractitionerRole>(), r => r.Id == user.PractitionerRoleId);
            Assert.Equal($"Practitioner/{user.PractitionerId}", role.Practitioner?.Reference);
            Assert.Equal($"Organization/{user.OrganizationId}", role.Organization?.Reference);
        }

        Assert.Equal(("gp-smith", "A81001"), (DemoCommunity.Users[0].PractitionerId, DemoCommunity.Users[0].OrganizationId));
        Assert.Equal(("sw-patel", "00K"), (DemoCommunity.Users[3].PractitionerId, DemoCommunity.Users[3].OrganizationId));
    }

    [Fact]
    public void care_relationships_in_the_records_match_the_published_patient_list()
    {
        var patients = DemoCommunity.Patients(Defaults);
        var others = new[] { "RTH", "RYG", "00K" };

        foreach (var (bundle, patient) in PatientBundles.Zip(patients))
        {
            Assert.Equal(patient.FullUrl, Assert.Single(bundle.Entry, e => e.Resource is Patient).FullUrl);
            var json = Serializer.SerializeToString(bundle);
            var organisations = References(json).Where(r => r.StartsWith("Organization/", StringComparison.Ordinal))
                .Select(r => r["Organization/".Length..]).Intersect(others).Order(StringComparer.Ordinal);
            Assert.Equal(patient.OrganizationIds.Skip(1).Order(StringComparer.Ordinal), organisations);
        }

        Assert.Equal(40, patients.Count(p => p.OrganizationIds.Count == 1));
        Assert.Equal(120, patients.Count(p => p.AcuteCare));
        Assert.Equal(120, patients.Count(p => p.CommunityCare));
        Assert.Equal(80, patients.Count(p => p.SocialCare));
    }

    [Fact]
    public void social_care_patients_have_a_care_team_and_episode_with_the_social_worker()
    {
        foreach (var (bundle, patient) in PatientBundles.Zip(DemoCommunity.Patients(Defaults)).Where(p => p.Second.SocialCare))
        {
            var team = Assert.Single(bundle.Entry.Select(e => e.Resource).OfType<CareTeam>());
            Assert.Contains(team.Participant, p => p.Member?.Reference == "Practitioner/sw-patel");
            Assert.Contains(bundle.Entry.Select(e => e.Resource).OfType<EpisodeOfCare>(), e =>
                e.ManagingOrganization?.Reference == "Organization/00K" && e.CareManager?.Reference == "Practitioner/sw-patel");
            Assert.Equal(patient.FullUrl, team.Subject?.Reference);
        }
    }

    [Fact]
    public void each_patient_has_a_plausible_history()
    {
        var counts = PatientBundles.Select(b => b.Entry.Count).ToList();
        var all = PatientBundles.SelectMany(b => b.Entry.Select(e => e.Resource)).ToList();

        Assert.InRange(counts.Average(), 20, 40);
        Assert.InRange(counts.Min(), 12, 40);
        Assert.InRange(counts.Max(), 20, 70);
        Assert.Contains(all.OfType<Encounter>(), e => e.Status == Encounter.EncounterStatus.InProgress);
        Assert.Contains(all.OfType<Encounter>(), e => e.ServiceProvider?.Reference == "Organization/RTH" && e.Class?.Code == "IMP");
        Assert.Contains(all.OfType<Encounter>(), e => e.ServiceProvider?.Reference == "Organization/RYG" && e.Class?.Code == "HH");
        Assert.Contains(all.OfType<Condition>(), c => c.Code?.Coding[0].Code == "38341003");
        Assert.Contains(all.OfType<Condition>(), c => c.Code?.Coding[0].Code == "44054006");
        Assert.Contains(all.OfType<Observation>(), o => o.Code?.Coding[0].Code == "85354-9" && o.Component.Count == 2);
        Assert.Contains(all.OfType<Observation>(), o => o.Code?.Coding[0].Code == "59261-8");
        Assert.Contains(all.OfType<MedicationRequest>(), m => ((CodeableConcept)m.Medication).Coding[0] is { System: "https://dmd.nhs.uk", Code: "319283006" });
        Assert.NotEmpty(all.OfType<MedicationStatement>());
        Assert.NotEmpty(all.OfType<AllergyIntolerance>());
        Assert.All(all.OfType<Observation>(), o => Assert.All(
            Quantities(o), q => Assert.Equal("http://unitsofmeasure.org", q.System)));
    }

    [Fact]
    public void contact_details_use_ofcom_drama_numbers_and_real_looking_postcodes()
    {
        var patients = PatientBundles.SelectMany(b => b.Entry.Select(e => e.Resource)).OfType<Patient>().ToList();

        Assert.All(patients.SelectMany(p => p.Telecom), t => Assert.Matches(@"^(01632 960\d{3}|07700 900\d{3})$", t.Value));
        Assert.All(patients, p => Assert.Matches(@"^(TS(17|18|19|20|21|23)|OX[1-4]|CV[1-6]) [1-9][A-Z]{2}$", p.Address[0].PostalCode));
        // One patient in ten is registered at the other practice, so the GP's access can be shown denied.
        Assert.All(patients, p => Assert.Contains(p.GeneralPractitioner[0].Reference, (string[])["Organization/A81001", "Organization/A81002"]));
        Assert.Equal(24, patients.Count(p => p.GeneralPractitioner[0].Reference == "Organization/A81002"));
        Assert.True(patients.Select(p => p.Name[0].Family).Distinct().Count() > 40);
        Assert.Contains(patients, p => p.Gender == AdministrativeGender.Female);
        Assert.Contains(patients, p => p.Gender == AdministrativeGender.Male);
    }

    [Fact]
    public void nothing_happens_after_the_reference_date()
    {
        var options = Defaults with { ReferenceDate = new DateOnly(2024, 3, 15), Patients = 60 };
        var dates = new Regex(@"""(\d{4}-\d{2}-\d{2})(T[^""]*)?""", RegexOptions.None, TimeSpan.FromSeconds(5));

        foreach (var bundle in DemoCommunity.Generate(options).Skip(1))
        {
            foreach (Match match in dates.Matches(Serializer.SerializeToString(bundle)))
            {
                Assert.True(string.CompareOrdinal(match.Groups[1].Value, "2024-03-15") <= 0, $"{match.Value} is after the reference date");
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(DemoCommunityOptions.MaxPatients + 1)]
    public void rejects_a_patient_count_out_of_range(int patients)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => DemoCommunity.Generate(Defaults with { Patients = patients }));
        Assert.Equal("Patients", error.ParamName);
    }

    private static IEnumerable<Quantity> Quantities(Observation observation) =>
        observation.Component.Select(c => c.Value).Prepend(observation.Value).OfType<Quantity>();

    private static IEnumerable<string> References(string json)
    {
        using var document = JsonDocument.Parse(json);
        var found = new List<string>();
        Walk(document.RootElement, found);
        return found;

        static void Walk(JsonElement element, List<string> found)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (property.Name == "reference" && property.Value.ValueKind == JsonValueKind.String)
                        {
                            found.Add(property.Value.GetString()!);
                        }
                        else
                        {
                            Walk(property.Value, found);
                        }
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        Walk(item, found);
                    }

                    break;
            }
        }
    }
}
