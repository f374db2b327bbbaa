using System.Globalization;
using System.Text;

namespace CareHub.Directories;

/// <summary>
/// One ODS CSV extract read whole and checked before anything is written: NHS Digital's headerless comma-separated
/// layouts, every field optionally in double quotes. The layout is told by the first record's column count (and, where
/// two layouts share a count, by what the columns hold); every later record must have the same count. A file that is
/// not UTF-8, has a record with another column count, a quote left open at the end (a truncated file) or a value a
/// column cannot hold is refused with <see cref="OdsFormatException"/> naming the file and line.
/// </summary>
public sealed class OdsExtract
{
    private OdsExtract(string path, OdsFamily family, IReadOnlyList<OdsRow> rows)
    {
        Path = path;
        Family = family;
        Rows = rows;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Which extract the file is, and so which organisations a full extract of it answers for.</summary>
    public OdsFamily Family { get; }

    /// <summary>The records, in file order, each with its line number.</summary>
    public IReadOnlyList<OdsRow> Rows { get; }

    /// <summary>Reads and checks the whole file; nothing is returned unless every record is sound.</summary>
    public static OdsExtract Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OdsFormatException(path, 0, $"cannot be read: {e.Message}");
        }

        return Parse(path, bytes);
    }

    /// <summary>Parses the bytes of an extract; <paramref name="path"/> names it in errors and tells the organisation layout's family.</summary>
    public static OdsExtract Parse(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var text = Decode(path, bytes);
        var records = Split(path, text);
        if (records.Count == 0)
        {
            throw new OdsFormatException(path, 1, "is empty: an ODS extract has one organisation per line.");
        }

        var first = records[0];
        var family = Detect(path, first.Fields, first.Line);
        var rows = new List<OdsRow>(records.Count);
        foreach (var (line, fields) in records)
        {
            if (fields.Length != first.Fields.Length)
            {
                var truncated = line == records[^1].Line && !text.EndsWith('\n') ? " (the file looks truncated)" : string.Empty;
                throw new OdsFormatException(path, line, $"has {fields.Length} columns, but this {family.Describe()} extract has {first.Fields.Length} on line {first.Line}{truncated}.");
            }

            rows.Add(OdsRow.Check(path, line, family, fields));
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!seen.TryAdd(row.Code, row.Line))
            {
                throw new OdsFormatException(path, row.Line, $"repeats organisation code {row.Code} of line {seen[row.Code]}.");
            }
        }

        return new OdsExtract(path, family, rows);
    }

    private static string Decode(string path, byte[] bytes)
    {
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        try
        {
            return strict.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 ? start + e.Index : 0;
            var line = 1 + bytes.AsSpan(0, Math.Min(at, bytes.Length)).Count((byte)'\n');
            throw new OdsFormatException(path, line, "is not UTF-8 text (an ODS extract is ASCII or UTF-8; was it saved in another encoding?).");
        }
    }

    // RFC 4180 as ODS writes it: fields separated by commas, optionally quoted, a doubled quote inside quotes; records end
    // in LF or CRLF; the last record may lack its line end. A quoted field may hold a line end, so the line reported is
    // where the record starts.
    private static List<(int Line, string[] Fields)> Split(string path, string text)
    {
        var records = new List<(int, string[])>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var i = 0;
        var atFieldStart = true;
        while (i < text.Length)
        {
            var c = text[i];
            if (atFieldStart && c == '"')
            {
                var opened = line;
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new OdsFormatException(path, opened, "has a quoted value that is never closed (the file looks truncated).");
                    }

                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (text[i] == '\n')
                    {
                        line++;
                    }

                    field.Append(text[i++]);
                }

                if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                {
                    throw new OdsFormatException(path, line, "has text after a closing quote; a quote inside a quoted value is written twice (\"\").");
                }

                atFieldStart = false;
                continue;
            }

            switch (c)
            {
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    atFieldStart = true;
                    i++;
                    break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    i++;
                    break;
                case '\n':
                    fields.Add(field.ToString());
                    field.Clear();
                    if (!(fields.Count == 1 && fields[0].Length == 0))
                    {
                        records.Add((recordLine, fields.ToArray()));
                    }

                    fields.Clear();
                    atFieldStart = true;
                    line++;
                    recordLine = line;
                    i++;
                    break;
                case '"':
                    throw new OdsFormatException(path, line, "has a quote inside an unquoted value.");
                default:
                    field.Append(c);
                    atFieldStart = false;
                    i++;
                    break;
            }
        }

        if (fields.Count > 0 || field.Length > 0)
        {
            fields.Add(field.ToString());
            records.Add((recordLine, fields.ToArray()));
        }

        return records;
    }

    private static OdsFamily Detect(string path, string[] fields, int line)
    {
        var name = System.IO.Path.GetFileNameWithoutExtension(path).ToLowerInvariant();
        if (fields.Length == OdsFamily.GpPractices.Columns && fields[12] is "A" or "C" or "D" or "P" && fields[13] is "B" or "Z")
        {
            return OdsFamily.GpPractices;
        }

        if (fields.Length is 24 or 27 && fields[12..17].All(f => f.Length == 0))
        {
            if (name.StartsWith("etr", StringComparison.Ordinal))
            {
                return OdsFamily.NhsTrusts;
            }

            throw new OdsFormatException(path, line, $"has the ODS organisation layout ({fields.Length.ToString(CultureInfo.InvariantCulture)} columns) that several extracts share; CareHub imports NHS trusts from it, from a file named as NHS Digital names it (etr.csv).");
        }

        throw new OdsFormatException(path, line, $"has {fields.Length.ToString(CultureInfo.InvariantCulture)} columns, which is not an ODS layout CareHub reads: GP practices (epraccur, 27 columns, status A/C/D/P in column 13) or NHS trusts (etr, 24 or 27 columns).");
    }
}

/// <summary>An ODS extract that cannot be imported, with the file and the line (1-based; 0 for the file as a whole).</summary>
public sealed class OdsFormatException(string path, int line, string problem)
    : Exception(line > 0 ? $"{path}, line {line.ToString(CultureInfo.InvariantCulture)}: {problem}" : $"{path}: {problem}")
{
    public string FilePath { get; } = path;

    public int Line { get; } = line;
}
