using System.Globalization;
using System.Text;

namespace CareHub.Hl7v2;

/// <summary>
/// A batch file (HL7 v2.5 chapter 2.10.3): <c>[FHS] { [BHS] { MSH ... } [BTS] } [FTS]</c>. Headers and
/// trailers are optional, so a plain run of messages reads as one batch without them.
/// </summary>
public sealed class Hl7Batch
{
    private Hl7Batch(Hl7Segment? fileHeader, List<Hl7BatchGroup> batches, Hl7Segment? fileTrailer)
    {
        FileHeader = fileHeader;
        Batches = batches;
        FileTrailer = fileTrailer;
    }

    /// <summary>FHS, when sent.</summary>
    public Hl7Segment? FileHeader { get; }

    /// <summary>The batches, in order.</summary>
    public IReadOnlyList<Hl7BatchGroup> Batches { get; }

    /// <summary>FTS, when sent.</summary>
    public Hl7Segment? FileTrailer { get; }

    /// <summary>All messages of all batches, in order.</summary>
    public IEnumerable<Hl7Message> Messages => Batches.SelectMany(b => b.Messages);

    /// <summary>Parses batch text.</summary>
    /// <exception cref="Hl7ParseException">The text is not a well-formed batch.</exception>
    public static Hl7Batch Parse(string text, Hl7ParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(text.AsMemory(), options);
    }

    /// <summary>Parses batch bytes, decoded per the first MSH-18 (see <see cref="Hl7CharacterSets.Decode"/>).</summary>
    public static Hl7Batch Parse(ReadOnlySpan<byte> bytes, Hl7ParseOptions? options = null)
    {
        options ??= Hl7ParseOptions.Default;
        return Parse(Hl7CharacterSets.Decode(bytes, options.DefaultEncoding).AsMemory(), options);
    }

    /// <summary>Parses batch text.</summary>
    public static Hl7Batch Parse(ReadOnlyMemory<char> text, Hl7ParseOptions? options = null)
    {
        options ??= Hl7ParseOptions.Default;
        List<Hl7Segment> segments = Hl7Reader.Split(text);
        Hl7Segment? fhs = null, fts = null;
        var batches = new List<Hl7BatchGroup>();
        Hl7BatchGroup? batch = null;
        List<Hl7Segment>? message = null;

        void EndMessage()
        {
            if (message is not null)
            {
                batch!.AddMessage(Hl7Message.FromSegments(message, options));
                message = null;
            }
        }

        for (int i = 0; i < segments.Count; i++)
        {
            Hl7Segment s = segments[i];
            if (fts is not null)
            {
                throw Sequence($"{s.Id} after FTS: FTS ends the file", s.Id);
            }

            switch (s.Id)
            {
                case "FHS":
                    if (i != 0)
                    {
                        throw Sequence("FHS must be the first segment of a batch file", "FHS");
                    }

                    fhs = s;
                    break;
                case "BHS":
                    EndMessage();
                    if (batch is { Trailer: null } open && (open.Header is not null || open.Messages.Count > 0))
                    {
                        throw Sequence("BHS before the previous batch's BTS", "BHS");
                    }

                    batch = new Hl7BatchGroup(s);
                    batches.Add(batch);
                    break;
                case "MSH":
                    EndMessage();
                    if (batch is null || batch.Trailer is not null)
                    {
                        batch = new Hl7BatchGroup(null);
                        batches.Add(batch);
                    }

                    message = [s];
                    break;
                case "BTS":
                    EndMessage();
                    if (batch is null || batch.Trailer is not null)
                    {
                        throw Sequence("BTS without a batch to end", "BTS");
                    }

                    batch.Trailer = s;
                    break;
                case "FTS":
                    EndMessage();
                    fts = s;
                    break;
                default:
                    if (message is null)
                    {
                        throw Sequence($"{s.Id} outside a message: every message starts with MSH", s.Id);
                    }

                    message.Add(s);
                    break;
            }
        }

        EndMessage();
        return new Hl7Batch(fhs, batches, fts);
    }

    /// <summary>
    /// Wraps messages in one batch with BHS and BTS (BTS-1 the message count) and, when
    /// <paramref name="withFileHeader"/>, FHS and FTS (FTS-1 the batch count).
    /// </summary>
    public static Hl7Batch Create(IEnumerable<Hl7Message> messages, bool withFileHeader = true, Hl7Delimiters? delimiters = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Hl7Delimiters d = delimiters ?? Hl7Delimiters.Default;
        var batch = new Hl7BatchGroup(new Hl7Segment(("BHS" + d.Field + d.EncodingCharacters).AsMemory(), "BHS", d));
        foreach (Hl7Message m in messages)
        {
            batch.AddMessage(m);
        }

        var bts = new Hl7Segment("BTS".AsMemory(), "BTS", d);
        bts.Set(1, batch.Messages.Count.ToString(CultureInfo.InvariantCulture));
        batch.Trailer = bts;
        Hl7Segment? fhs = null, fts = null;
        if (withFileHeader)
        {
            fhs = new Hl7Segment(("FHS" + d.Field + d.EncodingCharacters).AsMemory(), "FHS", d);
            fts = new Hl7Segment("FTS".AsMemory(), "FTS", d);
            fts.Set(1, "1");
        }

        return new Hl7Batch(fhs, [batch], fts);
    }

    /// <summary>Encodes the batch, every segment ended by CR.</summary>
    public string Encode()
    {
        var sb = new StringBuilder();
        AppendSegment(sb, FileHeader);
        foreach (Hl7BatchGroup b in Batches)
        {
            AppendSegment(sb, b.Header);
            foreach (Hl7Message m in b.Messages)
            {
                sb.Append(m.Encode());
            }

            AppendSegment(sb, b.Trailer);
        }

        AppendSegment(sb, FileTrailer);
        return sb.ToString();
    }

    private static void AppendSegment(StringBuilder sb, Hl7Segment? segment)
    {
        if (segment is not null)
        {
            sb.Append(segment.Raw.Span).Append('\r');
        }
    }

    private static Hl7ParseException Sequence(string message, string segmentId) =>
        new(message, Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation(segmentId));
}

/// <summary>One batch: BHS, messages, BTS.</summary>
public sealed class Hl7BatchGroup
{
    private readonly List<Hl7Message> messages = [];

    internal Hl7BatchGroup(Hl7Segment? header) => Header = header;

    /// <summary>BHS, when sent.</summary>
    public Hl7Segment? Header { get; }

    /// <summary>BTS, when sent.</summary>
    public Hl7Segment? Trailer { get; internal set; }

    /// <summary>The messages of this batch.</summary>
    public IReadOnlyList<Hl7Message> Messages => this.messages;

    /// <summary>BTS-1 (batch message count) as sent, or null; compare with <see cref="Messages"/> to detect loss.</summary>
    public int? DeclaredMessageCount =>
        Trailer is not null && int.TryParse(Trailer.Get(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;

    internal void AddMessage(Hl7Message message) => this.messages.Add(message);
}
