using System.Collections.Concurrent;
using System.Text;

namespace CareHub.Hl7v2;

/// <summary>
/// One segment of a message. The segment keeps its encoded text and splits it on demand: fields are located
/// on first access, components when asked for. Changing a value rewrites this segment's text only.
/// </summary>
public sealed class Hl7Segment
{
    private static readonly ConcurrentDictionary<string, string> KnownIds = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> KnownIdsBySpan =
        KnownIds.GetAlternateLookup<ReadOnlySpan<char>>();

    private ReadOnlyMemory<char> raw;
    private int[]? fieldStarts;

    internal Hl7Segment(ReadOnlyMemory<char> raw, string id, Hl7Delimiters delimiters)
    {
        this.raw = raw;
        Id = id;
        Delimiters = delimiters;
        IsHeader = IsHeaderId(id);
    }

    /// <summary>The segment id, e.g. <c>PID</c> or a Z-segment's <c>ZPI</c>.</summary>
    public string Id { get; }

    /// <summary>The delimiters the segment is encoded with.</summary>
    public Hl7Delimiters Delimiters { get; }

    /// <summary>True for MSH, BHS and FHS, whose field 1 is the field separator itself and field 2 the encoding characters.</summary>
    public bool IsHeader { get; }

    /// <summary>The encoded segment, without a terminator.</summary>
    public ReadOnlyMemory<char> Raw => this.raw;

    /// <summary>Number of fields present (trailing empty ones included, as sent).</summary>
    public int FieldCount
    {
        get
        {
            int pieces = FieldStarts().Length;
            return IsHeader ? pieces : pieces - 1;
        }
    }

    /// <summary>Field <paramref name="n"/> (1-based), with all its repetitions.</summary>
    public Hl7Element this[int n] => Field(n);

    /// <summary>Field <paramref name="n"/> (1-based), with all its repetitions. A field not sent is empty.</summary>
    public Hl7Element Field(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (IsHeader && n <= 2)
        {
            // MSH-1 is the field separator and MSH-2 the encoding characters: values, not delimited text.
            ReadOnlyMemory<char> value = n == 1 ? this.raw.Slice(3, 1) : PieceAt(1);
            return new Hl7Element(value, Delimiters, Hl7ElementLevel.Field, opaque: true);
        }

        return new Hl7Element(PieceAt(IsHeader ? n - 1 : n), Delimiters, Hl7ElementLevel.Field);
    }

    /// <summary>
    /// The decoded value at a position, reading a missing repetition, component or subcomponent (0) as the
    /// first one, as HAPI's terser does: <c>Get(5)</c> on PID gives the family name's surname.
    /// </summary>
    public string Get(int field, int repetition = 0, int component = 0, int subcomponent = 0) =>
        Field(field).Repetition(Math.Max(repetition, 1)).Component(Math.Max(component, 1)).Subcomponent(Math.Max(subcomponent, 1)).Value;

    /// <summary>The element at exactly the depth given: a 0 stops there (whole field, whole repetition, whole component).</summary>
    public Hl7Element Element(int field, int repetition = 0, int component = 0, int subcomponent = 0)
    {
        Hl7Element e = Field(field);
        if (repetition == 0 && component == 0 && subcomponent == 0)
        {
            return e;
        }

        e = e.Repetition(Math.Max(repetition, 1));
        if (component == 0 && subcomponent == 0)
        {
            return e;
        }

        e = e.Component(Math.Max(component, 1));
        return subcomponent == 0 ? e : e.Subcomponent(subcomponent);
    }

    /// <summary>
    /// Sets the primitive value at a position (0 read as 1, as in <see cref="Get"/>), escaping delimiters in
    /// <paramref name="value"/>. Missing fields, repetitions and components are added.
    /// </summary>
    public void Set(int field, string? value, int repetition = 0, int component = 0, int subcomponent = 0) =>
        SetRaw(field, Hl7Escaping.Escape(value ?? string.Empty, Delimiters), Math.Max(repetition, 1), Math.Max(component, 1), Math.Max(subcomponent, 1));

    /// <summary>
    /// Replaces the encoded text at exactly the depth given (0 = the whole of that level), without escaping:
    /// use it to write composite values, e.g. <c>SetRaw(5, "Smith^John")</c> replaces all of PID-5.
    /// </summary>
    public void SetRaw(int field, string raw, int repetition = 0, int component = 0, int subcomponent = 0)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        if (IsHeader && field <= 2)
        {
            throw new ArgumentException($"{Id}-1 and {Id}-2 hold the delimiters and cannot be set; encode with other delimiters instead", nameof(field));
        }

        if (raw.AsSpan().ContainsAny('\r', '\n'))
        {
            throw new ArgumentException("a value cannot contain a segment terminator (CR or LF); escape it", nameof(raw));
        }

        Span<int> path = stackalloc int[4];
        int depth = 0;
        path[depth++] = IsHeader ? field - 1 : field;
        if (repetition > 0 || component > 0 || subcomponent > 0)
        {
            path[depth++] = Math.Max(repetition, 1) - 1;
            if (component > 0 || subcomponent > 0)
            {
                path[depth++] = Math.Max(component, 1) - 1;
                if (subcomponent > 0)
                {
                    path[depth++] = subcomponent - 1;
                }
            }
        }

        var sb = new StringBuilder(this.raw.Length + raw.Length + 8);
        Splice(sb, this.raw.Span, path[..depth], 0, raw);
        this.raw = sb.ToString().AsMemory();
        fieldStarts = null;
    }

    /// <summary>The encoded segment.</summary>
    public override string ToString() => this.raw.ToString();

    internal void ReplaceRaw(ReadOnlyMemory<char> raw)
    {
        this.raw = raw;
        fieldStarts = null;
    }

    private void Splice(StringBuilder sb, ReadOnlySpan<char> s, ReadOnlySpan<int> path, int level, string value)
    {
        if (level == path.Length)
        {
            sb.Append(value);
            return;
        }

        char sep = level switch
        {
            0 => Delimiters.Field,
            1 => Delimiters.Repetition,
            2 => Delimiters.Component,
            _ => Delimiters.Subcomponent,
        };
        int index = path[level];
        int start = 0;
        for (int i = 0; i < index; i++)
        {
            int next = s[start..].IndexOf(sep);
            if (next < 0)
            {
                // Fewer parts than the position asked for: add empty ones up to it.
                sb.Append(s).Append(sep, index - i);
                Splice(sb, [], path, level + 1, value);
                return;
            }

            start += next + 1;
        }

        int len = s[start..].IndexOf(sep);
        int end = len < 0 ? s.Length : start + len;
        sb.Append(s[..start]);
        Splice(sb, s[start..end], path, level + 1, value);
        sb.Append(s[end..]);
    }

    private ReadOnlyMemory<char> PieceAt(int piece)
    {
        int[] starts = FieldStarts();
        if (piece >= starts.Length)
        {
            return ReadOnlyMemory<char>.Empty;
        }

        int start = starts[piece];
        int end = piece + 1 < starts.Length ? starts[piece + 1] - 1 : this.raw.Length;
        return this.raw[start..end];
    }

    private int[] FieldStarts()
    {
        if (fieldStarts is { } cached)
        {
            return cached;
        }

        ReadOnlySpan<char> span = this.raw.Span;
        char sep = Delimiters.Field;
        int[] starts = new int[span.Count(sep) + 1];
        int pos = 0;
        for (int i = 1; i < starts.Length; i++)
        {
            pos += span[pos..].IndexOf(sep) + 1;
            starts[i] = pos;
        }

        fieldStarts = starts;
        return starts;
    }

    internal static bool IsHeaderId(string id) => id is "MSH" or "BHS" or "FHS";

    /// <summary>
    /// A segment id is three characters: an upper-case letter, then upper-case letters or digits
    /// (v2.5 chapter 2.5.2; Z-segments follow the same rule).
    /// </summary>
    internal static bool IsValidId(ReadOnlySpan<char> id) =>
        id.Length == 3 && char.IsAsciiLetterUpper(id[0]) && IsUpperOrDigit(id[1]) && IsUpperOrDigit(id[2]);

    private static bool IsUpperOrDigit(char c) => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c);

    /// <summary>Shares one string per segment id; bounded so that a stream of odd Z-segment ids cannot grow it forever.</summary>
    internal static string InternId(ReadOnlySpan<char> id)
    {
        if (KnownIdsBySpan.TryGetValue(id, out string? known))
        {
            return known;
        }

        string s = id.ToString();
        if (KnownIds.Count < 4096)
        {
            KnownIds.TryAdd(s, s);
        }

        return s;
    }
}
