using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Hl7.Fhir.Model;

namespace CareHub.Identity;

/// <summary>
/// A valid NHS Number: ten digits whose last is the Modulus 11 check digit of the first nine
/// (NHS Data Model and Dictionary, "NHS Number"). Scotland's CHI numbers share the number space and
/// the check digit; their first six digits are the holder's date of birth (DDMMYY), so a CHI number
/// whose DDMMYY is no calendar date is rejected too.
/// <para>
/// Behaviour follows the language-agnostic vectors of the uk-fci/nhs-number reference implementation
/// (2.0.0). <c>default(NhsNumber)</c> holds no number: only <see cref="Parse(string)"/>,
/// <see cref="TryParse(string?, out NhsNumber)"/> and the synthetic generator make valid instances.
/// </para>
/// </summary>
public readonly struct NhsNumber : IEquatable<NhsNumber>, IParsable<NhsNumber>
{
    /// <summary>The FHIR identifier system of the NHS Number (UK Core, <c>Patient.identifier:nhsNumber</c>).</summary>
    public const string IdentifierSystem = "https://fhir.nhs.uk/Id/nhs-number";

    // 999 000 000 0 to 999 999 999 9: the block of the synthetic range that test data conventionally uses.
    private const long SyntheticTestBase = 999_000_000;
    private const long SyntheticTestBaseEnd = 999_999_999;

    private readonly string? digits;

    private NhsNumber(string digits) => this.digits = digits;

    /// <summary>The ten digits, without spaces: the form stored and exchanged (e.g. FHIR <c>Identifier.value</c>).</summary>
    public string Value => this.digits ?? throw new InvalidOperationException("This NhsNumber is the default value and holds no number.");

    /// <summary>The block the number belongs to, or null for 0000000000 to 0000000009, which no range holds.</summary>
    public NhsNumberRegion? Region => NhsNumberRange.Of(long.Parse(Value, CultureInfo.InvariantCulture))?.Region;

    /// <summary>True for numbers that are never issued to real people (9000000000 to 9999999999).</summary>
    public bool IsSynthetic => Region == NhsNumberRegion.Synthetic;

    /// <summary>
    /// Reduces input to its ten digits: trims, removes spaces and dashes, and returns the empty string
    /// unless exactly ten ASCII digits remain.
    /// </summary>
    public static string Standardise(string? input)
    {
        if (string.IsNullOrEmpty(input))
        {
            return string.Empty;
        }

        Span<char> digits = stackalloc char[10];
        var count = 0;
        foreach (var c in input)
        {
            if (c == '-' || char.IsWhiteSpace(c))
            {
                continue;
            }

            if (!char.IsAsciiDigit(c) || count == digits.Length)
            {
                return string.Empty;
            }

            digits[count++] = c;
        }

        return count == digits.Length ? new string(digits) : string.Empty;
    }

    /// <summary>
    /// The ten digits of a number held as an integer, left-padded with zeros (a number stored as an
    /// integer loses its leading zeros); the empty string if negative or longer than ten digits.
    /// </summary>
    public static string Standardise(long input) =>
        input is < 0 or > 9_999_999_999 ? string.Empty : input.ToString("D10", CultureInfo.InvariantCulture);

    /// <summary>
    /// The Modulus 11 checksum of the first nine digits: each digit weighted 10 down to 2, the sum's
    /// remainder on division by 11 subtracted from 11, and 11 read as 0. A result of 10 means no check
    /// digit can match, so every number starting with these nine digits is invalid. Null unless the
    /// input is exactly nine ASCII digits.
    /// </summary>
    public static int? CalculateChecksum(string? nineDigits)
    {
        if (nineDigits is not { Length: 9 })
        {
            return null;
        }

        var sum = 0;
        for (var i = 0; i < 9; i++)
        {
            var c = nineDigits[i];
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }

            sum += (c - '0') * (10 - i);
        }

        var checksum = 11 - (sum % 11);
        return checksum == 11 ? 0 : checksum;
    }

    /// <summary>True if the input, once standardised, is a valid NHS Number (see the type's remarks).</summary>
    public static bool IsValid(string? input) => IsValidDigits(Standardise(input));

    /// <summary>True if the input is a valid NHS Number issued within <paramref name="region"/>.</summary>
    public static bool IsValid(string? input, NhsNumberRegion region) =>
        TryParse(input, out var number) && number.Region == region;

    public static bool TryParse([NotNullWhen(true)] string? input, out NhsNumber result)
    {
        var digits = Standardise(input);
        if (IsValidDigits(digits))
        {
            result = new NhsNumber(digits);
            return true;
        }

        result = default;
        return false;
    }

    /// <exception cref="FormatException">The input is not a valid NHS Number. The message does not echo it.</exception>
    public static NhsNumber Parse(string input) =>
        TryParse(input, out var result) ? result : throw new FormatException("The value is not a valid NHS Number.");

    static NhsNumber IParsable<NhsNumber>.Parse(string s, IFormatProvider? provider) => Parse(s);

    static bool IParsable<NhsNumber>.TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out NhsNumber result) =>
        TryParse(s, out result);

    /// <summary>
    /// The <paramref name="index"/>-th (from 0) valid number of the synthetic test block
    /// 999 000 000 0 to 999 999 999 9, in ascending order: the same index always gives the same number.
    /// Cost grows with the index; use <see cref="SyntheticTestNumbers"/> for many.
    /// </summary>
    public static NhsNumber SyntheticTestNumber(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var seen = 0;
        foreach (var number in SyntheticTestNumbers())
        {
            if (seen++ == index)
            {
                return number;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(index), index, "The synthetic test block holds fewer valid numbers.");
    }

    /// <summary>Every valid number of the synthetic test block, ascending (about 909,000 of them).</summary>
    public static IEnumerable<NhsNumber> SyntheticTestNumbers()
    {
        for (var stem = SyntheticTestBase; stem <= SyntheticTestBaseEnd; stem++)
        {
            var nine = stem.ToString("D9", CultureInfo.InvariantCulture);
            var checksum = CalculateChecksum(nine);
            if (checksum is >= 0 and <= 9)
            {
                yield return new NhsNumber(nine + (char)('0' + checksum.Value));
            }
        }
    }

    /// <summary>The number grouped 3-3-4 with spaces ("943 476 5919"), as NHS guidance asks for display.</summary>
    public string ToDisplayString() => string.Create(12, Value, static (span, digits) =>
    {
        digits.AsSpan(0, 3).CopyTo(span);
        span[3] = ' ';
        digits.AsSpan(3, 3).CopyTo(span[4..]);
        span[7] = ' ';
        digits.AsSpan(6, 4).CopyTo(span[8..]);
    });

    /// <summary>
    /// The FHIR identifier of this number, carrying the UK Core verification status extension with
    /// <paramref name="verificationStatus"/> (a code of <see cref="NhsNumberVerificationStatus"/>; null omits it).
    /// </summary>
    public Identifier ToFhirIdentifier(string? verificationStatus = NhsNumberVerificationStatus.NumberPresentAndVerified)
    {
        var identifier = new Identifier(IdentifierSystem, Value);
        if (verificationStatus is not null)
        {
            identifier.Extension.Add(NhsNumberVerificationStatus.ToExtension(verificationStatus));
        }

        return identifier;
    }

    /// <summary>The ten digits, or the empty string for the default value.</summary>
    public override string ToString() => this.digits ?? string.Empty;

    public bool Equals(NhsNumber other) => string.Equals(this.digits, other.digits, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is NhsNumber other && Equals(other);

    public override int GetHashCode() => this.digits is null ? 0 : StringComparer.Ordinal.GetHashCode(this.digits);

    public static bool operator ==(NhsNumber left, NhsNumber right) => left.Equals(right);

    public static bool operator !=(NhsNumber left, NhsNumber right) => !left.Equals(right);

    private static bool IsValidDigits(string digits)
    {
        if (digits.Length != 10 || CalculateChecksum(digits[..9]) != digits[9] - '0')
        {
            return false;
        }

        var value = long.Parse(digits, CultureInfo.InvariantCulture);
        return !NhsNumberRange.Scotland.Contains(value) || IsCalendarDate(digits);
    }

    // A CHI number's DDMMYY must name a real day. The two-digit year is accepted if the date exists in
    // either the 1900s or the 2000s (29/02/00 exists in 2000): deciding the century, or rejecting
    // future dates, would need today's date, and validity must not depend on the clock.
    private static bool IsCalendarDate(string digits)
    {
        var day = ((digits[0] - '0') * 10) + (digits[1] - '0');
        var month = ((digits[2] - '0') * 10) + (digits[3] - '0');
        var year = ((digits[4] - '0') * 10) + (digits[5] - '0');
        if (month is < 1 or > 12 || day < 1)
        {
            return false;
        }

        return day <= Math.Max(DateTime.DaysInMonth(1900 + year, month), DateTime.DaysInMonth(2000 + year, month));
    }
}
