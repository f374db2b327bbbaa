using System.Globalization;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// The Expression Constraint Language subset CareHub evaluates (SNOMED CT ECL 2.x, brief syntax): a concept id (with
/// an optional |term|) or <c>*</c>; the hierarchy operators <c>&lt;</c>, <c>&lt;&lt;</c>, <c>&lt;!</c>, <c>&lt;&lt;!</c>,
/// <c>&gt;</c>, <c>&gt;&gt;</c>, <c>&gt;!</c>, <c>&gt;&gt;!</c>; member of <c>^</c>; <c>AND</c> (or <c>,</c>),
/// <c>OR</c> and <c>MINUS</c>; parentheses; and refinement <c>: attribute = value</c> (or <c>!=</c>) with
/// attributes joined by <c>,</c>/<c>AND</c> or <c>OR</c>, where the attribute and the value are themselves
/// constraints (<c>&lt;&lt; 363698007 = &lt;&lt; 113331007</c>). Comments (<c>/* */</c>) are skipped. Attribute groups,
/// cardinality, reverse attributes, dotted attributes, concrete values, filters and the long-syntax keywords are refused
/// as syntax errors naming what is not supported. <see cref="Parse"/> answers the expression's tree or throws
/// <see cref="EclSyntaxException"/> with the 1-based position.
/// </summary>
public sealed class Ecl
{
    private readonly string text;
    private int position;

    private Ecl(string text) => this.text = text;

    /// <summary>The longest expression accepted, in characters.</summary>
    public const int MaxLength = 4096;

    private const int MaxDepth = 50;
    private int depth;

    public static EclNode Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        if (expression.Length > MaxLength)
        {
            throw new EclSyntaxException(MaxLength + 1, $"the expression is longer than {MaxLength} characters.");
        }

        var parser = new Ecl(expression);
        var node = parser.Expression();
        parser.Skip();
        if (parser.position < expression.Length)
        {
            throw parser.Error($"unexpected '{expression[parser.position]}' after a complete expression.");
        }

        return node;
    }

    private EclNode Expression()
    {
        if (++depth > MaxDepth)
        {
            throw Error($"the expression nests more than {MaxDepth} deep.");
        }

        var left = SubExpression();
        Skip();
        if (Peek(':'))
        {
            position++;
            left = new EclRefined(left, Refinement());
            Skip();
        }

        string? chain = null;
        Skip();
        var at = position;
        while (Operator() is { } op)
        {
            if (chain is not null && (chain != op || op == "MINUS"))
            {
                throw new EclSyntaxException(at + 1, $"'{op}' follows '{chain}' without parentheses; ECL needs parentheses to mix or repeat MINUS.");
            }

            chain = op;
            var right = SubExpression();
            left = new EclCompound(op, left, right);
            Skip();
            at = position;
        }

        depth--;
        return left;
    }

    /// <summary>AND (or a comma), OR or MINUS at the position, consumed; null when there is none.</summary>
    private string? Operator()
    {
        Skip();
        if (Peek(','))
        {
            position++;
            return "AND";
        }

        foreach (var word in new[] { "AND", "OR", "MINUS" })
        {
            if (Word(word))
            {
                return word;
            }
        }

        return null;
    }

    private bool Word(string word)
    {
        if (position + word.Length <= text.Length && string.Compare(text, position, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0
            && (position + word.Length == text.Length || !char.IsAsciiLetterOrDigit(text[position + word.Length])))
        {
            position += word.Length;
            return true;
        }

        return false;
    }

    private EclNode SubExpression()
    {
        Skip();
        var op = HierarchyOperator();
        Skip();
        var member = false;
        if (Peek('^'))
        {
            position++;
            member = true;
            Skip();
        }

        EclNode focus;
        if (Peek('('))
        {
            position++;
            focus = Expression();
            Skip();
            Expect(')');
        }
        else
        {
            focus = Focus();
        }

        if (member)
        {
            focus = new EclMemberOf(focus);
        }

        return op is null ? focus : new EclHierarchy(op, focus);
    }

    private string? HierarchyOperator()
    {
        foreach (var op in new[] { "<<!", ">>!", "<<", ">>", "<!", ">!", "<", ">" })
        {
            if (string.CompareOrdinal(text, position, op, 0, op.Length) == 0)
            {
                position += op.Length;
                return op;
            }
        }

        return null;
    }

    private EclNode Focus()
    {
        if (Peek('*'))
        {
            position++;
            return EclAny.Instance;
        }

        var start = position;
        while (position < text.Length && char.IsAsciiDigit(text[position]))
        {
            position++;
        }

        if (position == start)
        {
            if (position < text.Length && text[position] is '{' or '[' or '#' or '"' or '@')
            {
                throw Error($"'{text[position]}' starts something this server does not support (attribute groups, cardinality, concrete values, filters, alternate identifiers).");
            }

            throw Error(position < text.Length ? $"expected a concept id, '*' or '(' but found '{text[position]}'." : "expected a concept id, '*' or '(' but the expression ended.");
        }

        var digits = text[start..position];
        if (digits.Length is < 6 or > 18 || digits[0] == '0')
        {
            position = start;
            throw Error($"'{digits}' is not an SCTID (6 to 18 digits, no leading zero).");
        }

        Skip();
        if (Peek('|'))
        {
            var close = text.IndexOf('|', position + 1);
            if (close < 0)
            {
                throw Error("a term opened with '|' is not closed.");
            }

            position = close + 1;
        }

        return new EclConcept(long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture));
    }

    private EclRefinement Refinement()
    {
        var attributes = new List<EclAttribute> { Attribute() };
        string? join = null;
        while (true)
        {
            Skip();
            var save = position;
            string? op = Peek(',') ? "AND" : null;
            if (op is not null)
            {
                position++;
            }
            else if (Word("AND"))
            {
                op = "AND";
            }
            else if (Word("OR"))
            {
                op = "OR";
            }

            if (op is null)
            {
                break;
            }

            // "A : x = y AND B" without parentheses would be ambiguous; a refinement's AND joins attributes only when one follows.
            Skip();
            if (!StartsAttribute())
            {
                position = save;
                break;
            }

            if (join is not null && join != op)
            {
                throw Error("a refinement mixes AND and OR without parentheses.");
            }

            join = op;
            attributes.Add(Attribute());
        }

        return new EclRefinement(join ?? "AND", attributes);
    }

    private bool StartsAttribute()
    {
        var save = position;
        try
        {
            SubExpression();
            Skip();
            return Peek('=') || (Peek('!') && position + 1 < text.Length && text[position + 1] == '=');
        }
        catch (EclSyntaxException)
        {
            return false;
        }
        finally
        {
            position = save;
        }
    }

    private EclAttribute Attribute()
    {
        Skip();
        if (Peek('{') || Peek('['))
        {
            throw Error("attribute groups ({ }) and cardinality ([ ]) are not supported by this server.");
        }

        var name = SubExpression();
        Skip();
        bool equal;
        if (Peek('='))
        {
            position++;
            equal = true;
        }
        else if (Peek('!') && position + 1 < text.Length && text[position + 1] == '=')
        {
            position += 2;
            equal = false;
        }
        else
        {
            throw Error(position < text.Length ? $"expected '=' or '!=' after the attribute but found '{text[position]}'." : "expected '=' or '!=' after the attribute but the expression ended.");
        }

        return new EclAttribute(name, equal, SubExpression());
    }

    private void Skip()
    {
        while (position < text.Length)
        {
            if (char.IsWhiteSpace(text[position]))
            {
                position++;
            }
            else if (string.CompareOrdinal(text, position, "/*", 0, 2) == 0)
            {
                var close = text.IndexOf("*/", position + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw Error("a comment opened with '/*' is not closed.");
                }

                position = close + 2;
            }
            else
            {
                return;
            }
        }
    }

    private bool Peek(char c) => position < text.Length && text[position] == c;

    private void Expect(char c)
    {
        if (!Peek(c))
        {
            throw Error(position < text.Length ? $"expected '{c}' but found '{text[position]}'." : $"expected '{c}' but the expression ended.");
        }

        position++;
    }

    private EclSyntaxException Error(string message) => new(position + 1, message);
}

/// <summary>An ECL expression that cannot be parsed: the 1-based character position and what is wrong there.</summary>
public sealed class EclSyntaxException(int position, string problem) : Exception($"ECL syntax error at position {position}: {problem}")
{
    public int Position { get; } = position;
}

/// <summary>A node of a parsed expression constraint.</summary>
public abstract record EclNode;

/// <summary>One concept.</summary>
public sealed record EclConcept(long Id) : EclNode;

/// <summary>Any concept (<c>*</c>).</summary>
public sealed record EclAny : EclNode
{
    public static readonly EclAny Instance = new();
}

/// <summary>A hierarchy operator (&lt;, &lt;&lt;, &lt;!, &lt;&lt;!, &gt;, &gt;&gt;, &gt;!, &gt;&gt;!) applied to its focus.</summary>
public sealed record EclHierarchy(string Operator, EclNode Focus) : EclNode;

/// <summary>The members of the refsets the focus selects (<c>^</c>).</summary>
public sealed record EclMemberOf(EclNode Refsets) : EclNode;

/// <summary>AND, OR or MINUS of two constraints.</summary>
public sealed record EclCompound(string Operator, EclNode Left, EclNode Right) : EclNode;

/// <summary>A constraint refined by attributes.</summary>
public sealed record EclRefined(EclNode Focus, EclRefinement Refinement) : EclNode;

/// <summary>Attributes joined by AND or OR.</summary>
public sealed record EclRefinement(string Join, IReadOnlyList<EclAttribute> Attributes);

/// <summary>An attribute: a relationship of a type the name selects to (or, with Equal false, not to) a value the value selects.</summary>
public sealed record EclAttribute(EclNode Name, bool Equal, EclNode Value);

/// <summary>The concepts that are refsets (<c>http://snomed.info/sct?fhir_vs=refset</c>); not ECL syntax.</summary>
public sealed record EclRefsets : EclNode
{
    public static readonly EclRefsets Instance = new();
}
