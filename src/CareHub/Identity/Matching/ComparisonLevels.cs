namespace CareHub.Identity.Matching;

/// <summary>The fields the probabilistic stage compares, one comparison each.</summary>
public enum MatchField
{
    NhsNumber,
    GivenName,
    FamilyName,
    BirthDate,
    Sex,
    Postcode,
    Address,
    Town,
    Phone,
    Email,
}

/// <summary>How a comparison level reads to a person reviewing the pair.</summary>
public enum FieldAgreement
{
    /// <summary>The values are the same once normalised.</summary>
    Agrees,

    /// <summary>The values differ in a way typical of the same person (a typo, a swap, an initial, a previous name).</summary>
    PartlyAgrees,

    /// <summary>The values differ.</summary>
    Differs,

    /// <summary>One record or both lacks the value: the field neither supports nor opposes a match.</summary>
    Missing,
}

/// <summary>
/// The agreement levels of every comparison (the gamma patterns of Fellegi and Sunter, "A Theory for
/// Record Linkage", JASA 1969). A comparator returns the first level, in declaration order within its
/// field, that the pair meets; each level has its own m and u probability in <see cref="MatchParameters"/>.
/// </summary>
public enum ComparisonLevel
{
    NhsNumberExact,
    /// <summary>One digit different or two adjacent digits transposed: the commonest keying errors.</summary>
    NhsNumberOneEdit,
    NhsNumberDifferent,

    /// <summary>The forenames are the same.</summary>
    GivenNameExact,
    /// <summary>Jaro-Winkler at least 0.92 (a typo).</summary>
    GivenNameSimilar,
    /// <summary>Same NYSIIS code (a spelling variant: Catherine, Kathryn).</summary>
    GivenNamePhonetic,
    /// <summary>A middle or alias given name of one is a given name of the other (known by a middle name).</summary>
    GivenNameOtherName,
    /// <summary>One forename is an initial that the other starts with.</summary>
    GivenNameInitial,
    /// <summary>Jaro-Winkler at least 0.8.</summary>
    GivenNameFuzzy,
    GivenNameDifferent,

    FamilyNameExact,
    /// <summary>A part of a hyphenated or multiple family name, or a previous or alias family name, matches.</summary>
    FamilyNamePartOrPrevious,
    /// <summary>Jaro-Winkler at least 0.92.</summary>
    FamilyNameSimilar,
    /// <summary>Same NYSIIS code.</summary>
    FamilyNamePhonetic,
    /// <summary>Jaro-Winkler at least 0.8.</summary>
    FamilyNameFuzzy,
    FamilyNameDifferent,

    BirthDateExact,
    /// <summary>Day and month swapped (05/03 against 03/05), as happens between UK and US order.</summary>
    BirthDateDayMonthTransposed,
    /// <summary>One digit of YYYYMMDD different.</summary>
    BirthDateOneDigit,
    /// <summary>Same day and month, years one apart.</summary>
    BirthDateYearOffByOne,
    /// <summary>One date is partial (year, or year and month) and the parts both hold agree.</summary>
    BirthDatePartialAgrees,
    BirthDateDifferent,

    SexAgrees,
    SexDifferent,

    PostcodeFull,
    /// <summary>Same outward code (area and district), different inward code: a move within the district.</summary>
    PostcodeOutward,
    PostcodeDifferent,

    /// <summary>The same address tokens.</summary>
    AddressExact,
    /// <summary>At least 70% of tokens match (exactly or by Jaro-Winkler at least 0.9).</summary>
    AddressMostTokens,
    /// <summary>At least 30% of tokens match.</summary>
    AddressSomeTokens,
    AddressDifferent,

    TownExact,
    /// <summary>Jaro-Winkler at least 0.85.</summary>
    TownSimilar,
    TownDifferent,

    PhoneExact,
    PhoneDifferent,

    EmailExact,
    /// <summary>Same local part, or Jaro-Winkler at least 0.9 over the whole address.</summary>
    EmailSimilar,
    EmailDifferent,
}

/// <summary>Facts about each <see cref="ComparisonLevel"/>.</summary>
public static class ComparisonLevels
{
    /// <summary>Every level in declaration order.</summary>
    public static IReadOnlyList<ComparisonLevel> All { get; } = Enum.GetValues<ComparisonLevel>();

    /// <summary>The field a level belongs to.</summary>
    public static MatchField FieldOf(ComparisonLevel level) => level switch
    {
        <= ComparisonLevel.NhsNumberDifferent => MatchField.NhsNumber,
        <= ComparisonLevel.GivenNameDifferent => MatchField.GivenName,
        <= ComparisonLevel.FamilyNameDifferent => MatchField.FamilyName,
        <= ComparisonLevel.BirthDateDifferent => MatchField.BirthDate,
        <= ComparisonLevel.SexDifferent => MatchField.Sex,
        <= ComparisonLevel.PostcodeDifferent => MatchField.Postcode,
        <= ComparisonLevel.AddressDifferent => MatchField.Address,
        <= ComparisonLevel.TownDifferent => MatchField.Town,
        <= ComparisonLevel.PhoneDifferent => MatchField.Phone,
        _ => MatchField.Email,
    };

    /// <summary>The levels of one field, in the order its comparator tries them.</summary>
    public static IReadOnlyList<ComparisonLevel> Of(MatchField field) => All.Where(l => FieldOf(l) == field).ToArray();

    /// <summary>How the level reads to a reviewer.</summary>
    public static FieldAgreement AgreementOf(ComparisonLevel level) => level switch
    {
        ComparisonLevel.NhsNumberExact or ComparisonLevel.GivenNameExact or ComparisonLevel.FamilyNameExact
            or ComparisonLevel.BirthDateExact or ComparisonLevel.SexAgrees or ComparisonLevel.PostcodeFull
            or ComparisonLevel.AddressExact or ComparisonLevel.TownExact or ComparisonLevel.PhoneExact
            or ComparisonLevel.EmailExact => FieldAgreement.Agrees,
        ComparisonLevel.NhsNumberDifferent or ComparisonLevel.GivenNameDifferent or ComparisonLevel.FamilyNameDifferent
            or ComparisonLevel.BirthDateDifferent or ComparisonLevel.SexDifferent or ComparisonLevel.PostcodeDifferent
            or ComparisonLevel.AddressDifferent or ComparisonLevel.TownDifferent or ComparisonLevel.PhoneDifferent
            or ComparisonLevel.EmailDifferent => FieldAgreement.Differs,
        _ => FieldAgreement.PartlyAgrees,
    };
}
