namespace CareHub.Identity.Matching;

/// <summary>
/// UK postcodes as the matcher compares them: upper case, no spaces, split into the outward code
/// (area and district, e.g. <c>LS1</c>) and the inward code (sector digit and unit, e.g. <c>4AP</c>).
/// The inward code is always a digit and two letters (Royal Mail Programmers' Guide, postcode format),
/// which is how the split is found without a list of districts.
/// </summary>
public static class UkPostcode
{
    /// <summary>Upper case with spaces and punctuation removed; the empty string when nothing is left.</summary>
    public static string Normalise(string? postcode)
    {
        if (string.IsNullOrWhiteSpace(postcode))
        {
            return string.Empty;
        }

        return string.Create(postcode.Count(char.IsAsciiLetterOrDigit), postcode, static (span, source) =>
        {
            var i = 0;
            foreach (var c in source)
            {
                if (char.IsAsciiLetterOrDigit(c))
                {
                    span[i++] = char.ToUpperInvariant(c);
                }
            }
        });
    }

    /// <summary>
    /// True when the normalised postcode has the shape of a UK postcode: an outward code of a letter
    /// or two, a digit and an optional letter or digit, then a digit and two letters (five to seven
    /// characters in all). <paramref name="outward"/> is then the outward code.
    /// </summary>
    public static bool TrySplit(string normalised, out string outward)
    {
        outward = string.Empty;
        if (normalised.Length is < 5 or > 7)
        {
            return false;
        }

        var inward = normalised.AsSpan(normalised.Length - 3);
        if (!char.IsAsciiDigit(inward[0]) || !char.IsAsciiLetterUpper(inward[1]) || !char.IsAsciiLetterUpper(inward[2]))
        {
            return false;
        }

        var outwardSpan = normalised.AsSpan(0, normalised.Length - 3);
        var letters = 0;
        while (letters < outwardSpan.Length && char.IsAsciiLetterUpper(outwardSpan[letters]))
        {
            letters++;
        }

        if (letters is < 1 or > 2 || letters == outwardSpan.Length || !char.IsAsciiDigit(outwardSpan[letters]))
        {
            return false;
        }

        var rest = outwardSpan[(letters + 1)..];
        if (rest.Length > 1 || (rest.Length == 1 && !char.IsAsciiLetterOrDigit(rest[0])))
        {
            return false;
        }

        outward = outwardSpan.ToString();
        return true;
    }
}
