namespace CareHub.Identity.Matching;

/// <summary>
/// A <see cref="PersonRecord"/> normalised once for comparison: names folded and tokenised with their
/// NYSIIS codes, the NHS Number standardised and checked, postcode split, phone and email reduced.
/// Preparing once and comparing many times keeps blocking and scoring near-linear in cost.
/// </summary>
public sealed class PreparedPerson
{
    private PreparedPerson(PersonRecord record)
    {
        Record = record;
        NhsDigits = CareHub.Identity.NhsNumber.Standardise(record.NhsNumber);
        ValidNhsNumber = CareHub.Identity.NhsNumber.TryParse(NhsDigits, out var nhs) ? nhs : null;

        FirstGiven = record.GivenNames.Select(NameValue.Of).FirstOrDefault(n => !n.IsEmpty) ?? NameValue.Empty;
        GivenTokens = record.GivenNames.SelectMany(g => MatchText.Tokens(g, lettersOnly: true)).Distinct(StringComparer.Ordinal).ToArray();
        OtherGivenTokens = record.OtherNames.SelectMany(n => n.GivenNames).SelectMany(g => MatchText.Tokens(g, lettersOnly: true))
            .Distinct(StringComparer.Ordinal).ToArray();
        Family = NameValue.Of(record.FamilyName);
        OtherFamilies = record.OtherNames.Select(n => NameValue.Of(n.FamilyName)).Where(n => !n.IsEmpty).ToArray();

        BirthDate = record.BirthDate;
        Sex = record.Sex;

        Postcode = UkPostcode.Normalise(record.Postcode);
        PostcodeOutward = UkPostcode.TrySplit(Postcode, out var outward) ? outward : null;
        AddressTokens = record.AddressLines.SelectMany(l => MatchText.Tokens(l, lettersOnly: false)).Distinct(StringComparer.Ordinal).ToArray();
        Town = MatchText.Joined(record.Town);
        Phone = UkPhoneNumber.Normalise(record.Phone);
        Email = string.IsNullOrWhiteSpace(record.Email) ? string.Empty : record.Email.Trim().ToLowerInvariant();
        var at = Email.IndexOf('@', StringComparison.Ordinal);
        EmailLocalPart = at > 0 ? Email[..at] : string.Empty;
    }

    public PersonRecord Record { get; }

    /// <summary>The ten digits as supplied (valid or not), or the empty string.</summary>
    internal string NhsDigits { get; }

    /// <summary>The NHS Number when the supplied one passes the Modulus 11 check.</summary>
    public NhsNumber? ValidNhsNumber { get; }

    internal NameValue FirstGiven { get; }

    internal string[] GivenTokens { get; }

    internal string[] OtherGivenTokens { get; }

    internal NameValue Family { get; }

    internal NameValue[] OtherFamilies { get; }

    internal PartialDate? BirthDate { get; }

    internal PersonSex? Sex { get; }

    internal string Postcode { get; }

    internal string? PostcodeOutward { get; }

    internal string[] AddressTokens { get; }

    internal string Town { get; }

    internal string Phone { get; }

    internal string Email { get; }

    internal string EmailLocalPart { get; }

    public static PreparedPerson From(PersonRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new PreparedPerson(record);
    }
}

/// <summary>One name normalised: joined letters, its tokens (parts of a hyphenated or multiple name) and its NYSIIS code.</summary>
internal sealed class NameValue
{
    public static readonly NameValue Empty = new(string.Empty, [], string.Empty);

    private NameValue(string joined, string[] tokens, string code)
    {
        Joined = joined;
        Tokens = tokens;
        Code = code;
    }

    public string Joined { get; }

    public string[] Tokens { get; }

    public string Code { get; }

    public bool IsEmpty => Joined.Length == 0;

    public static NameValue Of(string? name)
    {
        var tokens = MatchText.Tokens(name, lettersOnly: true);
        if (tokens.Count == 0)
        {
            return Empty;
        }

        var joined = string.Concat(tokens);
        return new NameValue(joined, tokens.ToArray(), Nysiis.Encode(joined));
    }
}
