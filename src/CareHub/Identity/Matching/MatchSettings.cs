namespace CareHub.Identity.Matching;

/// <summary>
/// How the matcher decides: the m and u probabilities, the match-weight thresholds of the three
/// outcomes and the blocking rules. Weights are sums of log2(m/u) over the compared fields.
/// </summary>
public sealed record MatchSettings
{
    public static MatchSettings Default { get; } = new();

    public MatchParameters Parameters { get; init; } = MatchParameters.Default;

    /// <summary>
    /// At or above this weight a pair links automatically (<see cref="MatchGrade.Certain"/>). The default
    /// needs full name and birth date agreement plus one more agreeing field: name and birth date
    /// alone are shared by different people often enough, across a community, that a person should look.
    /// </summary>
    public double AutoLinkWeight { get; init; } = 30;

    /// <summary>At or above this weight (and below <see cref="AutoLinkWeight"/>) a pair goes to human review (<see cref="MatchGrade.Probable"/>).</summary>
    public double ReviewWeight { get; init; } = 18;

    /// <summary>At or above this weight (and below <see cref="ReviewWeight"/>) a pair does not link but $match lists it as <see cref="MatchGrade.Possible"/>.</summary>
    public double PossibleWeight { get; init; } = 10;

    /// <summary>
    /// The probability, before any field is compared, that a compared pair is the same person: it turns
    /// a weight into <see cref="MatchResult.Probability"/> and does not affect outcomes.
    /// </summary>
    public double PriorMatchProbability { get; init; } = 0.0001;

    public BlockingOptions Blocking { get; init; } = BlockingOptions.Default;

    /// <summary>Fails fast with a message naming the bad setting.</summary>
    /// <exception cref="ArgumentException">A threshold is out of order or a probability is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Parameters);
        ArgumentNullException.ThrowIfNull(Blocking);
        if (!(AutoLinkWeight >= ReviewWeight && ReviewWeight >= PossibleWeight))
        {
            throw new ArgumentException("Thresholds must satisfy AutoLinkWeight >= ReviewWeight >= PossibleWeight.", nameof(AutoLinkWeight));
        }

        if (!(PriorMatchProbability > 0 && PriorMatchProbability < 1))
        {
            throw new ArgumentException("PriorMatchProbability must be strictly between 0 and 1.", nameof(PriorMatchProbability));
        }

        Blocking.Validate();
    }
}
