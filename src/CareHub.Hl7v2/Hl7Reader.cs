namespace CareHub.Hl7v2;

/// <summary>Splits ER7 text into segments; shared by single messages and batches.</summary>
internal static class Hl7Reader
{
    /// <summary>
    /// Splits <paramref name="text"/> into segments. Segments end at CR (the standard terminator, v2.5
    /// chapter 2.5.1), LF or CRLF; blank lines are skipped, a leading byte order mark is dropped. Each header
    /// segment (MSH, BHS, FHS) sets the delimiters for the segments after it.
    /// </summary>
    public static List<Hl7Segment> Split(ReadOnlyMemory<char> text)
    {
        ReadOnlySpan<char> span = text.Span;
        int pos = 0;
        if (span.Length > 0 && span[0] == '\uFEFF')
        {
            pos = 1;
        }

        // A rough first guess of the segment count saves list growth on typical 60-120 character segments.
        var segments = new List<Hl7Segment>(Math.Clamp(span.Length / 80, 4, 1024));
        Hl7Delimiters? delimiters = null;
        int ordinal = 0;
        while (pos < span.Length)
        {
            int rel = span[pos..].IndexOfAny('\r', '\n');
            int end = rel < 0 ? span.Length : pos + rel;
            if (end > pos)
            {
                ReadOnlySpan<char> seg = span[pos..end];
                if (!seg.IsWhiteSpace())
                {
                    ordinal++;
                    segments.Add(Read(text.Slice(pos, end - pos), ref delimiters, ordinal));
                }
            }

            pos = end + 1;
        }

        if (segments.Count == 0)
        {
            throw new Hl7ParseException("the message is empty: no MSH segment", Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MSH"));
        }

        return segments;
    }

    private static Hl7Segment Read(ReadOnlyMemory<char> raw, ref Hl7Delimiters? delimiters, int ordinal)
    {
        ReadOnlySpan<char> seg = raw.Span;
        if (seg.Length < 3 || !Hl7Segment.IsValidId(seg[..3]))
        {
            throw new Hl7ParseException(
                $"segment {ordinal} does not start with a segment id (three upper-case letters or digits)",
                Hl7ErrorCode.SegmentSequenceError);
        }

        string id = Hl7Segment.InternId(seg[..3]);
        if (Hl7Segment.IsHeaderId(id))
        {
            Hl7Delimiters? read = Hl7Delimiters.TryRead(seg, out string? problem);
            if (read is null)
            {
                throw new Hl7ParseException($"{id} does not declare legal delimiters: {problem}", Hl7ErrorCode.DataTypeError,
                    new Hl7ErrorLocation(id, 1, 2));
            }

            // Share one delimiter object across a batch when the headers agree.
            delimiters = read.Equals(delimiters) ? delimiters : read;
        }
        else if (delimiters is null)
        {
            throw new Hl7ParseException($"the message must start with MSH (or FHS / BHS for a batch), found {id}",
                Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MSH"));
        }
        else if (seg.Length > 3 && seg[3] != delimiters.Field)
        {
            throw new Hl7ParseException($"segment {ordinal} ({id}) is not followed by the field separator",
                Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation(id));
        }

        return new Hl7Segment(raw, id, delimiters);
    }
}
