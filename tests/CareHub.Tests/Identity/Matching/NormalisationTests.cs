using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

public class NormalisationTests
{
    [Theory]
    [InlineData("ls1 4ap", "LS14AP", "LS1")]
    [InlineData(" SW1A 1AA ", "SW1A1AA", "SW1A")]
    [InlineData("m11ae", "M11AE", "M1")]
    [InlineData("EC1A-1BB", "EC1A1BB", "EC1A")]
    [InlineData("B33 8TH", "B338TH", "B33")]
    public void splits_uk_postcodes_into_the_outward_code(string input, string normalised, string outward)
    {
        Assert.Equal(normalised, UkPostcode.Normalise(input));
        Assert.True(UkPostcode.TrySplit(normalised, out var actual));
        Assert.Equal(outward, actual);
    }

    [Theory]
    [InlineData("4011")]
    [InlineData("LS1")]
    [InlineData("12345AB")]
    [InlineData("LS1 4A1")]
    public void does_not_split_what_is_not_a_uk_postcode(string input) =>
        Assert.False(UkPostcode.TrySplit(UkPostcode.Normalise(input), out _));

    [Theory]
    [InlineData("0113 496 0000", "01134960000")]
    [InlineData("+44 113 496 0000", "01134960000")]
    [InlineData("+44 (0)113 496 0000", "01134960000")]
    [InlineData("0044 7700 900123", "07700900123")]
    [InlineData("447700900123", "07700900123")]
    [InlineData("+1 202 555 0100", "12025550100")]
    [InlineData("ext 12", "")]
    public void reduces_uk_phone_numbers_to_the_national_form(string input, string expected) =>
        Assert.Equal(expected, UkPhoneNumber.Normalise(input));

    [Theory]
    [InlineData("1983-05-19", 1983, 5, 19)]
    [InlineData("19830519", 1983, 5, 19)]
    [InlineData("1983-05", 1983, 5, null)]
    [InlineData("1983", 1983, null, null)]
    [InlineData("1983-05-19T10:00:00Z", 1983, 5, 19)]
    public void reads_full_and_partial_dates(string text, int year, int? month, int? day)
    {
        Assert.True(PartialDate.TryParse(text, out var date));
        Assert.Equal(PartialDate.Of(year, month, day), date);
    }

    [Theory]
    [InlineData("1983-02-30")]
    [InlineData("1983-13")]
    [InlineData("83-05-19")]
    [InlineData("19830532")]
    [InlineData("")]
    public void rejects_what_is_not_a_date(string text) => Assert.False(PartialDate.TryParse(text, out _));
}
