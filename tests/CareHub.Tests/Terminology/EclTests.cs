using CareHub.Terminology.Snomed;

namespace CareHub.Tests.Terminology;

/// <summary>The ECL parser: the subset it accepts, and syntax errors with the position of the problem.</summary>
public sealed class EclTests
{
    [Theory]
    [InlineData("73211009", "SELECT 73211009 AS id")]
    [InlineData("<< 73211009 |Diabetes mellitus|", "UNION")]
    [InlineData("<!73211009", "sct_relationship")]
    [InlineData(">> 73211009", "descendant_id IN (73211009)")]
    [InlineData("^ 991000000000100", "refset_id IN (991000000000100)")]
    [InlineData("<< 73211009 MINUS << 44054006", "EXCEPT")]
    [InlineData("(<< 73211009 OR << 22298006) AND ^ 991000000000100", "INTERSECT")]
    [InlineData("<< 404684003 : << 363698007 = << 123037004", "type_id IN")]
    [InlineData("<< 404684003 : 363698007 = 80891009, 116676008 != *", "NOT IN")]
    [InlineData("/* diabetes */ << 73211009 /* and below */", "ancestor_id IN (73211009)")]
    [InlineData("< *", "SELECT id FROM sct_concept")]
    public void parses_the_supported_subset(string expression, string sql) =>
        Assert.Contains(sql, EclSql.Compile(Ecl.Parse(expression)), StringComparison.Ordinal);

    [Theory]
    [InlineData("<< 73211009 AND", 16, "expression ended")]
    [InlineData("<< 73211009 AND << 1234567 OR 22298006", 28, "without parentheses")]
    [InlineData("<< 7321", 4, "not an SCTID")]
    [InlineData("<< 73211009 : { 363698007 = * }", 15, "attribute groups")]
    [InlineData("(<< 73211009", 13, "expected ')'")]
    [InlineData("<< 73211009 |Diabetes", 13, "not closed")]
    [InlineData("<< 73211009 : 363698007 < 1234567", 25, "expected '='")]
    [InlineData("<< 73211009 )", 13, "unexpected ')'")]
    [InlineData("diabetes", 1, "expected a concept id")]
    public void a_syntax_error_names_its_position(string expression, int position, string problem)
    {
        var error = Assert.Throws<EclSyntaxException>(() => Ecl.Parse(expression));

        Assert.Equal(position, error.Position);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"ECL syntax error at position {position}:", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://snomed.info/sct?fhir_vs", "SELECT id FROM sct_concept")]
    [InlineData("http://snomed.info/sct?fhir_vs=isa/73211009", "ancestor_id IN (73211009)")]
    [InlineData("http://snomed.info/sct?fhir_vs=refset/991000000000100", "refset_id IN (991000000000100)")]
    [InlineData("http://snomed.info/sct?fhir_vs=refset", "DISTINCT refset_id")]
    [InlineData("http://snomed.info/sct?fhir_vs=ecl/%3C%3C73211009%20MINUS%2044054006", "EXCEPT")]
    [InlineData("http://snomed.info/sct/999000011000000103/version/20250401?fhir_vs=isa/73211009", "ancestor_id IN (73211009)")]
    public void reads_implicit_value_set_urls(string url, string sql) =>
        Assert.Contains(sql, EclSql.Compile(Snomed.ImplicitValueSet(url)!), StringComparison.Ordinal);

    [Theory]
    [InlineData("http://snomed.info/sct")]
    [InlineData("http://snomed.info/sctx?fhir_vs")]
    [InlineData("http://example.org/vs?fhir_vs=isa/73211009")]
    public void other_urls_are_not_implicit_value_sets(string url) => Assert.Null(Snomed.ImplicitValueSet(url));
}
