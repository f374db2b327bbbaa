namespace CareHub.Hl7v2;

/// <summary>
/// A person name (XPN; PN before v2.3): family name (FN.1 surname), given name, further given names,
/// suffix, prefix, degree and name type code (HL7 table 0200, e.g. L legal, D display, U usual).
/// <see cref="ToString"/> does not print the name, so that logging the object cannot leak it.
/// </summary>
public sealed record Hl7PersonName(
    string FamilyName,
    string GivenName = "",
    string MiddleNames = "",
    string Suffix = "",
    string Prefix = "",
    string Degree = "",
    string NameTypeCode = "")
{
    /// <summary>Reads a name from one repetition of an XPN field (the first repetition when given a field).</summary>
    public static Hl7PersonName From(Hl7Element element)
    {
        Hl7Element e = element.Level == Hl7ElementLevel.Field ? element.Repetition(1) : element;
        return new Hl7PersonName(
            e.Component(1).Subcomponent(1).Value,
            e.Component(2).Value,
            e.Component(3).Value,
            e.Component(4).Value,
            e.Component(5).Value,
            e.Component(6).Value,
            e.Component(7).Value);
    }

    /// <summary>All repetitions of an XPN field.</summary>
    public static IReadOnlyList<Hl7PersonName> All(Hl7Element field)
    {
        var names = new List<Hl7PersonName>();
        foreach (Hl7Element repetition in field.Repetitions)
        {
            names.Add(From(repetition));
        }

        return names;
    }

    /// <summary>The name as one encoded XPN repetition, trailing empty components dropped.</summary>
    public string Encode(Hl7Delimiters delimiters) =>
        Hl7Composite.Join(delimiters, delimiters.Component, FamilyName, GivenName, MiddleNames, Suffix, Prefix, Degree, NameTypeCode);

    /// <summary>A description without the name itself.</summary>
    public override string ToString() => $"XPN (type '{NameTypeCode}')";
}
