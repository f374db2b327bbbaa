using System.Globalization;
using System.Text;
using CareHub.Fhir;

namespace CareHub.Search;

/// <summary>How stored and searched values are compared: folded strings, date ranges in milliseconds, number precision.</summary>
public static class SearchValues
{
    /// <summary>Open ends of a date range (a Period without start or end).</summary>
    public const long MinDate = long.MinValue;

    public const long MaxDate = long.MaxValue;

    /// <summary>Open ends of a number range (a Range without low or high); finite so both databases store them alike.</summary>
    public const double MinNumber = -1e300;

    public const double MaxNumber = 1e300;

    /// <summary>
    /// Case- and accent-insensitive form of a string (search.html#string: "ignoring accents and case"): letters with
    /// diacritics become their base letters, combining marks are dropped, everything is lower-cased and whitespace runs
    /// become single spaces. The folding is by table, not by Unicode decomposition, because CareHub runs with invariant
    /// globalization (no ICU), where string.Normalize leaves non-ASCII text alone.
    /// </summary>
    public static string Normalize(string value)
    {
        var builder = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value)
        {
            if (c is >= '\u0300' and <= '\u036f')
            {
                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                space = builder.Length > 0;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            if (c is >= FoldStart and < FoldEnd)
            {
                var folded = Fold[c - FoldStart];
                if (folded != '\0')
                {
                    builder.Append(folded);
                }
                else
                {
                    builder.Append(c switch
                    {
                        '\u00c6' or '\u00e6' => "ae",
                        '\u00de' or '\u00fe' => "th",
                        '\u00df' => "ss",
                        '\u0132' or '\u0133' => "ij",
                        '\u0152' or '\u0153' => "oe",
                        _ => char.ToLowerInvariant(c).ToString(),
                    });
                }

                continue;
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }

    private const char FoldStart = '\u00c0';
    private const char FoldEnd = '\u0250';

    /// <summary>
    /// U+00C0 to U+024F (Latin-1 Supplement, Latin Extended-A and -B) folded to lower-case base letters, generated from
    /// the Unicode canonical decompositions; '\0' marks the letters that fold to two (see <see cref="Normalize"/>).
    /// </summary>
    private const string Fold = "aaaaaa\0ceeeeiiiidnooooo\u00d7ouuuuy\0\0aaaaaa\0ceeeeiiiidnooooo\u00f7ouuuuy\0yaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii\0\0jjkkkllllllllllnnnnnnnnnoooooo\0\0rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs\u0180\u0253\u0183\u0183\u0185\u0185\u0254\u0188\u0188\u0256\u0257\u018c\u018c\u018d\u01dd\u0259\u025b\u0192\u0192\u0260\u0263\u0195\u0269\u0268\u0199\u0199\u019a\u019b\u026f\u0272\u019e\u0275oo\u01a3\u01a3\u01a5\u01a5\u0280\u01a8\u01a8\u0283\u01aa\u01ab\u01ad\u01ad\u0288uu\u028a\u028b\u01b4\u01b4\u01b6\u01b6\u0292\u01b9\u01b9\u01ba\u01bb\u01bd\u01bd\u01be\u01bf\u01c0\u01c1\u01c2\u01c3\u01c6\u01c6\u01c6\u01c9\u01c9\u01c9\u01cc\u01cc\u01ccaaiioouuuuuuuuuu\u01ddaaaa\u00e6\u00e6\u01e5\u01e5ggkkoooo\u0292\u0292j\u01f3\u01f3\u01f3gg\u0195\u01bfnnaa\u00e6\u00e6\u00f8\u00f8aaaaeeeeiiiioooorrrruuuusstt\u021d\u021dhh\u019e\u0221\u0223\u0223\u0225\u0225aaeeooooooooyy\u0234\u0235\u0236\u0237\u0238\u0239\u2c65\u023c\u023c\u019a\u2c66\u023f\u0240\u0242\u0242\u0180\u0289\u028c\u0247\u0247\u0249\u0249\u024b\u024b\u024d\u024d\u024f\u024f";

    /// <summary>A FHIR date, dateTime or instant as [low, high) in UTC milliseconds; a time without zone is taken as UTC.</summary>
    public static (long Low, long High)? DateRange(string text) =>
        FhirDates.Range(text) is { } range ? (range.Start.ToUnixTimeMilliseconds(), range.End.ToUnixTimeMilliseconds()) : null;

    /// <summary>
    /// A decimal's value with the range its precision implies (search.html#number: "100" means [99.5, 100.5), "100.00"
    /// means [99.995, 100.005)); exponents count significant figures ("1e2" means [50, 150)).
    /// </summary>
    public static (double Value, double Low, double High)? Number(string text)
    {
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        var mantissa = text;
        var exponent = 0;
        var e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            mantissa = text[..e];
            exponent = int.Parse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var decimals = dot < 0 ? 0 : mantissa.Length - dot - 1;
        var half = 0.5 * Math.Pow(10, exponent - decimals);
        var number = (double)value;
        return (number, number - half, number + half);
    }

    /// <summary>The range implied by a stored decimal's own precision (its scale).</summary>
    public static (double Low, double High) Precision(decimal value)
    {
        var scale = (decimal.GetBits(value)[3] >> 16) & 0xFF;
        var half = 0.5 * Math.Pow(10, -scale);
        var number = (double)value;
        return (number - half, number + half);
    }
}
