using System.Globalization;

namespace CareHub.Identity.Matching;

/// <summary>
/// A blocking rule: records are compared only when they share at least one key of an enabled rule,
/// which keeps the number of comparisons near-linear instead of n(n-1)/2.
/// </summary>
public enum BlockingRule
{
    /// <summary>The standardised NHS Number (valid or not: a mistyped number still finds its own copies).</summary>
    NhsNumber,

    /// <summary>The full birth date.</summary>
    BirthDate,

    /// <summary>The full normalised postcode.</summary>
    Postcode,

    /// <summary>NYSIIS code of the family name with the birth year; also of the forename, so swapped names still meet.</summary>
    NamePhoneticAndBirthYear,

    /// <summary>NYSIIS codes of forename and family name together, in either order: finds pairs whose birth dates disagree.</summary>
    NamesPhonetic,

    /// <summary>The normalised email address.</summary>
    Email,

    /// <summary>The normalised phone number.</summary>
    Phone,
}

/// <summary>Blocking keys and the candidate pair generator.</summary>
public static class Blocking
{
    /// <summary>
    /// The blocking keys of one record under <paramref name="rules"/>, each prefixed by its rule so keys
    /// of different rules never collide. A store can index these to find candidates for a new record.
    /// </summary>
    public static IEnumerable<string> KeysFor(PreparedPerson person, IReadOnlyList<BlockingRule> rules)
    {
        ArgumentNullException.ThrowIfNull(person);
        ArgumentNullException.ThrowIfNull(rules);
        foreach (var rule in rules)
        {
            switch (rule)
            {
                case BlockingRule.NhsNumber when person.NhsDigits.Length > 0:
                    yield return "nhs:" + person.NhsDigits;
                    break;
                case BlockingRule.BirthDate when person.BirthDate is { IsComplete: true } dob:
                    yield return "dob:" + dob.ToString();
                    break;
                case BlockingRule.Postcode when person.Postcode.Length > 0:
                    yield return "pc:" + person.Postcode;
                    break;
                case BlockingRule.NamePhoneticAndBirthYear when person.BirthDate is { } dob:
                    var year = dob.Year.ToString(CultureInfo.InvariantCulture);
                    if (person.Family.Code.Length > 0)
                    {
                        yield return "ny:" + person.Family.Code + "|" + year;
                    }

                    if (person.FirstGiven.Code.Length > 0 && !string.Equals(person.FirstGiven.Code, person.Family.Code, StringComparison.Ordinal))
                    {
                        yield return "ny:" + person.FirstGiven.Code + "|" + year;
                    }

                    break;
                case BlockingRule.NamesPhonetic when person.Family.Code.Length > 0 && person.FirstGiven.Code.Length > 0:
                    var (x, y) = string.CompareOrdinal(person.FirstGiven.Code, person.Family.Code) <= 0
                        ? (person.FirstGiven.Code, person.Family.Code)
                        : (person.Family.Code, person.FirstGiven.Code);
                    yield return "nn:" + x + "|" + y;
                    break;
                case BlockingRule.Email when person.Email.Length > 0:
                    yield return "em:" + person.Email;
                    break;
                case BlockingRule.Phone when person.Phone.Length > 0:
                    yield return "ph:" + person.Phone;
                    break;
            }
        }
    }

    /// <summary>Every pair of records that shares a blocking key, each pair once.</summary>
    public static CandidatePairs CandidatePairs(IReadOnlyList<PreparedPerson> people, BlockingOptions options)
    {
        ArgumentNullException.ThrowIfNull(people);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var blocks = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < people.Count; i++)
        {
            foreach (var key in KeysFor(people[i], options.Rules))
            {
                if (!blocks.TryGetValue(key, out var members))
                {
                    blocks[key] = members = [];
                }

                // A record can yield the same key twice (forename and family name with one code).
                if (members.Count == 0 || members[^1] != i)
                {
                    members.Add(i);
                }
            }
        }

        var seen = new HashSet<long>();
        var pairs = new List<(int, int)>();
        var used = 0;
        var oversized = 0;
        foreach (var members in blocks.Values)
        {
            if (members.Count < 2)
            {
                continue;
            }

            if (members.Count > options.MaxBlockSize)
            {
                oversized++;
                continue;
            }

            used++;
            for (var a = 0; a < members.Count; a++)
            {
                for (var b = a + 1; b < members.Count; b++)
                {
                    // Members are added in index order, so members[a] < members[b].
                    if (seen.Add(((long)members[a] << 32) | (uint)members[b]))
                    {
                        pairs.Add((members[a], members[b]));
                    }
                }
            }
        }

        return new CandidatePairs(pairs, used, oversized);
    }
}

/// <summary>Which blocking rules run, and the cap on a block's size.</summary>
public sealed record BlockingOptions
{
    public static BlockingOptions Default { get; } = new();

    public IReadOnlyList<BlockingRule> Rules { get; init; } = Enum.GetValues<BlockingRule>();

    /// <summary>
    /// Blocks with more records than this are skipped (and counted in <see cref="CandidatePairs.OversizedBlocks"/>):
    /// a key shared by that many records (a placeholder email, a common name in one year) costs
    /// quadratic work and says little; other rules still bring true pairs together.
    /// </summary>
    public int MaxBlockSize { get; init; } = 250;

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Rules);
        if (Rules.Count == 0)
        {
            throw new ArgumentException("At least one blocking rule is needed.", nameof(Rules));
        }

        if (MaxBlockSize < 2)
        {
            throw new ArgumentException("MaxBlockSize must be at least 2.", nameof(MaxBlockSize));
        }
    }
}

/// <summary>The deduplicated candidate pairs of a set of records (indexes into it, Left &lt; Right).</summary>
public sealed record CandidatePairs(IReadOnlyList<(int Left, int Right)> Pairs, int Blocks, int OversizedBlocks);
