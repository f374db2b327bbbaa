using System.Globalization;
using System.Text;

namespace CareHub.Hl7v2;

/// <summary>How much of a date/time was sent.</summary>
public enum Hl7DateTimePrecision
{
    /// <summary>YYYY.</summary>
    Year,

    /// <summary>YYYYMM.</summary>
    Month,

    /// <summary>YYYYMMDD.</summary>
    Day,

    /// <summary>YYYYMMDDHH.</summary>
    Hour,

    /// <summary>YYYYMMDDHHMM.</summary>
    Minute,

    /// <summary>YYYYMMDDHHMMSS.</summary>
    Second,

    /// <summary>YYYYMMDDHHMMSS.S to .SSSS; see <see cref="Hl7DateTime.FractionDigits"/>.</summary>
    FractionOfSecond,
}

/// <summary>
/// An HL7 date/time (DTM, and the first component of TS): <c>YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]</c>
/// (v2.5 chapter 2A.22 and 2A.77; v2.6 onwards DTM). The precision and the offset are kept as sent, so the
/// value writes back exactly; <see cref="ToDateTimeOffset"/> fills what was not sent with the earliest value.
/// </summary>
public readonly record struct Hl7DateTime
{
    private Hl7DateTime(int year, int month, int day, int hour, int minute, int second, int fraction, int fractionDigits,
        Hl7DateTimePrecision precision, TimeSpan? offset)
    {
        Year = year;
        Month = month;
        Day = day;
        Hour = hour;
        Minute = minute;
        Second = second;
        Fraction = fraction;
        FractionDigits = fractionDigits;
        Precision = precision;
        Offset = offset;
    }

    /// <summary>Year.</summary>
    public int Year { get; }

    /// <summary>Month, 1 when not sent.</summary>
    public int Month { get; }

    /// <summary>Day, 1 when not sent.</summary>
    public int Day { get; }

    /// <summary>Hour, 0 when not sent.</summary>
    public int Hour { get; }

    /// <summary>Minute, 0 when not sent.</summary>
    public int Minute { get; }

    /// <summary>Second, 0 when not sent.</summary>
    public int Second { get; }

    /// <summary>The fraction of a second as sent, in units of 10^-<see cref="FractionDigits"/> seconds.</summary>
    public int Fraction { get; }

    /// <summary>Digits of the fraction of a second (0 to 4).</summary>
    public int FractionDigits { get; }

    /// <summary>How much was sent.</summary>
    public Hl7DateTimePrecision Precision { get; }

    /// <summary>The UTC offset, when sent (+/-ZZZZ).</summary>
    public TimeSpan? Offset { get; }

    /// <summary>Parses a DTM value; a TS's degree-of-precision component is not part of it.</summary>
    /// <exception cref="FormatException">The text is not an HL7 date/time.</exception>
    public static Hl7DateTime Parse(string text) =>
        TryParse(text, out Hl7DateTime value) ? value : throw new FormatException("not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])");

    /// <summary>Reads the date/time in an element (a TS field's first component), or null when it is empty or not a date/time.</summary>
    public static Hl7DateTime? From(Hl7Element element)
    {
        Hl7Element first = element.Component(1);
        return TryParse(first.RawMemory.Span, out Hl7DateTime value) ? value : null;
    }

    /// <summary>Parses a DTM value.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Hl7DateTime value)
    {
        value = default;
        text = text.Trim();
        TimeSpan? offset = null;
        int sign = text.IndexOfAny('+', '-');
        if (sign >= 0)
        {
            ReadOnlySpan<char> z = text[(sign + 1)..];
            if (z.Length != 4 || !TryDigits(z[..2], out int oh) || !TryDigits(z[2..], out int om) || om > 59 || oh > 14)
            {
                return false;
            }

            offset = new TimeSpan(oh, om, 0);
            if (text[sign] == '-')
            {
                offset = -offset;
            }

            text = text[..sign];
        }

        ReadOnlySpan<char> fractionText = default;
        int dot = text.IndexOf('.');
        if (dot >= 0)
        {
            fractionText = text[(dot + 1)..];
            text = text[..dot];
            if (text.Length != 14 || fractionText.Length is < 1 or > 4)
            {
                return false;
            }
        }

        if (text.Length is not (4 or 6 or 8 or 10 or 12 or 14))
        {
            return false;
        }

        int month = 1, day = 1, hour = 0, minute = 0, second = 0, fraction = 0;
        if (!TryDigits(text[..4], out int year)
            || (text.Length >= 6 && !TryDigits(text[4..6], out month))
            || (text.Length >= 8 && !TryDigits(text[6..8], out day))
            || (text.Length >= 10 && !TryDigits(text[8..10], out hour))
            || (text.Length >= 12 && !TryDigits(text[10..12], out minute))
            || (text.Length >= 14 && !TryDigits(text[12..14], out second))
            || (fractionText.Length > 0 && !TryDigits(fractionText, out fraction)))
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        Hl7DateTimePrecision precision = fractionText.Length > 0 ? Hl7DateTimePrecision.FractionOfSecond : text.Length switch
        {
            4 => Hl7DateTimePrecision.Year,
            6 => Hl7DateTimePrecision.Month,
            8 => Hl7DateTimePrecision.Day,
            10 => Hl7DateTimePrecision.Hour,
            12 => Hl7DateTimePrecision.Minute,
            _ => Hl7DateTimePrecision.Second,
        };
        value = new Hl7DateTime(year, month, day, hour, minute, second, fraction, fractionText.Length, precision, offset);
        return true;
    }

    /// <summary>
    /// A value from a <see cref="DateTimeOffset"/>, cut to <paramref name="precision"/> (fractions to four
    /// digits), with its offset unless <paramref name="includeOffset"/> is false.
    /// </summary>
    public static Hl7DateTime FromDateTimeOffset(DateTimeOffset value, Hl7DateTimePrecision precision = Hl7DateTimePrecision.Second, bool includeOffset = true)
    {
        bool fractional = precision == Hl7DateTimePrecision.FractionOfSecond;
        return new Hl7DateTime(
            value.Year,
            precision >= Hl7DateTimePrecision.Month ? value.Month : 1,
            precision >= Hl7DateTimePrecision.Day ? value.Day : 1,
            precision >= Hl7DateTimePrecision.Hour ? value.Hour : 0,
            precision >= Hl7DateTimePrecision.Minute ? value.Minute : 0,
            precision >= Hl7DateTimePrecision.Second ? value.Second : 0,
            fractional ? (int)(value.Ticks % TimeSpan.TicksPerSecond / 1000) : 0,
            fractional ? 4 : 0,
            precision,
            includeOffset ? value.Offset : null);
    }

    /// <summary>
    /// The instant, parts not sent taken as their earliest value. Without a sent offset the value is local time
    /// of the sender: <paramref name="assumedOffset"/> is used, or this machine's zone when null.
    /// </summary>
    public DateTimeOffset ToDateTimeOffset(TimeSpan? assumedOffset = null)
    {
        long fractionTicks = FractionDigits == 0 ? 0 : Fraction * (TimeSpan.TicksPerSecond / Pow10(FractionDigits));
        var local = new DateTime(Year, Month, Day, Hour, Minute, Second, DateTimeKind.Unspecified).AddTicks(fractionTicks);
        TimeSpan offset = Offset ?? assumedOffset ?? TimeZoneInfo.Local.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }

    /// <summary>The value in HL7 form, at the precision and with the offset it was sent with.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(24);
        sb.Append(Year.ToString("D4", CultureInfo.InvariantCulture));
        AppendPart(sb, Hl7DateTimePrecision.Month, Month);
        AppendPart(sb, Hl7DateTimePrecision.Day, Day);
        AppendPart(sb, Hl7DateTimePrecision.Hour, Hour);
        AppendPart(sb, Hl7DateTimePrecision.Minute, Minute);
        AppendPart(sb, Hl7DateTimePrecision.Second, Second);
        if (Precision == Hl7DateTimePrecision.FractionOfSecond)
        {
            sb.Append('.').Append(Fraction.ToString("D" + FractionDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
        }

        if (Offset is { } o)
        {
            sb.Append(o < TimeSpan.Zero ? '-' : '+');
            TimeSpan a = o.Duration();
            sb.Append(a.Hours.ToString("D2", CultureInfo.InvariantCulture)).Append(a.Minutes.ToString("D2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    private void AppendPart(StringBuilder sb, Hl7DateTimePrecision needed, int value)
    {
        if (Precision >= needed)
        {
            sb.Append(value.ToString("D2", CultureInfo.InvariantCulture));
        }
    }

    private static long Pow10(int digits) => digits switch { 1 => 10, 2 => 100, 3 => 1000, _ => 10000 };

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return s.Length > 0;
    }
}
