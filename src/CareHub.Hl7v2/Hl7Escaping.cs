using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace CareHub.Hl7v2;

/// <summary>
/// HL7 v2 escape sequences (v2.5 chapter 2.7). Delimiter escapes (<c>\F\ \S\ \T\ \R\ \E\</c>, and <c>\P\</c>
/// from v2.7) and hexadecimal data (<c>\Xhh..\</c>) are decoded; formatting and character-set sequences
/// (<c>\.br\ \H\ \N\ \Zxx\ \Cxxyy\ \Mxxyyzz\</c>) are kept intact so that formatted text (FT) survives a
/// round trip through a plain string.
/// </summary>
public static class Hl7Escaping
{
    /// <summary>Decodes the escape sequences in an encoded value.</summary>
    public static string Unescape(ReadOnlySpan<char> raw, Hl7Delimiters delimiters)
    {
        char esc = delimiters.Escape;
        int first = raw.IndexOf(esc);
        if (first < 0)
        {
            return raw.ToString();
        }

        var sb = new StringBuilder(raw.Length);
        sb.Append(raw[..first]);
        int i = first;
        while (i < raw.Length)
        {
            char c = raw[i];
            if (c != esc)
            {
                int next = raw[i..].IndexOf(esc);
                int end = next < 0 ? raw.Length : i + next;
                sb.Append(raw[i..end]);
                i = end;
                continue;
            }

            int close = raw[(i + 1)..].IndexOf(esc);
            if (close < 0)
            {
                // An escape character with no closing one is not a sequence: keep the text as sent.
                sb.Append(raw[i..]);
                break;
            }

            ReadOnlySpan<char> seq = raw.Slice(i + 1, close);
            int after = i + close + 2;
            if (!AppendDecoded(sb, seq, delimiters))
            {
                sb.Append(raw[i..after]);
            }

            i = after;
        }

        return sb.ToString();
    }

    /// <summary>
    /// Encodes text for a primitive value: delimiters become escape sequences, CR and LF become hexadecimal
    /// data (a raw CR would end the segment). Formatting sequences already in the text (e.g. <c>\.br\</c>)
    /// are left as they are, so a value read with <see cref="Unescape"/> encodes back to what was sent.
    /// </summary>
    public static string Escape(ReadOnlySpan<char> text, Hl7Delimiters delimiters)
    {
        if (!NeedsEscaping(text, delimiters))
        {
            return text.ToString();
        }

        var sb = new StringBuilder(text.Length + 16);
        char esc = delimiters.Escape;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == esc)
            {
                int len = PreservedSequenceLength(text[i..], esc);
                if (len > 0)
                {
                    sb.Append(text.Slice(i, len));
                    i += len - 1;
                }
                else
                {
                    sb.Append(esc).Append('E').Append(esc);
                }
            }
            else if (c == delimiters.Field)
            {
                sb.Append(esc).Append('F').Append(esc);
            }
            else if (c == delimiters.Component)
            {
                sb.Append(esc).Append('S').Append(esc);
            }
            else if (c == delimiters.Subcomponent)
            {
                sb.Append(esc).Append('T').Append(esc);
            }
            else if (c == delimiters.Repetition)
            {
                sb.Append(esc).Append('R').Append(esc);
            }
            else if (delimiters.Truncation is { } t && c == t)
            {
                sb.Append(esc).Append('P').Append(esc);
            }
            else if (c == '\r')
            {
                sb.Append(esc).Append("X0D").Append(esc);
            }
            else if (c == '\n')
            {
                sb.Append(esc).Append("X0A").Append(esc);
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static bool NeedsEscaping(ReadOnlySpan<char> text, Hl7Delimiters d)
    {
        foreach (char c in text)
        {
            if (d.IsDelimiter(c) || c == '\r' || c == '\n' || (d.Truncation is { } t && c == t))
            {
                return true;
            }
        }

        return false;
    }

    private static bool AppendDecoded(StringBuilder sb, ReadOnlySpan<char> seq, Hl7Delimiters d)
    {
        if (seq.Length == 1)
        {
            switch (seq[0])
            {
                case 'F': sb.Append(d.Field); return true;
                case 'S': sb.Append(d.Component); return true;
                case 'T': sb.Append(d.Subcomponent); return true;
                case 'R': sb.Append(d.Repetition); return true;
                case 'E': sb.Append(d.Escape); return true;
                case 'P' when d.Truncation is { } t: sb.Append(t); return true;
                default: return false;
            }
        }

        if (seq.Length >= 3 && seq[0] == 'X' && (seq.Length - 1) % 2 == 0)
        {
            return AppendHex(sb, seq[1..]);
        }

        return false;
    }

    private static bool AppendHex(StringBuilder sb, ReadOnlySpan<char> hex)
    {
        int count = hex.Length / 2;
        byte[]? rented = null;
        Span<byte> bytes = count <= 256 ? stackalloc byte[count] : (rented = ArrayPool<byte>.Shared.Rent(count)).AsSpan(0, count);
        try
        {
            for (int k = 0; k < count; k++)
            {
                if (!byte.TryParse(hex.Slice(k * 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[k]))
                {
                    return false;
                }
            }

            // The standard leaves the meaning of the bytes to the character set; UTF-8 when they form
            // valid UTF-8, else ISO 8859-1 (which maps every byte) covers both character sets we decode.
            sb.Append(Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes));
            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Length of a formatting, highlighting, locally defined or character-set escape sequence at the start of
    /// <paramref name="text"/> (v2.5 chapters 2.7.2 to 2.7.6), or 0 when there is none.
    /// </summary>
    internal static int PreservedSequenceLength(ReadOnlySpan<char> text, char esc)
    {
        if (text.Length < 3 || text[0] != esc)
        {
            return 0;
        }

        int close = text[1..].IndexOf(esc);
        if (close <= 0)
        {
            return 0;
        }

        ReadOnlySpan<char> seq = text.Slice(1, close);
        bool preserved = seq[0] switch
        {
            'H' or 'N' => seq.Length == 1,
            '.' => seq.Length >= 3 && char.IsAsciiLetterLower(seq[1]) && char.IsAsciiLetterLower(seq[2]) && IsFormattingArgument(seq[3..]),
            'Z' => seq.Length > 1,
            'C' => seq.Length == 5 && seq[1..].ContainsAnyExcept(HexDigits) == false,
            'M' => (seq.Length == 5 || seq.Length == 7) && seq[1..].ContainsAnyExcept(HexDigits) == false,
            _ => false,
        };
        return preserved ? close + 2 : 0;
    }

    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    private static bool IsFormattingArgument(ReadOnlySpan<char> arg)
    {
        // ".sp <number>", ".in <number>", ".ti <number>", ".sk <number>" take a signed count; the others none.
        arg = arg.TrimStart(' ');
        if (arg.Length > 0 && (arg[0] == '+' || arg[0] == '-'))
        {
            arg = arg[1..];
        }

        foreach (char c in arg)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
