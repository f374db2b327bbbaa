namespace CareHub.Hl7v2;

/// <summary>
/// An extended composite identifier (CX), e.g. one repetition of PID-3: id, check digit, check digit scheme,
/// assigning authority (HD), identifier type code (HL7 table 0203, e.g. MR, NH for an NHS number) and
/// assigning facility (HD).
/// </summary>
public sealed record Hl7Identifier(
    string Id,
    Hl7HierarchicDesignator? AssigningAuthority = null,
    string IdentifierTypeCode = "",
    Hl7HierarchicDesignator? AssigningFacility = null,
    string CheckDigit = "",
    string CheckDigitScheme = "")
{
    /// <summary>Reads one repetition of a CX field (the first repetition when given a field).</summary>
    public static Hl7Identifier From(Hl7Element element)
    {
        Hl7Element e = element.Level == Hl7ElementLevel.Field ? element.Repetition(1) : element;
        Hl7HierarchicDesignator authority = Hl7HierarchicDesignator.FromSubcomponents(e.Component(4));
        Hl7HierarchicDesignator facility = Hl7HierarchicDesignator.FromSubcomponents(e.Component(6));
        return new Hl7Identifier(
            e.Component(1).Value,
            authority.IsEmpty ? null : authority,
            e.Component(5).Value,
            facility.IsEmpty ? null : facility,
            e.Component(2).Value,
            e.Component(3).Value);
    }

    /// <summary>All repetitions of a CX field.</summary>
    public static IReadOnlyList<Hl7Identifier> All(Hl7Element field)
    {
        var ids = new List<Hl7Identifier>();
        foreach (Hl7Element repetition in field.Repetitions)
        {
            ids.Add(From(repetition));
        }

        return ids;
    }

    /// <summary>The first repetition with the identifier type code (e.g. "NH", "MR"), or null.</summary>
    public static Hl7Identifier? FindByType(Hl7Element field, string identifierTypeCode)
    {
        foreach (Hl7Element repetition in field.Repetitions)
        {
            if (repetition.Component(5).Value.Equals(identifierTypeCode, StringComparison.Ordinal))
            {
                return From(repetition);
            }
        }

        return null;
    }

    /// <summary>The identifier as one encoded CX repetition.</summary>
    public string Encode(Hl7Delimiters delimiters)
    {
        string authority = AssigningAuthority?.Encode(delimiters, delimiters.Subcomponent) ?? string.Empty;
        string facility = AssigningFacility?.Encode(delimiters, delimiters.Subcomponent) ?? string.Empty;
        return Hl7Composite.JoinEncoded(delimiters.Component,
            Hl7Escaping.Escape(Id, delimiters), Hl7Escaping.Escape(CheckDigit, delimiters), Hl7Escaping.Escape(CheckDigitScheme, delimiters),
            authority, Hl7Escaping.Escape(IdentifierTypeCode, delimiters), facility);
    }

    /// <summary>A description without the identifier value (it may be an NHS number).</summary>
    public override string ToString() => $"CX (type '{IdentifierTypeCode}', authority '{AssigningAuthority?.NamespaceId}')";
}

/// <summary>
/// A hierarchic designator (HD): namespace id, universal id (e.g. an OID) and universal id type (e.g. ISO).
/// Used as components (MSH-4) or as subcomponents (CX.4).
/// </summary>
public sealed record Hl7HierarchicDesignator(string NamespaceId, string UniversalId = "", string UniversalIdType = "")
{
    /// <summary>True when nothing is set.</summary>
    public bool IsEmpty => NamespaceId.Length == 0 && UniversalId.Length == 0 && UniversalIdType.Length == 0;

    /// <summary>Reads an HD from the components of a field or repetition (e.g. MSH-4).</summary>
    public static Hl7HierarchicDesignator FromComponents(Hl7Element element) =>
        new(element.Component(1).Value, element.Component(2).Value, element.Component(3).Value);

    /// <summary>Reads an HD from the subcomponents of a component (e.g. CX.4).</summary>
    public static Hl7HierarchicDesignator FromSubcomponents(Hl7Element component) =>
        new(component.Subcomponent(1).Value, component.Subcomponent(2).Value, component.Subcomponent(3).Value);

    /// <summary>Encodes the HD joined by <paramref name="separator"/> (component or subcomponent separator).</summary>
    public string Encode(Hl7Delimiters delimiters, char separator) =>
        Hl7Composite.Join(delimiters, separator, NamespaceId, UniversalId, UniversalIdType);
}
