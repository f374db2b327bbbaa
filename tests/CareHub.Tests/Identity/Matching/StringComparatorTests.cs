using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

public class JaroWinklerTests
{
    // Winkler's published examples (also in Wikipedia's "Jaro-Winkler distance").
    [Theory]
    [InlineData("MARTHA", "MARHTA", 0.961)]
    [InlineData("DWAYNE", "DUANE", 0.840)]
    [InlineData("DIXON", "DICKSONX", 0.813)]
    public void matches_the_published_values(string a, string b, double expected)
    {
        Assert.Equal(expected, JaroWinkler.Similarity(a, b), 0.0005);
        Assert.Equal(expected, JaroWinkler.Similarity(b, a), 0.0005);
    }

    [Fact]
    public void jaro_alone_has_no_prefix_bonus()
    {
        Assert.Equal(0.944, JaroWinkler.Jaro("MARTHA", "MARHTA"), 0.0005);
        Assert.Equal(0.767, JaroWinkler.Jaro("DIXON", "DICKSONX"), 0.0005);
    }

    [Theory]
    [InlineData("SMITH", "SMITH", 1.0)]
    [InlineData("", "", 1.0)]
    [InlineData("ABC", "", 0.0)]
    [InlineData("ABC", "XYZ", 0.0)]
    public void handles_equal_empty_and_disjoint_strings(string a, string b, double expected) =>
        Assert.Equal(expected, JaroWinkler.Similarity(a, b), 1e-9);
}

public class NysiisTests
{
    // Examples of dropby.com's NYSIIS page and of "Data Quality and Record Linkage Techniques"
    // (Herzog, Scheuren and Winkler, 2007), as collected by Apache Commons Codec's tests.
    [Theory]
    [InlineData("MACINTOSH", "MCANT")]
    [InlineData("KNUTH", "NAT")]
    [InlineData("KOEHN", "CAN")]
    [InlineData("PHILLIPSON", "FALAPSAN")]
    [InlineData("PFEISTER", "FASTAR")]
    [InlineData("SCHOENHOEFT", "SANAFT")]
    [InlineData("MCKEE", "MCY")]
    [InlineData("MACKIE", "MCY")]
    [InlineData("HEITSCHMIDT", "HATSNAD")]
    [InlineData("BART", "BAD")]
    [InlineData("HURD", "HAD")]
    [InlineData("HUNT", "HAD")]
    [InlineData("WESTERLUND", "WASTARLAD")]
    [InlineData("CASSTEVENS", "CASTAFAN")]
    [InlineData("VASQUEZ", "VASG")]
    [InlineData("FRAZIER", "FRASAR")]
    [InlineData("BOWMAN", "BANAN")]
    [InlineData("MCKNIGHT", "MCNAGT")]
    [InlineData("RICKERT", "RACAD")]
    [InlineData("DEUTSCH", "DAT")]
    [InlineData("WESTPHAL", "WASTFAL")]
    [InlineData("SHRIVER", "SRAVAR")]
    [InlineData("KUHL", "CAL")]
    [InlineData("RAWSON", "RASAN")]
    [InlineData("JILES", "JAL")]
    [InlineData("CARRAWAY", "CARY")]
    [InlineData("YAMADA", "YANAD")]
    [InlineData("O'Daniel", "ODANAL")]
    [InlineData("O'Donnel", "ODANAL")]
    [InlineData("Schmidt", "SNAD")]
    [InlineData("Trueman", "TRANAN")]
    [InlineData("FUZZY", "FASY")]
    public void encodes_the_published_examples(string name, string code) => Assert.Equal(code, Nysiis.Encode(name));

    [Theory]
    [InlineData("BRAN", "Brian", "Brown", "Brun")]
    [InlineData("CAP", "Capp", "Cope", "Copp", "Kipp")]
    [InlineData("DAN", "Dane", "Dean", "Dionne")]
    [InlineData("SNAT", "Smith", "Schmit")]
    [InlineData("CARY", "Cory", "Corey", "Kory")]
    public void gives_names_that_sound_alike_one_code(string code, params string[] names)
    {
        foreach (var name in names)
        {
            Assert.Equal(code, Nysiis.Encode(name));
        }
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData("-- '", "")]
    public void gives_nothing_for_no_letters(string? name, string code) => Assert.Equal(code, Nysiis.Encode(name));
}

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
