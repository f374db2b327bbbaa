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
