using System.Globalization;
using System.Text;

namespace CareHub.Hl7v2;

/// <summary>
/// An HL7 v2 message in ER7 (pipe and hat) encoding. Parsing locates the segments and checks the header;
/// fields, repetitions and components are split when read, so parsing costs little more than one scan for
/// segment terminators. Values are read and written by path (<c>PID-3[2].1</c>) or through
/// <see cref="Hl7Segment"/>; <see cref="Encode()"/> writes the message back, unchanged segments exactly as
/// they were received.
/// </summary>
public sealed class Hl7Message
{
    private readonly List<Hl7Segment> segments;

    private Hl7Message(List<Hl7Segment> segments)
    {
        this.segments = segments;
        Delimiters = segments[0].Delimiters;
    }

    /// <summary>The delimiters from MSH-1 and MSH-2.</summary>
    public Hl7Delimiters Delimiters { get; }

    /// <summary>The segments in order; the first is MSH.</summary>
    public IReadOnlyList<Hl7Segment> Segments => this.segments;

    /// <summary>The MSH segment.</summary>
    public Hl7Segment Header => this.segments[0];

    /// <summary>MSH-3 (sending application), namespace id.</summary>
    public string SendingApplication => Header.Get(3);

    /// <summary>MSH-4 (sending facility), namespace id.</summary>
    public string SendingFacility => Header.Get(4);

    /// <summary>MSH-5 (receiving application), namespace id.</summary>
    public string ReceivingApplication => Header.Get(5);

    /// <summary>MSH-6 (receiving facility), namespace id.</summary>
    public string ReceivingFacility => Header.Get(6);

    /// <summary>MSH-9.1, e.g. ADT.</summary>
    public string MessageType => Header.Get(9, 1, 1);

    /// <summary>MSH-9.2, e.g. A01.</summary>
    public string TriggerEvent => Header.Get(9, 1, 2);

    /// <summary>MSH-9.3 (from v2.3.1), e.g. ADT_A01.</summary>
    public string MessageStructure => Header.Get(9, 1, 3);

    /// <summary>MSH-10, the message control id that an ACK echoes in MSA-2.</summary>
    public string ControlId => Header.Get(10);

    /// <summary>MSH-11.1, e.g. P (production), T (training), D (debugging).</summary>
    public string ProcessingId => Header.Get(11);

    /// <summary>MSH-12.1, e.g. 2.5.1.</summary>
    public string Version => Header.Get(12);

    /// <summary>MSH-15, accept acknowledgment type (enhanced mode): AL, NE, ER or SU.</summary>
    public string AcceptAcknowledgmentType => Header.Get(15);

    /// <summary>MSH-16, application acknowledgment type (enhanced mode): AL, NE, ER or SU.</summary>
    public string ApplicationAcknowledgmentType => Header.Get(16);

    /// <summary>MSH-18, first repetition: the character set, empty when not declared.</summary>
    public string CharacterSet => Header.Get(18);

    /// <summary>Reads or writes the primitive value at a path, as <see cref="Get"/> and <see cref="Set"/>.</summary>
    public string this[string path]
    {
        get => Get(path);
        set => Set(path, value);
    }

    /// <summary>Parses one message from text.</summary>
    /// <exception cref="Hl7ParseException">The text is not a well-formed HL7 v2 message.</exception>
    public static Hl7Message Parse(string text, Hl7ParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(text.AsMemory(), options);
    }

    /// <summary>Parses one message from text; the message keeps a reference to <paramref name="text"/>.</summary>
    /// <exception cref="Hl7ParseException">The text is not a well-formed HL7 v2 message.</exception>
    public static Hl7Message Parse(ReadOnlyMemory<char> text, Hl7ParseOptions? options = null)
    {
        List<Hl7Segment> segments = Hl7Reader.Split(text);
        return FromSegments(segments, options ?? Hl7ParseOptions.Default);
    }

    /// <summary>
    /// Parses one message from bytes, decoding them per MSH-18 (see <see cref="Hl7CharacterSets.Decode"/>).
    /// </summary>
    /// <exception cref="Hl7ParseException">The bytes are not a well-formed HL7 v2 message.</exception>
    public static Hl7Message Parse(ReadOnlySpan<byte> bytes, Hl7ParseOptions? options = null)
    {
        options ??= Hl7ParseOptions.Default;
        string text = Hl7CharacterSets.Decode(bytes, options.DefaultEncoding);
        return Parse(text.AsMemory(), options);
    }

    /// <summary>Parses without throwing; <paramref name="error"/> says why when it fails.</summary>
    public static bool TryParse(string text, out Hl7Message? message, out Hl7ParseException? error, Hl7ParseOptions? options = null)
    {
        try
        {
            message = Parse(text, options);
            error = null;
            return true;
        }
        catch (Hl7ParseException e)
        {
            message = null;
            error = e;
            return false;
        }
    }

    internal static Hl7Message FromSegments(List<Hl7Segment> segments, Hl7ParseOptions options)
    {
        if (segments[0].Id != "MSH")
        {
            throw new Hl7ParseException($"a message must start with MSH, found {segments[0].Id}; read batches with Hl7Batch.Parse",
                Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MSH"));
        }

        for (int i = 1; i < segments.Count; i++)
        {
            string id = segments[i].Id;
            if (Hl7Segment.IsHeaderId(id) || id is "BTS" or "FTS")
            {
                throw new Hl7ParseException($"{id} found inside a message (segment {i + 1}); read batches with Hl7Batch.Parse",
                    Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation(id));
            }
        }

        var message = new Hl7Message(segments);
        Hl7Segment msh = message.Header;
        if (options.RequireHeaderFields)
        {
            if (msh.Field(9).Component(1).IsEmpty)
            {
                throw new Hl7ParseException("MSH-9 (message type) is required", Hl7ErrorCode.RequiredFieldMissing, new Hl7ErrorLocation("MSH", 1, 9));
            }

            if (msh.Field(12).Component(1).IsEmpty)
            {
                throw new Hl7ParseException("MSH-12 (version id) is required", Hl7ErrorCode.RequiredFieldMissing, new Hl7ErrorLocation("MSH", 1, 12));
            }
        }

        if (options.RequireKnownVersion && !Hl7Versions.IsKnown(message.Version))
        {
            throw new Hl7ParseException($"version '{message.Version}' is not supported (2.1 to 2.8.2 are)", Hl7ErrorCode.UnsupportedVersionId,
                new Hl7ErrorLocation("MSH", 1, 12));
        }

        return message;
    }

    /// <summary>
    /// Starts a new message: an MSH with the delimiters, MSH-7 (now, or <paramref name="timestamp"/>),
    /// MSH-9, MSH-10, MSH-11 = P and MSH-12. Add segments with <see cref="AddSegment"/> and fill them by path.
    /// </summary>
    /// <param name="messageType">MSH-9 as encoded text, e.g. <c>ADT^A01^ADT_A01</c> (with <paramref name="delimiters"/>' component separator).</param>
    /// <param name="version">MSH-12.</param>
    /// <param name="controlId">MSH-10; a new GUID-based id when null.</param>
    /// <param name="delimiters">The delimiters; <see cref="Hl7Delimiters.Default"/> when null.</param>
    /// <param name="timestamp">MSH-7; the current time when null.</param>
    public static Hl7Message Create(string messageType, string version = "2.5.1", string? controlId = null,
        Hl7Delimiters? delimiters = null, DateTimeOffset? timestamp = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(messageType);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        Hl7Delimiters d = delimiters ?? Hl7Delimiters.Default;
        string header = "MSH" + d.Field + d.EncodingCharacters;
        var msh = new Hl7Segment(header.AsMemory(), "MSH", d);
        var message = new Hl7Message([msh]);
        msh.Set(7, Hl7DateTime.FromDateTimeOffset(timestamp ?? DateTimeOffset.Now, Hl7DateTimePrecision.Second).ToString());
        msh.SetRaw(9, messageType);
        msh.Set(10, controlId ?? NewControlId());
        msh.Set(11, "P");
        msh.Set(12, version);
        return message;
    }

    /// <summary>A new message control id: 20 characters, unique without coordination (MSH-10 is ST, at most 199 characters).</summary>
    public static string NewControlId() => Guid.NewGuid().ToString("N")[..20].ToUpperInvariant();

    /// <summary>The n-th segment (1-based) with the id, or null.</summary>
    public Hl7Segment? Segment(string id, int occurrence = 1)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrence, 1);
        foreach (Hl7Segment s in this.segments)
        {
            if (string.Equals(s.Id, id, StringComparison.Ordinal) && --occurrence == 0)
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>All segments with the id, in order.</summary>
    public IEnumerable<Hl7Segment> SegmentsWithId(string id)
    {
        foreach (Hl7Segment s in this.segments)
        {
            if (string.Equals(s.Id, id, StringComparison.Ordinal))
            {
                yield return s;
            }
        }
    }

    /// <summary>Appends an empty segment, e.g. <c>AddSegment("PID")</c> or a Z-segment.</summary>
    public Hl7Segment AddSegment(string id)
    {
        var segment = NewSegment(id);
        this.segments.Add(segment);
        return segment;
    }

    /// <summary>Inserts an empty segment at <paramref name="index"/> (0-based; 0 is MSH, which stays first).</summary>
    public Hl7Segment InsertSegment(int index, string id)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, this.segments.Count);
        var segment = NewSegment(id);
        this.segments.Insert(index, segment);
        return segment;
    }

    /// <summary>Appends an already encoded segment, e.g. <c>"NTE|1||Comment"</c>, written with this message's delimiters.</summary>
    public Hl7Segment AddEncodedSegment(string encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        if (encoded.AsSpan().ContainsAny('\r', '\n'))
        {
            throw new ArgumentException("one segment only: the text cannot contain CR or LF", nameof(encoded));
        }

        if (encoded.Length < 3 || !Hl7Segment.IsValidId(encoded.AsSpan(0, 3)) || (encoded.Length > 3 && encoded[3] != Delimiters.Field))
        {
            throw new ArgumentException("the text must start with a segment id and the field separator", nameof(encoded));
        }

        string id = Hl7Segment.InternId(encoded.AsSpan(0, 3));
        if (Hl7Segment.IsHeaderId(id))
        {
            throw new ArgumentException("a message has one header segment", nameof(encoded));
        }

        var segment = new Hl7Segment(encoded.AsMemory(), id, Delimiters);
        this.segments.Add(segment);
        return segment;
    }

    /// <summary>Removes a segment (not MSH).</summary>
    public bool RemoveSegment(Hl7Segment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (ReferenceEquals(segment, Header))
        {
            throw new ArgumentException("MSH cannot be removed", nameof(segment));
        }

        return this.segments.Remove(segment);
    }

    /// <summary>
    /// The decoded primitive value at a path. A path that stops at the field or component reads its first
    /// repetition, component and subcomponent, as HAPI's terser does: <c>Get("PID-5")</c> is the surname.
    /// A missing segment or position reads as empty.
    /// </summary>
    public string Get(string path)
    {
        Hl7Path p = Hl7Path.Parse(path);
        Hl7Segment? segment = Segment(p.SegmentId, p.SegmentOccurrence);
        return segment is null ? string.Empty : segment.Get(p.Field, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>
    /// The element at exactly the depth of the path: <c>PID-3</c> is the whole field with its repetitions,
    /// <c>PID-3[2]</c> one repetition, <c>PID-3[2].4</c> one component. Empty when absent.
    /// </summary>
    public Hl7Element Element(string path)
    {
        Hl7Path p = Hl7Path.Parse(path);
        Hl7Segment? segment = Segment(p.SegmentId, p.SegmentOccurrence);
        return segment is null ? default : segment.Element(p.Field, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>The encoded text at exactly the depth of the path (see <see cref="Element"/>).</summary>
    public string GetRaw(string path) => Element(path).Raw;

    /// <summary>
    /// Sets the primitive value at a path (a path that stops early writes the first repetition, component and
    /// subcomponent), escaping delimiters in the value. A missing segment occurrence is appended.
    /// </summary>
    public void Set(string path, string? value)
    {
        Hl7Path p = Hl7Path.Parse(path);
        SegmentForWrite(p).Set(p.Field, value, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>Replaces the encoded text at exactly the depth of the path, without escaping.</summary>
    public void SetRaw(string path, string raw)
    {
        Hl7Path p = Hl7Path.Parse(path);
        SegmentForWrite(p).SetRaw(p.Field, raw, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>Encodes the message as ER7 text, every segment ended by CR.</summary>
    public string Encode()
    {
        int length = 0;
        foreach (Hl7Segment s in this.segments)
        {
            length += s.Raw.Length + 1;
        }

        return string.Create(length, this.segments, static (dest, segments) =>
        {
            int pos = 0;
            foreach (Hl7Segment s in segments)
            {
                s.Raw.Span.CopyTo(dest[pos..]);
                pos += s.Raw.Length;
                dest[pos++] = '\r';
            }
        });
    }

    /// <summary>
    /// Encodes the message with other delimiters: structure is kept, and data characters that are delimiters
    /// in the new set are escaped.
    /// </summary>
    public string Encode(Hl7Delimiters delimiters)
    {
        ArgumentNullException.ThrowIfNull(delimiters);
        if (delimiters.Equals(Delimiters))
        {
            return Encode();
        }

        var sb = new StringBuilder();
        foreach (Hl7Segment s in this.segments)
        {
            Hl7Reencoder.Append(sb, s, delimiters);
            sb.Append('\r');
        }

        return sb.ToString();
    }

    /// <summary>The character encoding MSH-18 names, UTF-8 when it names none.</summary>
    public Encoding TextEncoding => Hl7CharacterSets.ForName(CharacterSet) ?? Hl7CharacterSets.Utf8NoBom;

    /// <summary>Encodes the message to bytes in the character set of MSH-18 (UTF-8 when empty), without a byte order mark.</summary>
    public byte[] EncodeBytes() => TextEncoding.GetBytes(Encode());

    /// <summary>The encoded message, segments separated by CR.</summary>
    public override string ToString() => Encode();

    private Hl7Segment SegmentForWrite(Hl7Path p)
    {
        Hl7Segment? segment = Segment(p.SegmentId, p.SegmentOccurrence);
        if (segment is not null)
        {
            return segment;
        }

        int existing = SegmentsWithId(p.SegmentId).Count();
        if (Hl7Segment.IsHeaderId(p.SegmentId))
        {
            throw new ArgumentException($"{p.SegmentId} cannot be added by path");
        }

        for (int i = existing; i < p.SegmentOccurrence; i++)
        {
            segment = AddSegment(p.SegmentId);
        }

        return segment!;
    }

    private Hl7Segment NewSegment(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!Hl7Segment.IsValidId(id) || Hl7Segment.IsHeaderId(id))
        {
            throw new ArgumentException($"'{id}' is not a segment id that can be added (three upper-case letters or digits, not a header)", nameof(id));
        }

        return new Hl7Segment(id.AsMemory(), Hl7Segment.InternId(id), Delimiters);
    }

    internal static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}
