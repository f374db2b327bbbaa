using System.Text;

namespace CareHub.Hl7v2;

/// <summary>Rewrites encoded text from one delimiter set to another in one pass.</summary>
internal static class Hl7Reencoder
{
    public static void Append(StringBuilder sb, Hl7Segment segment, Hl7Delimiters to)
    {
        Hl7Delimiters from = segment.Delimiters;
        ReadOnlySpan<char> s = segment.Raw.Span;
        int pos;
        if (segment.IsHeader)
        {
            sb.Append(s[..3]).Append(to.Field).Append(to.EncodingCharacters);
            int afterEncoding = 4 + from.EncodingCharacters.Length;
            pos = Math.Min(afterEncoding, s.Length);
        }
        else
        {
            sb.Append(s[..3]);
            pos = 3;
        }

        while (pos < s.Length)
        {
            char c = s[pos];
            if (c == from.Escape)
            {
                int close = s[(pos + 1)..].IndexOf(from.Escape);
                if (close >= 0)
                {
                    ReadOnlySpan<char> seq = s.Slice(pos + 1, close);
                    char? data = seq.Length != 1 ? null : seq[0] switch
                    {
                        'F' => from.Field,
                        'S' => from.Component,
                        'T' => from.Subcomponent,
                        'R' => from.Repetition,
                        'E' => from.Escape,
                        'P' => from.Truncation,
                        _ => null,
                    };
                    if (data is { } d)
                    {
                        // A delimiter escape stands for the sender's delimiter character: keep that character,
                        // escaped again only if it is a delimiter in the new set.
                        AppendData(sb, d, to);
                    }
                    else
                    {
                        // Formatting, hexadecimal and other sequences do not depend on the delimiters.
                        sb.Append(to.Escape).Append(seq).Append(to.Escape);
                    }

                    pos += close + 2;
                    continue;
                }

                AppendData(sb, c, to);
            }
            else if (c == from.Field)
            {
                sb.Append(to.Field);
            }
            else if (c == from.Component)
            {
                sb.Append(to.Component);
            }
            else if (c == from.Repetition)
            {
                sb.Append(to.Repetition);
            }
            else if (c == from.Subcomponent)
            {
                sb.Append(to.Subcomponent);
            }
            else
            {
                AppendData(sb, c, to);
            }

            pos++;
        }
    }

    private static void AppendData(StringBuilder sb, char c, Hl7Delimiters to)
    {
        char? code = c == to.Field ? 'F'
            : c == to.Component ? 'S'
            : c == to.Subcomponent ? 'T'
            : c == to.Repetition ? 'R'
            : c == to.Escape ? 'E'
            : to.Truncation is { } t && c == t ? 'P'
            : null;
        if (code is { } k)
        {
            sb.Append(to.Escape).Append(k).Append(to.Escape);
        }
        else
        {
            sb.Append(c);
        }
    }
}
