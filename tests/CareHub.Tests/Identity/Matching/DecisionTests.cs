using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

public class DecisionTests
{
    // Valid numbers of the synthetic range that test data uses.
    private static readonly string First = CareHub.Identity.NhsNumber.SyntheticTestNumber(0).Value;
    private static readonly string Second = CareHub.Identity.NhsNumber.SyntheticTestNumber(1).Value;

    private static PersonRecord Person(string? nhs, string given, string family, string dob) => new("gp", given + family)
    {
        NhsNumber = nhs,
        GivenNames = [given],
        FamilyName = family,
        BirthDate = PartialDate.TryParse(dob, out var d) ? d : null,
        Sex = PersonSex.Female,
        Postcode = "LS1 4AP",
    };

    [Fact]
    public void links_the_same_valid_nhs_number_with_an_agreeing_birth_date_whatever_the_names()
    {
        var result = new PersonMatcher().Compare(Person(First, "Amelia", "Alexander", "1983-05-19"), Person(First, "Millie", "Khan", "1983-05-19"));
        Assert.Equal(MatchOutcome.Link, result.Outcome);
        Assert.Equal(MatchGrade.Certain, result.Grade);
        Assert.Equal(MatchRule.SameNhsNumberAndBirthDate, result.Rule);
    }

    [Fact]
    public void never_links_two_different_valid_nhs_numbers_even_with_identical_demographics()
    {
        var result = new PersonMatcher().Compare(Person(First, "Amelia", "Alexander", "1983-05-19"), Person(Second, "Amelia", "Alexander", "1983-05-19"));
        Assert.Equal(MatchOutcome.NoMatch, result.Outcome);
        Assert.Equal(MatchGrade.CertainlyNot, result.Grade);
        Assert.Equal(MatchRule.DifferentNhsNumbers, result.Rule);
        Assert.True(result.Weight > new PersonMatcher().Settings.AutoLinkWeight, "the demographics alone would have linked");
    }

    [Fact]
    public void queues_the_same_nhs_number_with_a_conflicting_birth_date_for_review_at_most()
    {
        var result = new PersonMatcher().Compare(Person(First, "Amelia", "Alexander", "1983-05-19"), Person(First, "Amelia", "Alexander", "1983-05-18"));
        Assert.Equal(MatchOutcome.Review, result.Outcome);
        Assert.Equal(MatchGrade.Probable, result.Grade);
        Assert.Equal(MatchRule.SameNhsNumberBirthDateConflict, result.Rule);
    }

    [Fact]
    public void scores_a_mistyped_nhs_number_probabilistically()
    {
        var mistyped = First[..9] + (char)('0' + ((First[9] - '0' + 1) % 10));
        Assert.False(CareHub.Identity.NhsNumber.IsValid(mistyped));
        var result = new PersonMatcher().Compare(Person(First, "Amelia", "Alexander", "1983-05-19"), Person(mistyped, "Amelia", "Alexander", "1983-05-19"));
        Assert.Equal(MatchRule.Probabilistic, result.Rule);
        Assert.Equal(ComparisonLevel.NhsNumberOneEdit, result.Fields.Single(f => f.Field == MatchField.NhsNumber).Level);
        Assert.Equal(MatchOutcome.Link, result.Outcome);
    }

    [Fact]
    public void weight_is_the_sum_of_log2_m_over_u_and_the_fields_say_what_agreed()
    {
        var settings = MatchSettings.Default;
        var result = new PersonMatcher(settings).Compare(Person(null, "Amelia", "Alexander", "1983-05-19"), Person(null, "Amelia", "Alexandra", "1983-05-19") with { Sex = PersonSex.Male });
        var expected = settings.Parameters.Weight(ComparisonLevel.GivenNameExact)
            + settings.Parameters.Weight(ComparisonLevel.FamilyNameSimilar)
            + settings.Parameters.Weight(ComparisonLevel.BirthDateExact)
            + settings.Parameters.Weight(ComparisonLevel.SexDifferent)
            + settings.Parameters.Weight(ComparisonLevel.PostcodeFull);
        Assert.Equal(expected, result.Weight, 1e-9);
        Assert.Equal(
            [MatchField.GivenName, MatchField.FamilyName, MatchField.BirthDate, MatchField.Postcode],
            result.Agreeing.Select(f => f.Field));
        Assert.Equal([MatchField.Sex], result.Differing.Select(f => f.Field));
        Assert.InRange(result.Probability, 0, 1);
    }

    [Fact]
    public void thresholds_decide_the_outcome_and_the_match_grade()
    {
        var a = Person(null, "Amelia", "Alexander", "1983-05-19");
        var b = Person(null, "Amelia", "Alexander", "1983-05-19");
        var weight = new PersonMatcher().Compare(a, b).Weight;

        (MatchOutcome, MatchGrade?) Decide(double auto, double review, double possible)
        {
            var r = new PersonMatcher(MatchSettings.Default with { AutoLinkWeight = auto, ReviewWeight = review, PossibleWeight = possible }).Compare(a, b);
            return (r.Outcome, r.Grade);
        }

        Assert.Equal((MatchOutcome.Link, MatchGrade.Certain), Decide(weight, weight - 1, weight - 2));
        Assert.Equal((MatchOutcome.Review, MatchGrade.Probable), Decide(weight + 1, weight, weight - 1));
        Assert.Equal((MatchOutcome.NoMatch, MatchGrade.Possible), Decide(weight + 2, weight + 1, weight));
        Assert.Equal((MatchOutcome.NoMatch, (MatchGrade?)null), Decide(weight + 3, weight + 2, weight + 1));
    }

    [Fact]
    public void overriding_m_and_u_changes_the_weight()
    {
        var a = Person(null, "Amelia", "Alexander", "1983-05-19");
        var before = new PersonMatcher().Compare(a, a).Weight;
        var parameters = MatchParameters.Default.With(ComparisonLevel.BirthDateExact, 0.9, 0.9);
        var after = new PersonMatcher(MatchSettings.Default with { Parameters = parameters }).Compare(a, a).Weight;
        Assert.Equal(before - MatchParameters.Default.Weight(ComparisonLevel.BirthDateExact), after, 1e-9);
        Assert.Throws<ArgumentOutOfRangeException>(() => MatchParameters.Default.With(ComparisonLevel.BirthDateExact, 0, 0.1));
    }

    [Fact]
    public void rejects_thresholds_out_of_order() =>
        Assert.Throws<ArgumentException>(() => new PersonMatcher(MatchSettings.Default with { ReviewWeight = 40 }));

    [Fact]
    public void ranks_candidates_for_match_by_grade_then_weight()
    {
        var probe = PreparedPerson.From(Person(null, "Amelia", "Alexander", "1983-05-19"));
        var candidates = new[]
        {
            Person(null, "Zoe", "Khan", "1950-01-01"),
            Person(null, "Amelia", "Alexandra", "1983-05-19"),
            Person(null, "Amelia", "Alexander", "1983-05-19"),
        }.Select(PreparedPerson.From);
        var ranked = new PersonMatcher().Rank(probe, candidates);
        Assert.Equal(2, ranked.Count);
        Assert.Equal("AmeliaAlexander", ranked[0].Right.LocalId);
        Assert.True(ranked[0].Weight > ranked[1].Weight);
    }
}
