namespace CareHub.Hl7v2;

/// <summary>
/// A coded element (CE; CWE and CNE from v2.5 share the first six components): identifier, text, name of
/// coding system, and the alternate triplet; CWE adds coding system versions and original text (9).
/// </summary>
public sealed record Hl7CodedElement(
    string Identifier,
    string Text = "",
    string CodingSystem = "",
    string AlternateIdentifier = "",
    string AlternateText = "",
    string AlternateCodingSystem = "",
    string CodingSystemVersion = "",
    string AlternateCodingSystemVersion = "",
    string OriginalText = "")
{
    /// <summary>Reads one repetition of a CE/CWE field (the first repetition when given a field).</summary>
    public static Hl7CodedElement From(Hl7Element element)
    {
        Hl7Element e = element.Level == Hl7ElementLevel.Field ? element.Repetition(1) : element;
        return new Hl7CodedElement(
            e.Component(1).Value, e.Component(2).Value, e.Component(3).Value,
            e.Component(4).Value, e.Component(5).Value, e.Component(6).Value,
            e.Component(7).Value, e.Component(8).Value, e.Component(9).Value);
    }

    /// <summary>Reads a coded element written as subcomponents (a CE inside a component, e.g. ELD.4 in ERR-1).</summary>
    public static Hl7CodedElement FromSubcomponents(Hl7Element component) => new(
        component.Subcomponent(1).Value, component.Subcomponent(2).Value, component.Subcomponent(3).Value,
        component.Subcomponent(4).Value, component.Subcomponent(5).Value, component.Subcomponent(6).Value);

    /// <summary>The coded element as one encoded repetition, trailing empty components dropped.</summary>
    public string Encode(Hl7Delimiters delimiters) => Encode(delimiters, delimiters.Component);

    /// <summary>Encodes joined by <paramref name="separator"/> (component, or subcomponent when nested).</summary>
    public string Encode(Hl7Delimiters delimiters, char separator) =>
        Hl7Composite.Join(delimiters, separator, Identifier, Text, CodingSystem, AlternateIdentifier, AlternateText,
            AlternateCodingSystem, CodingSystemVersion, AlternateCodingSystemVersion, OriginalText);
}

/// <summary>Joins composite parts.</summary>
internal static class Hl7Composite
{
    /// <summary>Escapes each part and joins them, dropping trailing empty parts (v2.5 chapter 2.5.3).</summary>
    public static string Join(Hl7Delimiters delimiters, char separator, params ReadOnlySpan<string> parts)
    {
        string[] escaped = new string[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            escaped[i] = Hl7Escaping.Escape(parts[i] ?? string.Empty, delimiters);
        }

        return JoinEncoded(separator, escaped);
    }

    /// <summary>Joins already encoded parts, dropping trailing empty parts.</summary>
    public static string JoinEncoded(char separator, params ReadOnlySpan<string> parts)
    {
        int last = parts.Length - 1;
        while (last >= 0 && string.IsNullOrEmpty(parts[last]))
        {
            last--;
        }

        return string.Join(separator, parts[..(last + 1)]);
    }
}
