namespace CareHub.Identity.Matching;

/// <summary>
/// Estimates m and u from unlabelled records by expectation maximisation (Winkler, "Using the EM
/// Algorithm for Weight Computation in the Fellegi-Sunter Model of Record Linkage", 1988), treating
/// fields as conditionally independent given match status. The pairs are the blocked candidate pairs
/// plus a random sample of all pairs; the two groups share m and u but each has its own match share.
/// Pairs are grouped by comparison pattern, so an iteration costs the number of distinct patterns.
/// </summary>
public static class ParameterEstimator
{
    private const int Missing = -1;
    private const int BlockedGroup = 0;
    private const int RandomGroup = 1;

    public static EstimationResult Estimate(IReadOnlyList<PersonRecord> records, MatchSettings settings, EstimationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(settings);
        options ??= EstimationOptions.Default;
        settings.Validate();

        var people = records.Select(PreparedPerson.From).ToArray();
        var levelCount = ComparisonLevels.All.Count;
        var m0 = ComparisonLevels.All.Select(l => settings.Parameters[l].M).ToArray();
        var u0 = ComparisonLevels.All.Select(l => settings.Parameters[l].U).ToArray();
        var m = (double[])m0.Clone();
        var u = (double[])u0.Clone();

        var patterns = new Dictionary<(int Group, PatternKey Key), int>();
        Span<ComparisonLevel?> levels = stackalloc ComparisonLevel?[Comparators.FieldCount];
        var candidates = Blocking.CandidatePairs(people, settings.Blocking);
        foreach (var (l, r) in candidates.Pairs)
        {
            Comparators.CompareAll(people[l], people[r], levels);
            var key = (BlockedGroup, PatternKey.Of(levels));
            patterns[key] = patterns.GetValueOrDefault(key) + 1;
        }

        var randomPairs = people.Length < 2 ? 0 : (int)Math.Min(options.RandomPairs, (long)people.Length * (people.Length - 1) / 2);
        var random = new Random(options.Seed);
        for (var s = 0; s < randomPairs; s++)
        {
            var i = random.Next(people.Length);
            var j = random.Next(people.Length - 1);
            Comparators.CompareAll(people[i], people[j >= i ? j + 1 : j], levels);
            var key = (RandomGroup, PatternKey.Of(levels));
            patterns[key] = patterns.GetValueOrDefault(key) + 1;
        }

        var groups = patterns.Keys.Select(k => k.Group).ToArray();
        var patternLevels = patterns.Keys.Select(k => k.Key.Levels()).ToArray();
        var counts = patterns.Values.Select(c => (double)c).ToArray();
        var fieldOfLevel = ComparisonLevels.All.Select(l => (int)ComparisonLevels.FieldOf(l)).ToArray();

        // Match share per group: blocked pairs start at the configured share; random pairs at the
        // share a blocked-pairs count implies among all pairs.
        var allPairs = Math.Max(1.0, (double)people.Length * (people.Length - 1) / 2);
        var share = new[]
        {
            options.InitialBlockedMatchShare,
            Math.Clamp(options.InitialBlockedMatchShare * candidates.Pairs.Count / allPairs, 1e-6, 0.5),
        };

        var logLikelihoods = new List<double>();
        var converged = false;
        var iterations = 0;
        var posterior = new double[counts.Length];
        while (iterations < options.MaxIterations && counts.Length > 0)
        {
            iterations++;

            // E step: the probability that each pattern is a match under the current parameters.
            var logLikelihood = 0.0;
            for (var p = 0; p < counts.Length; p++)
            {
                double logM = Math.Log(share[groups[p]]), logU = Math.Log(1 - share[groups[p]]);
                foreach (var level in patternLevels[p])
                {
                    if (level != Missing)
                    {
                        logM += Math.Log(m[level]);
                        logU += Math.Log(u[level]);
                    }
                }

                var max = Math.Max(logM, logU);
                var total = max + Math.Log(Math.Exp(logM - max) + Math.Exp(logU - max));
                posterior[p] = Math.Exp(logM - total);
                logLikelihood += counts[p] * total / Math.Log(2);
            }

            logLikelihoods.Add(logLikelihood);

            // M step: m and u as posterior-weighted level frequencies per field, mixed with the
            // starting values as pseudo-counts; each group's share as its mean posterior.
            var mNum = new double[levelCount];
            var uNum = new double[levelCount];
            var mDen = new double[Comparators.FieldCount];
            var uDen = new double[Comparators.FieldCount];
            var groupMatches = new double[2];
            var groupPairs = new double[2];
            for (var p = 0; p < counts.Length; p++)
            {
                var wm = counts[p] * posterior[p];
                var wu = counts[p] - wm;
                groupMatches[groups[p]] += wm;
                groupPairs[groups[p]] += counts[p];
                var ls = patternLevels[p];
                for (var f = 0; f < ls.Length; f++)
                {
                    if (ls[f] != Missing)
                    {
                        mNum[ls[f]] += wm;
                        uNum[ls[f]] += wu;
                        mDen[f] += wm;
                        uDen[f] += wu;
                    }
                }
            }

            var change = 0.0;
            for (var i = 0; i < levelCount; i++)
            {
                var f = fieldOfLevel[i];
                var newM = (mNum[i] + (options.MPriorPairs * m0[i])) / (mDen[f] + options.MPriorPairs);
                var newU = (uNum[i] + (options.UPriorPairs * u0[i])) / (uDen[f] + options.UPriorPairs);
                change = Math.Max(change, Math.Abs(Math.Log2(newM / newU) - Math.Log2(m[i] / u[i])));
                m[i] = newM;
                u[i] = newU;
            }

            for (var g = 0; g < 2; g++)
            {
                if (groupPairs[g] > 0)
                {
                    share[g] = Math.Clamp(groupMatches[g] / groupPairs[g], 1e-9, 1 - 1e-9);
                }
            }

            if (change < options.Tolerance)
            {
                converged = true;
                break;
            }
        }

        return new EstimationResult(
            MatchParameters.FromArrays(m, u), iterations, converged, share[BlockedGroup], candidates.Pairs.Count, randomPairs, logLikelihoods);
    }

    /// <summary>A comparison pattern packed four bits a field (15 for missing), so equal patterns group.</summary>
    private readonly record struct PatternKey(long Packed)
    {
        public static PatternKey Of(ReadOnlySpan<ComparisonLevel?> levels)
        {
            long packed = 0;
            for (var f = 0; f < levels.Length; f++)
            {
                var code = levels[f] is { } level ? (int)level - FirstLevel(f) : 15;
                packed |= (long)code << (4 * f);
            }

            return new PatternKey(packed);
        }

        public int[] Levels()
        {
            var result = new int[Comparators.FieldCount];
            for (var f = 0; f < result.Length; f++)
            {
                var code = (int)((Packed >> (4 * f)) & 0xF);
                result[f] = code == 15 ? Missing : FirstLevel(f) + code;
            }

            return result;
        }

        private static readonly int[] FirstLevels =
            Enum.GetValues<MatchField>().Select(f => (int)ComparisonLevels.Of(f)[0]).ToArray();

        private static int FirstLevel(int field) => FirstLevels[field];
    }
}

/// <summary>How <see cref="ParameterEstimator"/> runs.</summary>
public sealed record EstimationOptions
{
    public static EstimationOptions Default { get; } = new();

    /// <summary>
    /// How many random pairs of records to add to the blocked pairs (fewer when the records allow fewer;
    /// 0 for EM over blocked pairs alone). Blocked pairs are mostly matches, so on their own they say
    /// little about u; random pairs are mostly non-matches and say much. Each group keeps its own match
    /// share in the model, so the few true matches among random pairs do not inflate u.
    /// </summary>
    public int RandomPairs { get; init; } = 100_000;

    /// <summary>Seed of the random pair sample, so estimates are repeatable.</summary>
    public int Seed { get; init; } = 20_240_601;

    public int MaxIterations { get; init; } = 200;

    /// <summary>EM stops when no level's weight, log2(m/u), moves by more than this many bits between iterations.</summary>
    public double Tolerance { get; init; } = 1e-4;

    /// <summary>The share of blocked pairs assumed to be matches at the start of EM.</summary>
    public double InitialBlockedMatchShare { get; init; } = 0.5;

    /// <summary>
    /// Pseudo-counts of the starting parameters mixed into each estimate (m in expected matches, u in
    /// expected non-matches), so a level the data never shows keeps a finite, cautious weight instead
    /// of an infinite one.
    /// </summary>
    public double MPriorPairs { get; init; } = 20;

    public double UPriorPairs { get; init; } = 2_000;
}

/// <summary>What <see cref="ParameterEstimator.Estimate"/> found.</summary>
/// <param name="Parameters">The estimated m and u of every level (levels the data never reached keep their starting values).</param>
/// <param name="BlockedMatchShare">EM's estimate of the share of blocked pairs that are matches.</param>
/// <param name="LogLikelihoods">The log-likelihood (base 2) of the blocked pairs after each iteration; EM never lowers it.</param>
public sealed record EstimationResult(
    MatchParameters Parameters,
    int Iterations,
    bool Converged,
    double BlockedMatchShare,
    int BlockedPairs,
    int RandomPairs,
    IReadOnlyList<double> LogLikelihoods);
