namespace CareHub.Identity.Matching;

/// <summary>
/// The m and u probability of every <see cref="ComparisonLevel"/> (Fellegi-Sunter). Immutable:
/// <see cref="With(ComparisonLevel, double, double)"/> returns a copy with one level overridden. The defaults are judgement for an
/// English local care community (about half a million people): u from the spread of names, birth
/// dates and postcodes among unrelated people, m from typical error rates in registration data;
/// <see cref="ParameterEstimator"/> refines them from the records themselves.
/// </summary>
public sealed class MatchParameters
{
    private static readonly int LevelCount = ComparisonLevels.All.Count;

    private readonly LevelProbabilities[] levels;
    private readonly double[] weights;

    private MatchParameters(LevelProbabilities[] levels)
    {
        this.levels = levels;
        weights = levels.Select(l => l.Weight).ToArray();
    }

    public static MatchParameters Default { get; } = new(BuildDefaults());

    public LevelProbabilities this[ComparisonLevel level] => this.levels[(int)level];

    /// <summary>log2(m/u) of the level.</summary>
    public double Weight(ComparisonLevel level) => weights[(int)level];

    /// <summary>A copy with the level's m and u replaced.</summary>
    /// <exception cref="ArgumentOutOfRangeException">m or u is not in (0, 1].</exception>
    public MatchParameters With(ComparisonLevel level, double m, double u)
    {
        var levels = (LevelProbabilities[])this.levels.Clone();
        levels[(int)level] = Checked(m, u);
        return new MatchParameters(levels);
    }

    /// <summary>A copy with every level in <paramref name="overrides"/> replaced.</summary>
    public MatchParameters With(IReadOnlyDictionary<ComparisonLevel, LevelProbabilities> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var levels = (LevelProbabilities[])this.levels.Clone();
        foreach (var (level, p) in overrides)
        {
            levels[(int)level] = Checked(p.M, p.U);
        }

        return new MatchParameters(levels);
    }

    /// <summary>Every level's probabilities, for display or to save estimated parameters.</summary>
    public IReadOnlyDictionary<ComparisonLevel, LevelProbabilities> ToDictionary() =>
        ComparisonLevels.All.ToDictionary(l => l, l => this.levels[(int)l]);

    internal static MatchParameters FromArrays(double[] m, double[] u)
    {
        var levels = new LevelProbabilities[LevelCount];
        for (var i = 0; i < LevelCount; i++)
        {
            levels[i] = Checked(m[i], u[i]);
        }

        return new MatchParameters(levels);
    }

    private static LevelProbabilities Checked(double m, double u)
    {
        if (!(m > 0 && m <= 1) || !(u > 0 && u <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(m), "m and u must each be in (0, 1]: a zero would make a weight infinite.");
        }

        return new LevelProbabilities(m, u);
    }

    private static LevelProbabilities[] BuildDefaults()
    {
        var d = new Dictionary<ComparisonLevel, LevelProbabilities>
        {
            // A valid NHS Number is unique to a person; a different one on a pair that reaches this
            // stage means one side failed the Modulus 11 check, so it is weak evidence against.
            [ComparisonLevel.NhsNumberExact] = new(0.95, 0.000001),
            [ComparisonLevel.NhsNumberOneEdit] = new(0.03, 0.00002),
            [ComparisonLevel.NhsNumberDifferent] = new(0.02, 0.99998),

            // About 1 in 100 unrelated pairs share a forename (the commonest UK forenames hold 1-2%).
            [ComparisonLevel.GivenNameExact] = new(0.82, 0.01),
            [ComparisonLevel.GivenNameSimilar] = new(0.05, 0.002),
            [ComparisonLevel.GivenNamePhonetic] = new(0.02, 0.004),
            [ComparisonLevel.GivenNameOtherName] = new(0.03, 0.003),
            [ComparisonLevel.GivenNameInitial] = new(0.02, 0.003),
            [ComparisonLevel.GivenNameFuzzy] = new(0.02, 0.03),
            [ComparisonLevel.GivenNameDifferent] = new(0.04, 0.948),

            // Surnames spread more thinly: about 1 in 500 unrelated pairs share one.
            [ComparisonLevel.FamilyNameExact] = new(0.85, 0.002),
            [ComparisonLevel.FamilyNamePartOrPrevious] = new(0.03, 0.0005),
            [ComparisonLevel.FamilyNameSimilar] = new(0.04, 0.001),
            [ComparisonLevel.FamilyNamePhonetic] = new(0.02, 0.002),
            [ComparisonLevel.FamilyNameFuzzy] = new(0.02, 0.01),
            [ComparisonLevel.FamilyNameDifferent] = new(0.04, 0.9845),

            // Birth dates spread over about 90 years of 365 days.
            [ComparisonLevel.BirthDateExact] = new(0.90, 0.00004),
            [ComparisonLevel.BirthDateDayMonthTransposed] = new(0.005, 0.00001),
            [ComparisonLevel.BirthDateOneDigit] = new(0.04, 0.0008),
            [ComparisonLevel.BirthDateYearOffByOne] = new(0.01, 0.00004),
            [ComparisonLevel.BirthDatePartialAgrees] = new(0.02, 0.01),
            [ComparisonLevel.BirthDateDifferent] = new(0.025, 0.98911),

            [ComparisonLevel.SexAgrees] = new(0.97, 0.5),
            [ComparisonLevel.SexDifferent] = new(0.03, 0.5),

            // A full postcode holds about 40 people; an outward code some tens of thousands.
            [ComparisonLevel.PostcodeFull] = new(0.75, 0.0002),
            [ComparisonLevel.PostcodeOutward] = new(0.10, 0.02),
            [ComparisonLevel.PostcodeDifferent] = new(0.15, 0.9798),

            [ComparisonLevel.AddressExact] = new(0.65, 0.0002),
            [ComparisonLevel.AddressMostTokens] = new(0.15, 0.001),
            [ComparisonLevel.AddressSomeTokens] = new(0.10, 0.03),
            [ComparisonLevel.AddressDifferent] = new(0.10, 0.9688),

            // Most of a local community lives in a handful of towns: a shared town says little.
            [ComparisonLevel.TownExact] = new(0.85, 0.10),
            [ComparisonLevel.TownSimilar] = new(0.05, 0.005),
            [ComparisonLevel.TownDifferent] = new(0.10, 0.895),

            // Households share landlines and sometimes email addresses.
            [ComparisonLevel.PhoneExact] = new(0.70, 0.0002),
            [ComparisonLevel.PhoneDifferent] = new(0.30, 0.9998),

            [ComparisonLevel.EmailExact] = new(0.70, 0.0001),
            [ComparisonLevel.EmailSimilar] = new(0.10, 0.0005),
            [ComparisonLevel.EmailDifferent] = new(0.20, 0.9994),
        };

        return ComparisonLevels.All.Select(l => d[l]).ToArray();
    }
}

/// <summary>The m and u probabilities of one comparison level.</summary>
/// <param name="M">P(level | the records are the same person).</param>
/// <param name="U">P(level | the records are different people).</param>
public readonly record struct LevelProbabilities(double M, double U)
{
    /// <summary>The level's match weight, log2(m/u): positive supports a match, negative opposes it.</summary>
    public double Weight => Math.Log2(M / U);
}
