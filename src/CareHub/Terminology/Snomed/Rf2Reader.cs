using System.Globalization;
using System.Text;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// Reads one RF2 release file (SNOMED CT Release File Specification, section 3: UTF-8, tab-separated, a header row,
/// lines ending CR LF) and checks it line by line: the header must be the one the file type defines, every row must have
/// as many fields as the header, the bytes must be UTF-8, and the last line must end with a line break (a file cut off
/// in the middle of a row is refused, not half read). Problems are <see cref="Rf2FormatException"/>s naming the line.
/// </summary>
public sealed class Rf2Reader
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly string path;
    private readonly string[] header;

    public Rf2Reader(string path, IReadOnlyList<string> header)
    {
        this.path = path;
        this.header = [.. header];
    }

    /// <summary>The line being read, for a caller's own checks of a field.</summary>
    public long Line { get; private set; }

    /// <summary>The rows after the header, split into fields.</summary>
    public IEnumerable<string[]> Rows()
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (stream.Length == 0)
        {
            throw Problem(1, "the file is empty; an RF2 file starts with its header row.");
        }

        stream.Seek(-1, SeekOrigin.End);
        var endsWithLineBreak = stream.ReadByte() == '\n';
        stream.Seek(0, SeekOrigin.Begin);

        var buffer = new byte[1 << 16];
        var length = 0;
        var eof = false;
        Line = 0;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, length);
            if (newline < 0 && !eof)
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = stream.Read(buffer, length, buffer.Length - length);
                if (read == 0)
                {
                    eof = true;
                }

                length += read;
                continue;
            }

            if (newline < 0 && length == 0)
            {
                break;
            }

            var end = newline < 0 ? length : newline;
            Line++;
            if (newline < 0 && !endsWithLineBreak)
            {
                throw Problem(Line, "the file ends in the middle of a row (no line break after the last row): it looks truncated.");
            }

            var lineLength = end > 0 && buffer[end - 1] == '\r' ? end - 1 : end;
            string text;
            try
            {
                text = Strict.GetString(buffer, 0, lineLength);
            }
            catch (DecoderFallbackException)
            {
                throw Problem(Line, "the line is not valid UTF-8 (RF2 files are UTF-8 encoded).");
            }

            var consumed = newline < 0 ? length : newline + 1;
            Buffer.BlockCopy(buffer, consumed, buffer, 0, length - consumed);
            length -= consumed;

            var fields = text.Split('\t');
            if (Line == 1)
            {
                if (fields.Length > 0 && fields[0].StartsWith('\uFEFF'))
                {
                    fields[0] = fields[0][1..];
                }

                if (!fields.SequenceEqual(header, StringComparer.Ordinal))
                {
                    throw Problem(1, $"the header is '{string.Join(' ', fields)}' but this file type has the columns '{string.Join(' ', header)}'.");
                }

                continue;
            }

            if (fields.Length != header.Length)
            {
                throw Problem(Line, $"the row has {fields.Length} fields but the header has {header.Length} columns.");
            }

            yield return fields;
        }

        if (Line == 0)
        {
            throw Problem(1, "the file has no header row.");
        }
    }

    /// <summary>An SCTID field (5.1 of the specification: 6 to 18 digits, no leading zero).</summary>
    public long Id(string[] fields, int index)
    {
        var value = fields[index];
        return value.Length is >= 6 and <= 18 && value[0] != '0' && value.All(char.IsAsciiDigit)
            ? long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture)
            : throw Problem(Line, $"{header[index]} '{value}' is not an SCTID (6 to 18 digits).");
    }

    /// <summary>An effectiveTime field: YYYYMMDD.</summary>
    public int Time(string[] fields, int index)
    {
        var value = fields[index];
        return value.Length == 8 && DateTime.TryParseExact(value, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
            ? int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture)
            : throw Problem(Line, $"{header[index]} '{value}' is not a date (YYYYMMDD).");
    }

    /// <summary>An active flag: 1 or 0.</summary>
    public int Active(string[] fields, int index) => fields[index] switch
    {
        "1" => 1,
        "0" => 0,
        var value => throw Problem(Line, $"{header[index]} '{value}' is neither 1 nor 0."),
    };

    /// <summary>A whole number field (relationshipGroup, mapGroup, mapPriority).</summary>
    public int Number(string[] fields, int index) =>
        int.TryParse(fields[index], NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Problem(Line, $"{header[index]} '{fields[index]}' is not a whole number.");

    /// <summary>A refset member's id: a UUID.</summary>
    public string Uuid(string[] fields, int index) =>
        Guid.TryParseExact(fields[index], "D", out var value)
            ? value.ToString("D")
            : throw Problem(Line, $"{header[index]} '{fields[index]}' is not a UUID.");

    /// <summary>A field that must not be empty (a term, a language code).</summary>
    public string Text(string[] fields, int index) =>
        fields[index].Length > 0 ? fields[index] : throw Problem(Line, $"{header[index]} is empty.");

    public Rf2FormatException Problem(long line, string problem) => new(path, line, problem);
}
