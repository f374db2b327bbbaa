using System.Text;

namespace CareHub.Identity.Matching;

/// <summary>
/// Text normalisation for comparison: upper case, accents folded to their base letter, and tokens
/// split at anything that is not a letter or digit (hyphens, spaces, full stops). Apostrophes join
/// (O'Brien reads OBRIEN). Folding is table-driven because the service runs with invariant
/// globalisation, where <see cref="string.Normalize()"/> does not decompose accented letters.
/// </summary>
internal static class MatchText
{
    private static readonly Dictionary<char, string> Folds = BuildFolds();

    /// <summary>The tokens of <paramref name="text"/>, each upper case, letters and digits only.</summary>
    public static List<string> Tokens(string? text, bool lettersOnly)
    {
        var tokens = new List<string>();
        if (string.IsNullOrWhiteSpace(text))
        {
            return tokens;
        }

        var current = new StringBuilder();
        foreach (var raw in text)
        {
            if (raw is '\'' or '\u2019')
            {
                continue;
            }

            var c = char.ToUpperInvariant(raw);
            if (c is >= 'A' and <= 'Z' || (!lettersOnly && c is >= '0' and <= '9'))
            {
                current.Append(c);
            }
            else if (c > 127 && Folds.TryGetValue(c, out var folded))
            {
                current.Append(folded);
            }
            else if (current.Length > 0)
            {
                tokens.Add(current.ToString());
                current.Clear();
            }
        }

        if (current.Length > 0)
        {
            tokens.Add(current.ToString());
        }

        return tokens;
    }

    /// <summary>The tokens joined without separators ("Mary-Jane" reads MARYJANE), or the empty string.</summary>
    public static string Joined(string? text, bool lettersOnly = true) => string.Concat(Tokens(text, lettersOnly));

    private static Dictionary<char, string> BuildFolds()
    {
        var folds = new Dictionary<char, string>();
        void Add(string accented, string plain)
        {
            foreach (var c in accented)
            {
                folds[c] = plain;
            }
        }

        Add("ÀÁÂÃÄÅĀĂĄ", "A");
        Add("ÇĆĈĊČ", "C");
        Add("ĎĐ", "D");
        Add("ÈÉÊËĒĔĖĘĚ", "E");
        Add("ĜĞĠĢ", "G");
        Add("ĤĦ", "H");
        Add("ÌÍÎÏĨĪĬĮİ", "I");
        Add("Ĵ", "J");
        Add("Ķ", "K");
        Add("ĹĻĽĿŁ", "L");
        Add("ÑŃŅŇ", "N");
        Add("ÒÓÔÕÖØŌŎŐ", "O");
        Add("ŔŖŘ", "R");
        Add("ŚŜŞŠ", "S");
        Add("ŢŤŦ", "T");
        Add("ÙÚÛÜŨŪŬŮŰŲ", "U");
        Add("Ŵ", "W");
        Add("ÝŸŶ", "Y");
        Add("ŹŻŽ", "Z");
        Add("Æ", "AE");
        Add("Œ", "OE");
        Add("ẞß", "SS");
        Add("Þ", "TH");
        return folds;
    }
}
