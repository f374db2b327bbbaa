using System.Text;

namespace CareHub.Identity.Matching;

/// <summary>
/// The New York State Identification and Intelligence System phonetic code (Taft, 1970), in the
/// widely used form documented by dropby.com and Apache Commons Codec, without truncation: names that
/// sound alike (SMITH and SCHMIT, BRIAN and BROWN) share a code. Chosen over Soundex because it keeps
/// vowel positions and more of the name, so it groups fewer unrelated surnames together.
/// </summary>
public static class Nysiis
{
    /// <summary>The code of <paramref name="name"/>; letters other than A to Z are ignored; empty if none remain.</summary>
    public static string Encode(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return string.Empty;
        }

        var chars = new List<char>(name.Length + 2);
        foreach (var c in name)
        {
            var upper = char.ToUpperInvariant(c);
            if (upper is >= 'A' and <= 'Z')
            {
                chars.Add(upper);
            }
        }

        if (chars.Count == 0)
        {
            return string.Empty;
        }

        // Step 1: first characters. MAC -> MCC, KN -> NN, K -> C, PH and PF -> FF, SCH -> SSS.
        if (StartsWith(chars, "MAC"))
        {
            chars[1] = 'C';
        }
        else if (StartsWith(chars, "KN"))
        {
            chars[0] = 'N';
        }
        else if (chars[0] == 'K')
        {
            chars[0] = 'C';
        }
        else if (StartsWith(chars, "PH") || StartsWith(chars, "PF"))
        {
            chars[0] = 'F';
            chars[1] = 'F';
        }
        else if (StartsWith(chars, "SCH"))
        {
            chars[1] = 'S';
            chars[2] = 'S';
        }

        // Step 2: last characters. EE and IE -> Y; DT, RT, RD, NT and ND -> D.
        if (EndsWith(chars, "EE") || EndsWith(chars, "IE"))
        {
            chars.RemoveAt(chars.Count - 1);
            chars[^1] = 'Y';
        }
        else if (EndsWith(chars, "DT") || EndsWith(chars, "RT") || EndsWith(chars, "RD") || EndsWith(chars, "NT") || EndsWith(chars, "ND"))
        {
            chars.RemoveAt(chars.Count - 1);
            chars[^1] = 'D';
        }

        // Steps 3 and 4: the first letter stays; each later one is transcoded in place (so the next
        // step sees the transcoded previous letter) and added unless it repeats the last one added.
        var key = new StringBuilder(chars.Count);
        key.Append(chars[0]);
        for (var i = 1; i < chars.Count; i++)
        {
            var next = i + 1 < chars.Count ? chars[i + 1] : ' ';
            var afterNext = i + 2 < chars.Count ? chars[i + 2] : ' ';
            var replacement = Transcode(chars[i - 1], chars[i], next, afterNext);
            for (var r = 0; r < replacement.Length; r++)
            {
                chars[i + r] = replacement[r];
            }

            if (chars[i] != chars[i - 1])
            {
                key.Append(chars[i]);
            }
        }

        // Step 5 to 7: drop a final S, turn a final AY into Y, drop a final A.
        if (key.Length > 1)
        {
            if (key[^1] == 'S')
            {
                key.Length--;
            }

            if (key.Length > 2 && key[^2] == 'A' && key[^1] == 'Y')
            {
                key.Remove(key.Length - 2, 1);
            }

            if (key.Length > 1 && key[^1] == 'A')
            {
                key.Length--;
            }
        }

        return key.ToString();
    }

    private static string Transcode(char previous, char current, char next, char afterNext)
    {
        if (current == 'E' && next == 'V')
        {
            return "AF";
        }

        if (IsVowel(current))
        {
            return "A";
        }

        switch (current)
        {
            case 'Q':
                return "G";
            case 'Z':
                return "S";
            case 'M':
                return "N";
            case 'K':
                return next == 'N' ? "NN" : "C";
            case 'S' when next == 'C' && afterNext == 'H':
                return "SSS";
            case 'P' when next == 'H':
                return "FF";
            case 'H' when !IsVowel(previous) || !IsVowel(next):
                return previous.ToString();
            case 'W' when IsVowel(previous):
                return previous.ToString();
            default:
                return current.ToString();
        }
    }

    private static bool IsVowel(char c) => c is 'A' or 'E' or 'I' or 'O' or 'U';

    private static bool StartsWith(List<char> chars, string prefix)
    {
        if (chars.Count < prefix.Length)
        {
            return false;
        }

        for (var i = 0; i < prefix.Length; i++)
        {
            if (chars[i] != prefix[i])
            {
                return false;
            }
        }

        return true;
    }

    private static bool EndsWith(List<char> chars, string suffix)
    {
        if (chars.Count < suffix.Length)
        {
            return false;
        }

        var offset = chars.Count - suffix.Length;
        for (var i = 0; i < suffix.Length; i++)
        {
            if (chars[offset + i] != suffix[i])
            {
                return false;
            }
        }

        return true;
    }
}
