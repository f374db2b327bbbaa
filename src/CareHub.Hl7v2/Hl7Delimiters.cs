namespace CareHub.Hl7v2;

/// <summary>
/// The message delimiters of an ER7 message, read from MSH-1 (field separator) and MSH-2 (encoding
/// characters: component, repetition, escape, subcomponent and, from v2.7, truncation).
/// HL7 v2.5 chapter 2.5.4 (message delimiters); v2.7 chapter 2.5.5.2 adds the truncation character.
/// </summary>
public sealed record Hl7Delimiters
{
    /// <summary>The recommended delimiters: <c>|^~\&amp;</c>.</summary>
    public static Hl7Delimiters Default { get; } = new('|', '^', '~', '\\', '&');

    /// <summary>Creates a delimiter set; throws <see cref="ArgumentException"/> when it is not legal.</summary>
    public Hl7Delimiters(char field, char component, char repetition, char escape, char subcomponent, char? truncation = null)
    {
        string? problem = Problem(field, component, repetition, escape, subcomponent, truncation);
        if (problem is not null)
        {
            throw new ArgumentException(problem);
        }

        Field = field;
        Component = component;
        Repetition = repetition;
        Escape = escape;
        Subcomponent = subcomponent;
        Truncation = truncation;
    }

    /// <summary>MSH-1.</summary>
    public char Field { get; }

    /// <summary>MSH-2, first character.</summary>
    public char Component { get; }

    /// <summary>MSH-2, second character.</summary>
    public char Repetition { get; }

    /// <summary>MSH-2, third character.</summary>
    public char Escape { get; }

    /// <summary>MSH-2, fourth character.</summary>
    public char Subcomponent { get; }

    /// <summary>MSH-2, fifth character (v2.7 and later), when present.</summary>
    public char? Truncation { get; }

    /// <summary>The MSH-2 value these delimiters encode to.</summary>
    public string EncodingCharacters => Truncation is { } t
        ? string.Concat(Component, Repetition, Escape, Subcomponent, t)
        : string.Concat(Component, Repetition, Escape, Subcomponent);

    /// <summary>
    /// Reads the delimiters from the start of an MSH, BHS or FHS segment. Returns null and a reason when the
    /// header does not carry a legal delimiter set.
    /// </summary>
    public static Hl7Delimiters? TryRead(ReadOnlySpan<char> segment, out string? problem)
    {
        problem = null;
        if (segment.Length < 4)
        {
            problem = "the header segment is too short to hold MSH-1 and MSH-2";
            return null;
        }

        char field = segment[3];
        ReadOnlySpan<char> rest = segment[4..];
        int end = rest.IndexOf(field);
        ReadOnlySpan<char> encoding = end < 0 ? rest : rest[..end];
        if (encoding.Length is < 4 or > 5)
        {
            problem = $"MSH-2 must hold 4 encoding characters (5 from v2.7), found {encoding.Length}";
            return null;
        }

        char? truncation = encoding.Length == 5 ? encoding[4] : null;
        problem = Problem(field, encoding[0], encoding[1], encoding[2], encoding[3], truncation);
        return problem is null ? new Hl7Delimiters(field, encoding[0], encoding[1], encoding[2], encoding[3], truncation) : null;
    }

    /// <summary>True when <paramref name="c"/> is one of the five structural delimiters (not truncation).</summary>
    public bool IsDelimiter(char c) =>
        c == Field || c == Component || c == Repetition || c == Escape || c == Subcomponent;

    private static string? Problem(char field, char component, char repetition, char escape, char subcomponent, char? truncation)
    {
        Span<char> all = [field, component, repetition, escape, subcomponent, truncation ?? '\0'];
        int count = truncation is null ? 5 : 6;
        for (int i = 0; i < count; i++)
        {
            char c = all[i];
            // HL7 v2 chapter 2.5.4: delimiters are single printable characters that cannot appear in
            // data unescaped; letters, digits, whitespace and the segment terminator would make the
            // message ambiguous.
            if (char.IsLetterOrDigit(c) || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return $"'{Printable(c)}' cannot be an HL7 delimiter (letters, digits, whitespace and control characters are not allowed)";
            }

            for (int j = 0; j < i; j++)
            {
                if (all[j] == c)
                {
                    return $"the delimiter '{c}' is used twice";
                }
            }
        }

        return null;
    }

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString();
}
