namespace CareHub.Identity.Matching;

/// <summary>
/// UK telephone numbers reduced to their national form for comparison: digits only, with the
/// international prefix (+44, 0044 or 44) replaced by the trunk prefix 0, so "+44 (0)113 496 0000",
/// "0044 113 4960000" and "0113 496 0000" all read 01134960000 (Ofcom numbering: ten national
/// significant digits after the 0).
/// </summary>
public static class UkPhoneNumber
{
    /// <summary>The national form, or the digits as given when they are not a UK number; empty when there are fewer than six digits.</summary>
    public static string Normalise(string? phone)
    {
        if (string.IsNullOrWhiteSpace(phone))
        {
            return string.Empty;
        }

        var digits = new string(phone.Where(char.IsAsciiDigit).ToArray());
        var plus = phone.TrimStart().StartsWith('+');
        var fromInternational = false;
        if (digits.StartsWith("0044", StringComparison.Ordinal))
        {
            digits = digits[4..];
            fromInternational = true;
        }
        else if (digits.StartsWith("44", StringComparison.Ordinal) && (plus || digits.Length >= 12))
        {
            digits = digits[2..];
            fromInternational = true;
        }

        if (fromInternational)
        {
            // "+44 (0)113 ..." writes the trunk 0 that the international form drops.
            if (digits.Length == 11 && digits[0] == '0')
            {
                digits = digits[1..];
            }

            digits = "0" + digits;
        }

        return digits.Length < 6 ? string.Empty : digits;
    }
}
