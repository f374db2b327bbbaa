using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

public class ComparatorTests
{
    private static readonly PersonMatcher Matcher = new();

    private static PersonRecord Person(string? given = "Amelia", string? family = "Alexander", string? dob = "1983-05-19") =>
        new("test", Guid.NewGuid().ToString())
        {
            GivenNames = given is null ? [] : [given],
            FamilyName = family,
            BirthDate = dob is not null && PartialDate.TryParse(dob, out var d) ? d : null,
        };

    private static ComparisonLevel? Level(PersonRecord a, PersonRecord b, MatchField field) =>
        Matcher.Compare(a, b).Fields.Single(f => f.Field == field).Level;

    [Theory]
    [InlineData("1983-05-19", ComparisonLevel.BirthDateExact)]
    [InlineData("1983-19-05", null)]
    [InlineData("1983-07-05", ComparisonLevel.BirthDateDifferent)]
    [InlineData("1983-05-18", ComparisonLevel.BirthDateOneDigit)]
    [InlineData("1988-05-19", ComparisonLevel.BirthDateOneDigit)]
    [InlineData("1984-05-19", ComparisonLevel.BirthDateOneDigit)]
    [InlineData("1983-05", ComparisonLevel.BirthDatePartialAgrees)]
    [InlineData("1983", ComparisonLevel.BirthDatePartialAgrees)]
    [InlineData("1982", ComparisonLevel.BirthDateDifferent)]
    public void compares_birth_dates_by_kind_of_error(string dob, ComparisonLevel? expected)
    {
        var other = PartialDate.TryParse(dob, out var d) ? (PartialDate?)d : null;
        Assert.Equal(expected, Comparators.BirthDate(PartialDate.Of(1983, 5, 19), other));
    }

    [Fact]
    public void recognises_day_and_month_swapped()
    {
        Assert.Equal(ComparisonLevel.BirthDateDayMonthTransposed, Comparators.BirthDate(PartialDate.Of(1983, 5, 7), PartialDate.Of(1983, 7, 5)));
        Assert.Equal(ComparisonLevel.BirthDateYearOffByOne, Comparators.BirthDate(PartialDate.Of(1989, 12, 7), PartialDate.Of(1990, 12, 7)));
    }

    [Theory]
    [InlineData("Amelia", ComparisonLevel.GivenNameExact)]
    [InlineData("amélia", ComparisonLevel.GivenNameExact)]
    [InlineData("Amelai", ComparisonLevel.GivenNameSimilar)]
    [InlineData("A", ComparisonLevel.GivenNameInitial)]
    [InlineData("A.", ComparisonLevel.GivenNameInitial)]
    [InlineData("Zoe", ComparisonLevel.GivenNameDifferent)]
    public void compares_forenames(string given, ComparisonLevel expected) =>
        Assert.Equal(expected, Level(Person(), Person(given: given), MatchField.GivenName));

    [Fact]
    public void gives_spelling_variants_the_phonetic_level()
    {
        Assert.Equal(ComparisonLevel.FamilyNamePhonetic, Level(Person(family: "Knuth"), Person(family: "Nath"), MatchField.FamilyName));
    }

    [Fact]
    public void counts_a_middle_name_used_as_the_forename()
    {
        var formal = Person() with { GivenNames = ["Mary", "Louise"] };
        Assert.Equal(ComparisonLevel.GivenNameOtherName, Level(formal, Person(given: "Louise"), MatchField.GivenName));
    }

    [Fact]
    public void matches_one_part_of_a_hyphenated_family_name()
    {
        Assert.Equal(ComparisonLevel.FamilyNamePartOrPrevious, Level(Person(family: "Smith-Jones"), Person(family: "Jones"), MatchField.FamilyName));
        Assert.Equal(ComparisonLevel.FamilyNameExact, Level(Person(family: "Smith-Jones"), Person(family: "Smith Jones"), MatchField.FamilyName));
    }

    [Fact]
    public void matches_a_previous_family_name()
    {
        var married = Person(family: "Khan") with { OtherNames = [new PersonName([], "Alexander")] };
        Assert.Equal(ComparisonLevel.FamilyNamePartOrPrevious, Level(married, Person(), MatchField.FamilyName));
    }

    [Fact]
    public void compares_given_and_family_names_crosswise_when_they_were_swapped()
    {
        var result = Matcher.Compare(Person(), Person(given: "Alexander", family: "Amelia"));
        Assert.True(result.NamesSwapped);
        Assert.Equal(ComparisonLevel.GivenNameExact, result.Fields.Single(f => f.Field == MatchField.GivenName).Level);
        Assert.Equal(ComparisonLevel.FamilyNameExact, result.Fields.Single(f => f.Field == MatchField.FamilyName).Level);

        var notSwapped = Matcher.Compare(Person(), Person(given: "Amelia", family: "Alexandra"));
        Assert.False(notSwapped.NamesSwapped);
    }

    [Theory]
    [InlineData("LS1 4AP", ComparisonLevel.PostcodeFull)]
    [InlineData("ls14ap", ComparisonLevel.PostcodeFull)]
    [InlineData("LS1 3EX", ComparisonLevel.PostcodeOutward)]
    [InlineData("LS11 4AP", ComparisonLevel.PostcodeDifferent)]
    public void compares_postcodes_in_full_or_by_outward_code(string other, ComparisonLevel expected) =>
        Assert.Equal(expected, Level(Person() with { Postcode = "LS1 4AP" }, Person() with { Postcode = other }, MatchField.Postcode));

    [Fact]
    public void compares_nhs_numbers_that_failed_the_check_by_keying_error()
    {
        // 9434765919 is valid; 9434765910 and 9434769519 are one digit and one transposition away.
        Assert.Equal(ComparisonLevel.NhsNumberOneEdit, Comparators.NhsNumber("9434765919", "9434765910"));
        Assert.Equal(ComparisonLevel.NhsNumberOneEdit, Comparators.NhsNumber("9434765919", "9434769519"));
        Assert.Equal(ComparisonLevel.NhsNumberDifferent, Comparators.NhsNumber("9434765919", "1234567890"));
        Assert.Null(Comparators.NhsNumber("9434765919", ""));
    }

    [Fact]
    public void compares_phones_emails_and_addresses_after_normalising()
    {
        var a = Person() with
        {
            Phone = "+44 (0)113 496 0000",
            Email = "Amelia.Alexander@Example.org ",
            AddressLines = ["12 Acacia Avenue", "Headingley"],
            Town = "Leeds",
        };
        var b = Person() with
        {
            Phone = "0113 4960000",
            Email = "amelia.alexander@example.com",
            AddressLines = ["12 Acacia Avenu", "Headingly"],
            Town = "LEEDS",
        };
        var result = Matcher.Compare(a, b);
        Assert.Equal(ComparisonLevel.PhoneExact, result.Fields.Single(f => f.Field == MatchField.Phone).Level);
        Assert.Equal(ComparisonLevel.EmailSimilar, result.Fields.Single(f => f.Field == MatchField.Email).Level);
        Assert.Equal(ComparisonLevel.AddressMostTokens, result.Fields.Single(f => f.Field == MatchField.Address).Level);
        Assert.Equal(ComparisonLevel.TownExact, result.Fields.Single(f => f.Field == MatchField.Town).Level);

        var moved = Matcher.Compare(a, b with { AddressLines = ["3 Station Road", "Horsforth"] });
        Assert.Equal(ComparisonLevel.AddressDifferent, moved.Fields.Single(f => f.Field == MatchField.Address).Level);
    }

    [Fact]
    public void treats_a_missing_value_as_no_evidence()
    {
        var result = Matcher.Compare(Person(), Person(dob: null));
        var birthDate = result.Fields.Single(f => f.Field == MatchField.BirthDate);
        Assert.Null(birthDate.Level);
        Assert.Equal(FieldAgreement.Missing, birthDate.Agreement);
        Assert.Equal(0, birthDate.Weight);
    }

    [Fact]
    public void every_level_belongs_to_the_field_named_in_it()
    {
        foreach (var level in ComparisonLevels.All)
        {
            Assert.StartsWith(ComparisonLevels.FieldOf(level).ToString(), level.ToString(), StringComparison.Ordinal);
        }
    }
}
