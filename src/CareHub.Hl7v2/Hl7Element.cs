namespace CareHub.Hl7v2;

/// <summary>The level of an element in the ER7 hierarchy.</summary>
public enum Hl7ElementLevel
{
    /// <summary>A whole field, with all its repetitions.</summary>
    Field,

    /// <summary>One repetition of a field.</summary>
    Repetition,

    /// <summary>A component of a repetition.</summary>
    Component,

    /// <summary>A subcomponent of a component.</summary>
    Subcomponent,
}

/// <summary>
/// A read-only view of part of a segment: a field, a repetition, a component or a subcomponent. It points
/// into the parsed text and allocates nothing until <see cref="Value"/> or <see cref="Raw"/> is read.
/// Positions are 1-based as in HL7. Asking for a position that is not there gives an empty element, as the
/// standard treats a missing trailing part and an empty one alike (v2.5 chapter 2.5.3).
/// </summary>
public readonly struct Hl7Element
{
    private readonly ReadOnlyMemory<char> _raw;
    private readonly Hl7Delimiters? _delimiters;
    private readonly bool _opaque;

    internal Hl7Element(ReadOnlyMemory<char> raw, Hl7Delimiters delimiters, Hl7ElementLevel level, bool opaque = false)
    {
        _raw = raw;
        _delimiters = delimiters;
        Level = level;
        _opaque = opaque;
    }

    /// <summary>Where this element sits in the hierarchy.</summary>
    public Hl7ElementLevel Level { get; }

    /// <summary>The encoded text, escape sequences and lower-level delimiters included.</summary>
    public ReadOnlyMemory<char> RawMemory => _raw;

    /// <summary>The encoded text as a string.</summary>
    public string Raw => _raw.ToString();

    /// <summary>
    /// The decoded text: escape sequences resolved. For a composite element the lower-level delimiters are
    /// left in place, so read components to take it apart.
    /// </summary>
    public string Value => _opaque || _delimiters is null ? _raw.ToString() : Hl7Escaping.Unescape(_raw.Span, _delimiters);

    /// <summary>True when nothing was sent.</summary>
    public bool IsEmpty => _raw.IsEmpty;

    /// <summary>True for the explicit null <c>""</c>, which tells a receiver to delete the value (v2.5 chapter 2.5.3).</summary>
    public bool IsNull => _raw.Span is "\"\"";

    /// <summary>Number of repetitions of a field: 0 when empty.</summary>
    public int RepetitionCount => Level != Hl7ElementLevel.Field || _opaque ? (_raw.IsEmpty ? 0 : 1) : CountPieces(_delimiters!.Repetition);

    /// <summary>Number of components (of the first repetition, for a field); 0 when empty.</summary>
    public int ComponentCount => Level switch
    {
        Hl7ElementLevel.Field => Repetition(1).ComponentCount,
        Hl7ElementLevel.Repetition when !_opaque => CountPieces(_delimiters!.Component),
        _ => _raw.IsEmpty ? 0 : 1,
    };

    /// <summary>Number of subcomponents (of the first component, above component level); 0 when empty.</summary>
    public int SubcomponentCount => Level switch
    {
        Hl7ElementLevel.Field or Hl7ElementLevel.Repetition => Component(1).SubcomponentCount,
        Hl7ElementLevel.Component when !_opaque => CountPieces(_delimiters!.Subcomponent),
        _ => _raw.IsEmpty ? 0 : 1,
    };

    /// <summary>The n-th repetition of a field (1-based). Below field level, repetition 1 is the element itself.</summary>
    public Hl7Element Repetition(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (_delimiters is null)
        {
            return default;
        }

        if (Level != Hl7ElementLevel.Field)
        {
            return n == 1 ? this : default;
        }

        if (_opaque)
        {
            return n == 1 ? Down(Hl7ElementLevel.Repetition) : default;
        }

        return new Hl7Element(Piece(_raw, _delimiters!.Repetition, n), _delimiters, Hl7ElementLevel.Repetition);
    }

    /// <summary>
    /// The n-th component (1-based), of the first repetition when this is a field. Below repetition level,
    /// component 1 is the element itself: HL7 reads a primitive as the first component of a composite.
    /// </summary>
    public Hl7Element Component(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (_delimiters is null)
        {
            return default;
        }

        switch (Level)
        {
            case Hl7ElementLevel.Field:
                return Repetition(1).Component(n);
            case Hl7ElementLevel.Repetition when !_opaque:
                return new Hl7Element(Piece(_raw, _delimiters!.Component, n), _delimiters, Hl7ElementLevel.Component);
            case Hl7ElementLevel.Repetition:
                return n == 1 ? Down(Hl7ElementLevel.Component) : default;
            default:
                return n == 1 ? this : default;
        }
    }

    /// <summary>The n-th subcomponent (1-based) of this component, or of the first component above component level.</summary>
    public Hl7Element Subcomponent(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (_delimiters is null)
        {
            return default;
        }

        switch (Level)
        {
            case Hl7ElementLevel.Field:
            case Hl7ElementLevel.Repetition:
                return Component(1).Subcomponent(n);
            case Hl7ElementLevel.Component when !_opaque:
                return new Hl7Element(Piece(_raw, _delimiters!.Subcomponent, n), _delimiters, Hl7ElementLevel.Subcomponent);
            case Hl7ElementLevel.Component:
                return n == 1 ? Down(Hl7ElementLevel.Subcomponent) : default;
            default:
                return n == 1 ? this : default;
        }
    }

    /// <summary>The repetitions of a field, in order.</summary>
    public Hl7ElementList Repetitions => Level == Hl7ElementLevel.Field && !_opaque
        ? new Hl7ElementList(_raw, _delimiters!, _delimiters!.Repetition, Hl7ElementLevel.Repetition)
        : Hl7ElementList.Single(_raw, _delimiters, Hl7ElementLevel.Repetition, _opaque);

    /// <summary>The components of a repetition (of the first repetition, for a field).</summary>
    public Hl7ElementList Components => Level switch
    {
        Hl7ElementLevel.Field => Repetition(1).Components,
        Hl7ElementLevel.Repetition when !_opaque => new Hl7ElementList(_raw, _delimiters!, _delimiters!.Component, Hl7ElementLevel.Component),
        _ => Hl7ElementList.Single(_raw, _delimiters, Hl7ElementLevel.Component, _opaque),
    };

    /// <summary>The subcomponents of a component (of the first component, above component level).</summary>
    public Hl7ElementList Subcomponents => Level switch
    {
        Hl7ElementLevel.Field or Hl7ElementLevel.Repetition => Component(1).Subcomponents,
        Hl7ElementLevel.Component when !_opaque => new Hl7ElementList(_raw, _delimiters!, _delimiters!.Subcomponent, Hl7ElementLevel.Subcomponent),
        _ => Hl7ElementList.Single(_raw, _delimiters, Hl7ElementLevel.Subcomponent, _opaque),
    };

    /// <summary>The decoded value.</summary>
    public override string ToString() => Value;

    /// <summary>The same text one level down: MSH-1 and MSH-2 are values at every level, never split.</summary>
    private Hl7Element Down(Hl7ElementLevel level) => new(_raw, _delimiters!, level, _opaque);

    private int CountPieces(char separator) => _raw.IsEmpty ? 0 : _raw.Span.Count(separator) + 1;

    internal static ReadOnlyMemory<char> Piece(ReadOnlyMemory<char> raw, char separator, int n)
    {
        ReadOnlySpan<char> span = raw.Span;
        int start = 0;
        for (int i = 1; i < n; i++)
        {
            int next = span[start..].IndexOf(separator);
            if (next < 0)
            {
                return ReadOnlyMemory<char>.Empty;
            }

            start += next + 1;
        }

        int len = span[start..].IndexOf(separator);
        return raw.Slice(start, len < 0 ? span.Length - start : len);
    }
}

/// <summary>The children of an element, split lazily; enumerate with foreach (no allocation).</summary>
public readonly struct Hl7ElementList
{
    private readonly ReadOnlyMemory<char> _raw;
    private readonly Hl7Delimiters? _delimiters;
    private readonly char _separator;
    private readonly Hl7ElementLevel _level;
    private readonly bool _opaque;

    internal Hl7ElementList(ReadOnlyMemory<char> raw, Hl7Delimiters? delimiters, char separator, Hl7ElementLevel level, bool opaque = false)
    {
        _raw = raw;
        _delimiters = delimiters;
        _separator = separator;
        _level = level;
        _opaque = opaque;
    }

    /// <summary>
    /// A list holding just <paramref name="raw"/>: split on the field separator, which cannot occur inside
    /// a field, so it yields one element (none when empty).
    /// </summary>
    internal static Hl7ElementList Single(ReadOnlyMemory<char> raw, Hl7Delimiters? delimiters, Hl7ElementLevel level, bool opaque) =>
        new(raw, delimiters, delimiters?.Field ?? '\0', level, opaque);

    /// <summary>Starts the enumeration.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>Copies the children to a list.</summary>
    public List<Hl7Element> ToList()
    {
        var list = new List<Hl7Element>();
        foreach (Hl7Element e in this)
        {
            list.Add(e);
        }

        return list;
    }

    /// <summary>Enumerates children; an empty parent has none. A ref struct, so it scans the text as a span.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlyMemory<char> _raw;
        private readonly ReadOnlySpan<char> _span;
        private readonly Hl7Delimiters? _delimiters;
        private readonly char _separator;
        private readonly Hl7ElementLevel _level;
        private readonly bool _opaque;
        private int _next;

        internal Enumerator(Hl7ElementList list)
        {
            _raw = list._raw;
            _span = list._raw.Span;
            _delimiters = list._delimiters;
            _separator = list._separator;
            _level = list._level;
            _opaque = list._opaque;
            _next = _span.IsEmpty || _delimiters is null ? int.MaxValue : 0;
            Current = default;
        }

        /// <summary>The current child.</summary>
        public Hl7Element Current { get; private set; }

        /// <summary>Moves to the next child.</summary>
        public bool MoveNext()
        {
            if (_next > _span.Length)
            {
                return false;
            }

            int len = _span[_next..].IndexOf(_separator);
            if (len < 0)
            {
                len = _span.Length - _next;
            }

            Current = new Hl7Element(_raw.Slice(_next, len), _delimiters!, _level, _opaque);
            _next += len + 1;
            return true;
        }
    }
}
