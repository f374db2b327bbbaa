using CareHub.Fhir;
using CareHub.Identity.Matching;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity.Matching;

/// <summary>Matching reads candidates from their stored JSON; it must see exactly what the Firely-based mapper sees.</summary>
public sealed class PatientJsonMapperTests
{
    [Fact]
    public void reads_the_synthea_patients_as_the_firely_mapper_does()
    {
        var folder = SharedData.Require("synthea");
        var compared = 0;
        foreach (var file in Directory.GetFiles(folder, "*.json"))
        {
            var bundle = (Bundle)FhirSerialization.Parse(File.ReadAllText(file), FhirFormat.Json);
            foreach (var patient in bundle.Entry.Select(e => e.Resource).OfType<Patient>())
            {
                AssertSameReading(patient);
                compared++;
            }
        }

        Assert.True(compared > 0, "the synthea folder held no Patient");
    }

    [Fact]
    public void applies_the_same_rules_for_names_addresses_telecoms_and_merges()
    {
        var patient = new Patient
        {
            Id = "p1",
            Identifier =
            [
                new Identifier("https://example.org/mrn", "M1"),
                new Identifier("https://fhir.nhs.uk/Id/nhs-number", "9434765919"),
            ],
            Name =
            [
                new HumanName { Use = HumanName.NameUse.Maiden, Family = "Jones", Given = ["Sarah"] },
                new HumanName { Use = HumanName.NameUse.Official, Family = "Ended", Given = ["Old"], Period = new Period { End = "2001" } },
                new HumanName { Use = HumanName.NameUse.Usual, Family = "Smith", Given = ["Sarah", "Jane"] },
                new HumanName { Given = [" "] },
            ],
            Gender = AdministrativeGender.Unknown,
            BirthDate = "1970-08",
            Address =
            [
                new Address { Use = Address.AddressUse.Old, PostalCode = "LS1 1AA" },
                new Address { Use = Address.AddressUse.Temp, PostalCode = "LS2 2BB", City = "Leeds", Line = ["1 Temp Road"] },
                new Address { Use = Address.AddressUse.Work, PostalCode = "LS3 3CC", City = "Leeds", Line = ["2 Work Street", "Unit 4"] },
            ],
            Telecom =
            [
                new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Old, "0113 000 0000"),
                new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Home, "0113 111 1111") { Rank = 2 },
                new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, "07700 900123") { Rank = 1 },
                new ContactPoint(ContactPoint.ContactPointSystem.Email, null, "sarah@example.org") { Period = new Period { End = "2099-01-01" } },
            ],
            Link = [new Patient.LinkComponent { Type = Patient.LinkType.ReplacedBy, Other = new ResourceReference("Patient/p2") }],
        };
        // A given name present only as an extension (null in the JSON array) is no name.
        patient.Name[2].GivenElement.Add(new FhirString { Extension = [new Extension("https://example.org/x", new FhirString("y"))] });

        var (person, merged) = AssertSameReading(patient);

        Assert.True(merged);
        Assert.Equal("Smith", person.FamilyName);
        Assert.Equal("LS3 3CC", person.Postcode);
        Assert.Equal("07700 900123", person.Phone);
    }

    private static (PersonRecord Person, bool Merged) AssertSameReading(Patient patient)
    {
        var expected = PatientMapper.ToPersonRecord(patient, "carehub");
        var (actual, merged) = PatientJsonMapper.Read(FhirSerialization.ToJson(patient), "carehub");

        Assert.Equal(expected.LocalId, actual.LocalId);
        Assert.Equal(expected.NhsNumber, actual.NhsNumber);
        Assert.Equal(expected.GivenNames, actual.GivenNames);
        Assert.Equal(expected.FamilyName, actual.FamilyName);
        Assert.Equal(expected.OtherNames.Select(n => (string.Join(" ", n.GivenNames), n.FamilyName)), actual.OtherNames.Select(n => (string.Join(" ", n.GivenNames), n.FamilyName)));
        Assert.Equal(expected.BirthDate, actual.BirthDate);
        Assert.Equal(expected.Sex, actual.Sex);
        Assert.Equal(expected.Postcode, actual.Postcode);
        Assert.Equal(expected.AddressLines, actual.AddressLines);
        Assert.Equal(expected.Town, actual.Town);
        Assert.Equal(expected.Phone, actual.Phone);
        Assert.Equal(expected.Email, actual.Email);
        Assert.Equal(patient.Link.Any(l => l.Type == Patient.LinkType.ReplacedBy), merged);
        return (actual, merged);
    }
}
