namespace CareHub.Identity.Matching;

/// <summary>
/// The matching engine: deterministic NHS Number rules first, then Fellegi-Sunter scoring, then the
/// thresholds of <see cref="MatchSettings"/>. Pure and thread-safe: it holds no state but its settings.
/// </summary>
public sealed class PersonMatcher
{
    private readonly double priorLogOdds;

    /// <exception cref="ArgumentException">The settings are invalid (see <see cref="MatchSettings.Validate"/>).</exception>
    public PersonMatcher(MatchSettings? settings = null)
    {
        Settings = settings ?? MatchSettings.Default;
        Settings.Validate();
        priorLogOdds = Math.Log2(Settings.PriorMatchProbability / (1 - Settings.PriorMatchProbability));
    }

    public MatchSettings Settings { get; }

    public MatchResult Compare(PersonRecord left, PersonRecord right) => Compare(PreparedPerson.From(left), PreparedPerson.From(right));

    public MatchResult Compare(PreparedPerson left, PreparedPerson right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);

        Span<ComparisonLevel?> levels = stackalloc ComparisonLevel?[Comparators.FieldCount];
        var swapped = Comparators.CompareAll(left, right, levels);
        var parameters = Settings.Parameters;
        var fields = new FieldComparison[Comparators.FieldCount];
        var weight = 0.0;
        for (var f = 0; f < Comparators.FieldCount; f++)
        {
            if (levels[f] is { } level)
            {
                var w = parameters.Weight(level);
                weight += w;
                fields[f] = new FieldComparison((MatchField)f, level, ComparisonLevels.AgreementOf(level), w);
            }
            else
            {
                fields[f] = new FieldComparison((MatchField)f, null, FieldAgreement.Missing, 0);
            }
        }

        var probability = 1 / (1 + Math.Pow(2, -(weight + priorLogOdds)));
        var (outcome, grade, rule) = Decide(left, right, levels[(int)MatchField.BirthDate], levels[(int)MatchField.GivenName], weight);
        return new MatchResult(left.Record, right.Record, outcome, grade, rule, weight, probability, swapped, fields);
    }

    /// <summary>
    /// Compares <paramref name="probe"/> with each candidate (typically those sharing a blocking key) and
    /// returns the graded ones, best first: the shape of a FHIR Patient $match response.
    /// </summary>
    public IReadOnlyList<MatchResult> Rank(PreparedPerson probe, IEnumerable<PreparedPerson> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        return candidates.Select(c => Compare(probe, c))
            .Where(r => r.Grade is not null)
            .OrderBy(r => r.Grade)
            .ThenByDescending(r => r.Weight)
            .ToArray();
    }

    /// <summary>Blocks, compares and scores a set of records against each other.</summary>
    public LinkageRun LinkAll(IReadOnlyList<PersonRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var people = records.Select(PreparedPerson.From).ToArray();
        var candidates = Blocking.CandidatePairs(people, Settings.Blocking);
        var results = new MatchResult[candidates.Pairs.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var (l, r) = candidates.Pairs[i];
            results[i] = Compare(people[l], people[r]);
        }

        return new LinkageRun(candidates, results);
    }

    private (MatchOutcome, MatchGrade?, MatchRule) Decide(PreparedPerson left, PreparedPerson right, ComparisonLevel? birthDate, ComparisonLevel? givenName, double weight)
    {
        // NHS Number first (handbook section 8: the MPI is "NHS Number first"): a valid number is issued
        // to one person only, so equality with an agreeing birth date is conclusive and difference excludes.
        if (left.ValidNhsNumber is { } a && right.ValidNhsNumber is { } b)
        {
            if (a != b)
            {
                return (MatchOutcome.NoMatch, MatchGrade.CertainlyNot, MatchRule.DifferentNhsNumbers);
            }

            if (birthDate is ComparisonLevel.BirthDateExact or ComparisonLevel.BirthDatePartialAgrees)
            {
                return (MatchOutcome.Link, MatchGrade.Certain, MatchRule.SameNhsNumberAndBirthDate);
            }

            if (birthDate is not null)
            {
                var (outcome, grade) = ByWeight(weight);
                return outcome == MatchOutcome.Link
                    ? (MatchOutcome.Review, MatchGrade.Probable, MatchRule.SameNhsNumberBirthDateConflict)
                    : (outcome, grade, MatchRule.SameNhsNumberBirthDateConflict);
            }
        }

        var (o, g) = ByWeight(weight);
        if (o == MatchOutcome.Link && givenName == ComparisonLevel.GivenNameDifferent)
        {
            // Twins, and other household members born the same day, share everything but the given name: the weight of
            // the rest can reach the link threshold, so a different given name is at most queued for a person to decide.
            return (MatchOutcome.Review, MatchGrade.Probable, MatchRule.GivenNameConflict);
        }

        return (o, g, MatchRule.Probabilistic);
    }

    private (MatchOutcome, MatchGrade?) ByWeight(double weight) =>
        weight >= Settings.AutoLinkWeight ? (MatchOutcome.Link, MatchGrade.Certain)
        : weight >= Settings.ReviewWeight ? (MatchOutcome.Review, MatchGrade.Probable)
        : weight >= Settings.PossibleWeight ? (MatchOutcome.NoMatch, MatchGrade.Possible)
        : (MatchOutcome.NoMatch, null);
}

/// <summary>The candidate pairs of a set of records and the result of each comparison, in the same order.</summary>
public sealed record LinkageRun(CandidatePairs Candidates, IReadOnlyList<MatchResult> Results);
