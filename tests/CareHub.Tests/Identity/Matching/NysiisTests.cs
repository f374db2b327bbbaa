using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

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
