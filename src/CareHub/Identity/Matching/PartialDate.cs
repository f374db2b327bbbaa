using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace CareHub.Identity.Matching;

/// <summary>
/// A date of which only the year, or the year and month, may be known: FHIR <c>date</c> allows
/// <c>YYYY</c>, <c>YYYY-MM</c> and <c>YYYY-MM-DD</c> (FHIR R4 2.24.0.1 Primitive Types), and
/// registration systems record a partial birth date when the full one is unknown.
/// </summary>
public readonly record struct PartialDate
{
    private PartialDate(int year, int? month, int? day)
    {
        Year = year;
        Month = month;
        Day = day;
    }

    public int Year { get; }

    public int? Month { get; }

    public int? Day { get; }

    /// <summary>True when year, month and day are all known.</summary>
    public bool IsComplete => Day is not null;

    public static PartialDate Of(int year, int? month = null, int? day = null)
    {
        if (!IsValid(year, month, day))
        {
            throw new ArgumentOutOfRangeException(nameof(year), "The year, month and day do not form a date.");
        }

        return new PartialDate(year, month, day);
    }

    /// <summary>
    /// Reads <c>YYYY</c>, <c>YYYY-MM</c>, <c>YYYY-MM-DD</c> (optionally followed by a FHIR dateTime's
    /// time part, which is ignored) or the compact <c>YYYYMMDD</c>; false for anything else or a day
    /// that does not exist.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out PartialDate date)
    {
        date = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.AsSpan().Trim();
        var t = s.IndexOf('T');
        if (t > 0)
        {
            s = s[..t];
        }

        int year;
        int? month = null;
        int? day = null;
        if (s.Length == 8 && !s.Contains('-'))
        {
            if (!TryDigits(s[..4], out year) || !TryDigits(s[4..6], out var m) || !TryDigits(s[6..], out var d))
            {
                return false;
            }

            month = m;
            day = d;
        }
        else
        {
            if (s.Length is not (4 or 7 or 10) || !TryDigits(s[..4], out year))
            {
                return false;
            }

            if (s.Length >= 7)
            {
                if (s[4] != '-' || !TryDigits(s[5..7], out var m))
                {
                    return false;
                }

                month = m;
            }

            if (s.Length == 10)
            {
                if (s[7] != '-' || !TryDigits(s[8..10], out var d))
                {
                    return false;
                }

                day = d;
            }
        }

        if (!IsValid(year, month, day))
        {
            return false;
        }

        date = new PartialDate(year, month, day);
        return true;
    }

    /// <summary>The FHIR form: <c>YYYY</c>, <c>YYYY-MM</c> or <c>YYYY-MM-DD</c>.</summary>
    public override string ToString() => (Month, Day) switch
    {
        (null, _) => Year.ToString("D4", CultureInfo.InvariantCulture),
        (int m, null) => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{m:D2}"),
        (int m, int d) => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{m:D2}-{d:D2}"),
    };

    private static bool IsValid(int year, int? month, int? day) =>
        year is >= 1 and <= 9999
        && (month is null || month is >= 1 and <= 12)
        && (day is null || (month is not null && day >= 1 && day <= DateTime.DaysInMonth(year, month.Value)));

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
