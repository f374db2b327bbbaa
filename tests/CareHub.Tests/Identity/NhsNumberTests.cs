using CareHub.Identity;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity;

public class NhsNumberTests
{
    [Theory]
    [InlineData("9912003890")]
    [InlineData("9000000015")]
    public void rejects_the_invalid_numbers_that_appear_in_official_examples(string trap)
    {
        Assert.False(NhsNumber.IsValid(trap));
        Assert.False(NhsNumber.TryParse(trap, out _));
    }

    [Fact]
    public void rejects_an_nhs_number_with_a_bad_check_digit()
    {
        Assert.True(NhsNumber.IsValid("9434765919"));
        Assert.False(NhsNumber.IsValid("9434765918"));
    }

    [Fact]
    public void treats_a_checksum_of_ten_as_no_possible_check_digit()
    {
        Assert.Equal(10, NhsNumber.CalculateChecksum("000000006"));
        for (var check = 0; check <= 9; check++)
        {
            Assert.False(NhsNumber.IsValid($"000000006{check}"));
        }
    }

    [Fact]
    public void reads_a_checksum_of_eleven_as_check_digit_zero()
    {
        // 9*10 + 8*9 + 7*8 + 6*7 + 5*6 + 4*5 + 3*4 + 2*3 + 1*2 = 330 = 30 * 11, so 11 - 0 = 11, read as 0.
        Assert.Equal(0, NhsNumber.CalculateChecksum("987654321"));
        Assert.True(NhsNumber.IsValid("9876543210"));
    }

    [Theory]
    [InlineData("943 476 5919")]
    [InlineData("943-476-5919")]
    [InlineData(" 9434765919\t")]
    public void parses_spaced_and_dashed_input_to_ten_digits(string input)
    {
        Assert.True(NhsNumber.TryParse(input, out var number));
        Assert.Equal("9434765919", number.Value);
        Assert.Equal("9434765919", number.ToString());
    }

    [Fact]
    public void formats_for_display_as_three_three_four()
    {
        Assert.Equal("943 476 5919", NhsNumber.Parse("9434765919").ToDisplayString());
    }

    [Fact]
    public void parse_of_an_invalid_number_throws_without_echoing_it()
    {
        var error = Assert.Throws<FormatException>(() => NhsNumber.Parse("9912003890"));
        Assert.DoesNotContain("9912003890", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void rejects_a_chi_number_whose_date_of_birth_is_not_a_calendar_date()
    {
        // Both have valid check digits: 31/02 and 29/02/01 never happened; 29/02/00 did (2000 was a leap year).
        Assert.False(NhsNumber.IsValid("3102990053"));
        Assert.False(NhsNumber.IsValid("2902010052"));
        Assert.True(NhsNumber.IsValid("2902000022"));
    }

    [Fact]
    public void knows_synthetic_numbers_from_numbers_issued_to_people()
    {
        Assert.True(NhsNumber.Parse("9434765919").IsSynthetic);
        Assert.False(NhsNumber.Parse("4000000632").IsSynthetic);
        Assert.Equal(NhsNumberRegion.EnglandWalesIsleOfMan, NhsNumber.Parse("4000000632").Region);
    }

    [Fact]
    public void the_default_value_holds_no_number()
    {
        NhsNumber none = default;
        Assert.Equal(string.Empty, none.ToString());
        Assert.Throws<InvalidOperationException>(() => none.Value);
        Assert.NotEqual(NhsNumber.Parse("9434765919"), none);
    }

    [Fact]
    public void equal_numbers_parsed_from_different_layouts_are_equal()
    {
        Assert.Equal(NhsNumber.Parse("943 476 5919"), NhsNumber.Parse("9434765919"));
        Assert.True(NhsNumber.Parse("943 476 5919") == NhsNumber.Parse("943-476-5919"));
        Assert.Equal(NhsNumber.Parse("9434765919").GetHashCode(), NhsNumber.Parse("943 476 5919").GetHashCode());
    }

    [Fact]
    public void synthetic_test_numbers_are_valid_ascending_and_in_the_999_block()
    {
        var numbers = NhsNumber.SyntheticTestNumbers().Take(500).ToList();

        Assert.Equal("9990000018", numbers[0].Value);
        Assert.All(numbers, n =>
        {
            Assert.True(NhsNumber.IsValid(n.Value));
            Assert.StartsWith("999", n.Value, StringComparison.Ordinal);
            Assert.True(n.IsSynthetic);
        });
        Assert.Equal(numbers.Select(n => n.Value).Order(StringComparer.Ordinal), numbers.Select(n => n.Value));
        Assert.Equal(numbers.Count, numbers.Distinct().Count());
    }

    [Fact]
    public void the_nth_synthetic_test_number_is_stable()
    {
        Assert.Equal(NhsNumber.SyntheticTestNumbers().ElementAt(241), NhsNumber.SyntheticTestNumber(241));
        Assert.Equal(NhsNumber.SyntheticTestNumber(7), NhsNumber.SyntheticTestNumber(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => NhsNumber.SyntheticTestNumber(-1));
    }

    [Fact]
    public void fhir_identifier_carries_the_system_and_the_uk_core_verification_status()
    {
        var identifier = NhsNumber.Parse("9434765919").ToFhirIdentifier();

        Assert.Equal("https://fhir.nhs.uk/Id/nhs-number", identifier.System);
        Assert.Equal("9434765919", identifier.Value);
        var extension = Assert.Single(identifier.Extension);
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus", extension.Url);
        var coding = Assert.Single(Assert.IsType<CodeableConcept>(extension.Value).Coding);
        Assert.Equal("https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", coding.System);
        Assert.Equal("01", coding.Code);
        Assert.Equal("Number present and verified", coding.Display);
        Assert.Equal("01", NhsNumberVerificationStatus.Of(identifier));
        Assert.True(NhsNumberVerificationStatus.IsVerified(NhsNumberVerificationStatus.Of(identifier)));
    }

    [Fact]
    public void verification_status_knows_codes_01_to_08_only()
    {
        Assert.Equal(["01", "02", "03", "04", "05", "06", "07", "08"], NhsNumberVerificationStatus.Displays.Keys);
        Assert.Equal("Trace required", NhsNumberVerificationStatus.ToCoding("03").Display);
        Assert.Throws<ArgumentException>(() => NhsNumberVerificationStatus.ToCoding("09"));
        Assert.Null(NhsNumberVerificationStatus.Of(NhsNumber.Parse("9434765919").ToFhirIdentifier(verificationStatus: null)));
    }
}
