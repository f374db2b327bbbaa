using CareHub.Identity.Matching;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity.Matching;

public class PatientMapperTests
{
    [Fact]
    public void reads_a_uk_core_patient()
    {
        var patient = new Patient
        {
            Id = "p1",
            Identifier =
            [
                new Identifier("https://fhir.example.org/mrn", "MRN123"),
                new Identifier(CareHub.Identity.NhsNumber.IdentifierSystem, "943 476 5919"),
            ],
            Name =
            [
                new HumanName { Use = HumanName.NameUse.Maiden, Family = "Alexander", Given = ["Amelia"] },
                new HumanName { Use = HumanName.NameUse.Official, Family = "Khan", Given = ["Amelia", "Rose"] },
                new HumanName { Use = HumanName.NameUse.Nickname, Given = ["Millie"] },
            ],
            Gender = AdministrativeGender.Female,
            BirthDate = "1983-05",
            Address =
            [
                new Address { Use = Address.AddressUse.Old, Line = ["1 Old Road"], City = "York", PostalCode = "YO1 7HH" },
                new Address { Use = Address.AddressUse.Home, Line = ["12 Acacia Avenue", "Headingley"], City = "Leeds", PostalCode = "LS6 3AA" },
            ],
            Telecom =
            [
                new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Old, "0113 000 0000"),
                new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, "07700 900123"),
                new ContactPoint(ContactPoint.ContactPointSystem.Email, ContactPoint.ContactPointUse.Home, "amelia@example.org"),
            ],
        };

        var record = PatientMapper.ToPersonRecord(patient, "RR8");

        Assert.Equal("RR8", record.SourceSystem);
        Assert.Equal("p1", record.LocalId);
        Assert.Equal("943 476 5919", record.NhsNumber);
        Assert.Equal(["Amelia", "Rose"], record.GivenNames);
        Assert.Equal("Khan", record.FamilyName);
        Assert.Equal(["Alexander", null], record.OtherNames.Select(n => n.FamilyName));
        Assert.Equal(PartialDate.Of(1983, 5), record.BirthDate);
        Assert.Equal(PersonSex.Female, record.Sex);
        Assert.Equal("LS6 3AA", record.Postcode);
        Assert.Equal(["12 Acacia Avenue", "Headingley"], record.AddressLines);
        Assert.Equal("Leeds", record.Town);
        Assert.Equal("07700 900123", record.Phone);
        Assert.Equal("amelia@example.org", record.Email);
        Assert.Equal(CareHub.Identity.NhsNumber.Parse("9434765919"), PreparedPerson.From(record).ValidNhsNumber);
    }

    [Fact]
    public void reads_a_patient_with_nothing_but_an_id()
    {
        var record = PatientMapper.ToPersonRecord(new Patient { Id = "p2" }, "RR8");
        Assert.Null(record.NhsNumber);
        Assert.Empty(record.GivenNames);
        Assert.Null(record.BirthDate);
        Assert.Null(PreparedPerson.From(record).ValidNhsNumber);
    }
}
