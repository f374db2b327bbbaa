namespace CareHub.Identity.Matching;

/// <summary>
/// One system's view of a person, as the matching engine sees it: independent of FHIR and of storage,
/// so a GP record, a hospital PAS record and a social care record compare alike. Values are kept as
/// the source sent them; the engine normalises them (see <see cref="PreparedPerson"/>).
/// </summary>
/// <param name="SourceSystem">The system that owns the record (an ODS code or a channel name).</param>
/// <param name="LocalId">The record's id within <paramref name="SourceSystem"/>.</param>
public sealed record PersonRecord(string SourceSystem, string LocalId)
{
    /// <summary>The NHS Number as supplied, possibly missing, mistyped or spaced; the engine standardises it.</summary>
    public string? NhsNumber { get; init; }

    /// <summary>Given names in order: the first is the forename, the rest middle names.</summary>
    public IReadOnlyList<string> GivenNames { get; init; } = [];

    public string? FamilyName { get; init; }

    /// <summary>Previous names (e.g. a maiden name) and aliases, compared when the current names differ.</summary>
    public IReadOnlyList<PersonName> OtherNames { get; init; } = [];

    public PartialDate? BirthDate { get; init; }

    public PersonSex? Sex { get; init; }

    public string? Postcode { get; init; }

    /// <summary>Street-level lines (house number, street, locality), without the town and postcode.</summary>
    public IReadOnlyList<string> AddressLines { get; init; } = [];

    /// <summary>The post town or city (FHIR <c>Address.city</c>), compared apart from the lines because it says little on its own.</summary>
    public string? Town { get; init; }

    public string? Phone { get; init; }

    public string? Email { get; init; }
}

/// <summary>A previous or alias name of a person.</summary>
public sealed record PersonName(IReadOnlyList<string> GivenNames, string? FamilyName);

/// <summary>Administrative sex (FHIR <c>AdministrativeGender</c> without <c>unknown</c>, which is held as null).</summary>
public enum PersonSex
{
    Male,
    Female,
    Other,
}
