using System.Text;
using System.Text.Unicode;

namespace CareHub.Hl7v2;

/// <summary>
/// Maps MSH-18 (character set, HL7 table 0211) to a .NET <see cref="Encoding"/>. Every set supported here is
/// a superset of ASCII, so the header can be read from the bytes before the character set is known.
/// </summary>
public static class Hl7CharacterSets
{
    static Hl7CharacterSets() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>
    /// The encoding for an MSH-18 value, or null when the value is not one this library decodes. An empty
    /// value means the sender did not say (v2.5 chapter 2.14.9.18: the default is then ASCII, which real
    /// senders stretch to UTF-8 or ISO 8859/1).
    /// </summary>
    public static Encoding? ForName(string? name)
    {
        string n = (name ?? string.Empty).Trim().ToUpperInvariant();
        return n switch
        {
            "" => null,
            "ASCII" or "ISO IR6" => Encoding.Latin1,
            "8859/1" or "ISO IR100" => Encoding.Latin1,
            "8859/2" => Encoding.GetEncoding(28592),
            "8859/3" => Encoding.GetEncoding(28593),
            "8859/4" => Encoding.GetEncoding(28594),
            "8859/5" => Encoding.GetEncoding(28595),
            "8859/6" => Encoding.GetEncoding(28596),
            "8859/7" => Encoding.GetEncoding(28597),
            "8859/8" => Encoding.GetEncoding(28598),
            "8859/9" => Encoding.GetEncoding(28599),
            "8859/15" => Encoding.GetEncoding(28605),
            "UNICODE UTF-8" or "UTF-8" or "ISO IR192" => Utf8NoBom,
            _ => null,
        };
    }

    /// <summary>True when <paramref name="name"/> is empty or names a supported character set.</summary>
    public static bool IsSupported(string? name) => string.IsNullOrWhiteSpace(name) || ForName(name) is not null;

    internal static readonly Encoding Utf8NoBom = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Decodes message bytes: per MSH-18 when it is given, else as UTF-8 when the bytes are valid UTF-8
    /// and as ISO 8859/1 when they are not (every byte sequence is valid ISO 8859/1, so nothing is lost).
    /// A leading UTF-8 byte order mark is dropped.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> bytes, Encoding? fallback = null)
    {
        if (bytes.StartsWith("\uFEFF"u8))
        {
            return Utf8NoBom.GetString(bytes[3..]);
        }

        string? declared = ReadCharacterSet(bytes);
        if (!string.IsNullOrWhiteSpace(declared))
        {
            Encoding encoding = ForName(declared) ?? throw new Hl7ParseException(
                $"MSH-18 names a character set this receiver does not support ('{declared}')",
                Hl7ErrorCode.TableValueNotFound, new Hl7ErrorLocation("MSH", 1, 18));
            return encoding.GetString(bytes);
        }

        if (fallback is not null)
        {
            return fallback.GetString(bytes);
        }

        return Utf8.IsValid(bytes) ? Utf8NoBom.GetString(bytes) : Encoding.Latin1.GetString(bytes);
    }

    /// <summary>
    /// Reads the first repetition of MSH-18 from the first MSH segment in the bytes, or null when there is
    /// no readable MSH. Later repetitions name ISO 2022 code extensions, which are switched in the text.
    /// </summary>
    internal static string? ReadCharacterSet(ReadOnlySpan<byte> bytes)
    {
        int msh = FindMsh(bytes);
        if (msh < 0 || msh + 8 > bytes.Length)
        {
            return null;
        }

        ReadOnlySpan<byte> seg = bytes[msh..];
        int end = seg.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0)
        {
            seg = seg[..end];
        }

        // A segment cut short by a line break ("MSH|" and nothing else) names no character set.
        if (seg.Length < 5)
        {
            return null;
        }

        byte fieldSep = seg[3];
        byte repSep = seg.Length > 5 ? seg[5] : fieldSep;
        byte compSep = seg[4];
        int pos = 3;
        // The separator after "MSH" is MSH-1 and starts MSH-2; sixteen more lead to MSH-18.
        for (int field = 2; field < 18; field++)
        {
            int next = seg[(pos + 1)..].IndexOf(fieldSep);
            if (next < 0)
            {
                return null;
            }

            pos += next + 1;
        }

        ReadOnlySpan<byte> value = seg[(pos + 1)..];
        int stop = value.IndexOfAny(fieldSep, repSep, compSep);
        if (stop >= 0)
        {
            value = value[..stop];
        }

        return Encoding.ASCII.GetString(value);
    }

    private static int FindMsh(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            int i = bytes[offset..].IndexOf("MSH"u8);
            if (i < 0)
            {
                return -1;
            }

            int at = offset + i;
            if (at == 0 || bytes[at - 1] is (byte)'\r' or (byte)'\n')
            {
                return at;
            }

            offset = at + 3;
        }

        return -1;
    }
}
