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
    private readonly ReadOnlyMemory<char> raw;
    private readonly Hl7Delimiters? delimiters;
    private readonly bool opaque;

    internal Hl7Element(ReadOnlyMemory<char> raw, Hl7Delimiters delimiters, Hl7ElementLevel level, bool opaque = false)
    {
        this.raw = raw;
        this.delimiters = delimiters;
        Level = level;
        this.opaque = opaque;
    }

    /// <summary>Where this element sits in the hierarchy.</summary>
    public Hl7ElementLevel Level { get; }

    /// <summary>The encoded text, escape sequences and lower-level delimiters included.</summary>
    public ReadOnlyMemory<char> RawMemory => this.raw;

    /// <summary>The encoded text as a string.</summary>
    public string Raw => this.raw.ToString();

    /// <summary>
    /// The decoded text: escape sequences resolved. For a composite element the lower-level delimiters are
    /// left in place, so read components to take it apart.
    /// </summary>
    public string Value => this.opaque || this.delimiters is null ? this.raw.ToString() : Hl7Escaping.Unescape(this.raw.Span, this.delimiters);

    /// <summary>True when nothing was sent.</summary>
    public bool IsEmpty => this.raw.IsEmpty;

    /// <summary>True for the explicit null <c>""</c>, which tells a receiver to delete the value (v2.5 chapter 2.5.3).</summary>
    public bool IsNull => this.raw.Span is "\"\"";

    /// <summary>Number of repetitions of a field: 0 when empty.</summary>
    public int RepetitionCount => Level != Hl7ElementLevel.Field || this.opaque ? (this.raw.IsEmpty ? 0 : 1) : CountPieces(this.delimiters!.Repetition);

    /// <summary>Number of components (of the first repetition, for a field); 0 when empty.</summary>
    public int ComponentCount => Level switch
    {
        Hl7ElementLevel.Field => Repetition(1).ComponentCount,
        Hl7ElementLevel.Repetition when !this.opaque => CountPieces(this.delimiters!.Component),
        _ => this.raw.IsEmpty ? 0 : 1,
    };

    /// <summary>Number of subcomponents (of the first component, above component level); 0 when empty.</summary>
    public int SubcomponentCount => Level switch
    {
        Hl7ElementLevel.Field or Hl7ElementLevel.Repetition => Component(1).SubcomponentCount,
        Hl7ElementLevel.Component when !this.opaque => CountPieces(this.delimiters!.Subcomponent),
        _ => this.raw.IsEmpty ? 0 : 1,
    };

    /// <summary>The n-th repetition of a field (1-based). Below field level, repetition 1 is the element itself.</summary>
    public Hl7Element Repetition(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (this.delimiters is null)
        {
            return default;
        }

        if (Level != Hl7ElementLevel.Field)
        {
            return n == 1 ? this : default;
        }

        if (this.opaque)
        {
            return n == 1 ? Down(Hl7ElementLevel.Repetition) : default;
        }

        return new Hl7Element(Piece(this.raw, this.delimiters!.Repetition, n), this.delimiters, Hl7ElementLevel.Repetition);
    }

    /// <summary>
    /// The n-th component (1-based), of the first repetition when this is a field. Below repetition level,
    /// component 1 is the element itself: HL7 reads a primitive as the first component of a composite.
    /// </summary>
    public Hl7Element Component(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (this.delimiters is null)
        {
            return default;
        }

        switch (Level)
        {
            case Hl7ElementLevel.Field:
                return Repetition(1).Component(n);
            case Hl7ElementLevel.Repetition when !this.opaque:
                return new Hl7Element(Piece(this.raw, this.delimiters!.Component, n), this.delimiters, Hl7ElementLevel.Component);
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
        if (this.delimiters is null)
        {
            return default;
        }

        switch (Level)
        {
            case Hl7ElementLevel.Field:
            case Hl7ElementLevel.Repetition:
                return Component(1).Subcomponent(n);
            case Hl7ElementLevel.Component when !this.opaque:
                return new Hl7Element(Piece(this.raw, this.delimiters!.Subcomponent, n), this.delimiters, Hl7ElementLevel.Subcomponent);
            case Hl7ElementLevel.Component:
                return n == 1 ? Down(Hl7ElementLevel.Subcomponent) : default;
            default:
                return n == 1 ? this : default;
        }
    }

    /// <summary>The repetitions of a field, in order.</summary>
    public Hl7ElementList Repetitions => Level == Hl7ElementLevel.Field && !this.opaque
        ? new Hl7ElementList(this.raw, this.delimiters!, this.delimiters!.Repetition, Hl7ElementLevel.Repetition)
        : Hl7ElementList.Single(this.raw, this.delimiters, Hl7ElementLevel.Repetition, this.opaque);

    /// <summary>The components of a repetition (of the first repetition, for a field).</summary>
    public Hl7ElementList Components => Level switch
    {
        Hl7ElementLevel.Field => Repetition(1).Components,
        Hl7ElementLevel.Repetition when !this.opaque => new Hl7ElementList(this.raw, this.delimiters!, this.delimiters!.Component, Hl7ElementLevel.Component),
        _ => Hl7ElementList.Single(this.raw, this.delimiters, Hl7ElementLevel.Component, this.opaque),
    };

    /// <summary>The subcomponents of a component (of the first component, above component level).</summary>
    public Hl7ElementList Subcomponents => Level switch
    {
        Hl7ElementLevel.Field or Hl7ElementLevel.Repetition => Component(1).Subcomponents,
        Hl7ElementLevel.Component when !this.opaque => new Hl7ElementList(this.raw, this.delimiters!, this.delimiters!.Subcomponent, Hl7ElementLevel.Subcomponent),
        _ => Hl7ElementList.Single(this.raw, this.delimiters, Hl7ElementLevel.Subcomponent, this.opaque),
    };

    /// <summary>The decoded value.</summary>
    public override string ToString() => Value;

    /// <summary>The same text one level down: MSH-1 and MSH-2 are values at every level, never split.</summary>
    private Hl7Element Down(Hl7ElementLevel level) => new(this.raw, this.delimiters!, level, this.opaque);

    private int CountPieces(char separator) => this.raw.IsEmpty ? 0 : this.raw.Span.Count(separator) + 1;

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
    private readonly ReadOnlyMemory<char> raw;
    private readonly Hl7Delimiters? delimiters;
    private readonly char separator;
    private readonly Hl7ElementLevel level;
    private readonly bool opaque;

    internal Hl7ElementList(ReadOnlyMemory<char> raw, Hl7Delimiters? delimiters, char separator, Hl7ElementLevel level, bool opaque = false)
    {
        this.raw = raw;
        this.delimiters = delimiters;
        this.separator = separator;
        this.level = level;
        this.opaque = opaque;
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
        private readonly ReadOnlyMemory<char> raw;
        private readonly ReadOnlySpan<char> span;
        private readonly Hl7Delimiters? delimiters;
        private readonly char separator;
        private readonly Hl7ElementLevel level;
        private readonly bool opaque;
        private int next;

        internal Enumerator(Hl7ElementList list)
        {
            this.raw = list.raw;
            this.span = list.raw.Span;
            this.delimiters = list.delimiters;
            this.separator = list.separator;
            this.level = list.level;
            this.opaque = list.opaque;
            this.next = this.span.IsEmpty || this.delimiters is null ? int.MaxValue : 0;
            Current = default;
        }

        /// <summary>The current child.</summary>
        public Hl7Element Current { get; private set; }

        /// <summary>Moves to the next child.</summary>
        public bool MoveNext()
        {
            if (this.next > this.span.Length)
            {
                return false;
            }

            int len = this.span[this.next..].IndexOf(this.separator);
            if (len < 0)
            {
                len = this.span.Length - this.next;
            }

            Current = new Hl7Element(this.raw.Slice(this.next, len), this.delimiters!, this.level, this.opaque);
            this.next += len + 1;
            return true;
        }
    }
}
