using System.Globalization;

namespace CareHub.Hl7v2;

/// <summary>
/// A location in a message, written as in HL7 documentation: <c>PID-3[2].1</c>, <c>PID-5.1.1</c>,
/// <c>OBX[3]-5</c>. Segment occurrence (in message order, 1 for the first segment with that id), field,
/// field repetition, component and subcomponent are 1-based. Components may also be separated by <c>-</c>
/// (<c>PID-5-1</c>) and repetitions written in parentheses (<c>PID-3(2)</c>), as in HAPI's terser.
/// A zero means "not given".
/// </summary>
public readonly record struct Hl7Path(string SegmentId, int SegmentOccurrence, int Field, int Repetition, int Component, int Subcomponent)
{
    /// <summary>Parses a path; throws <see cref="FormatException"/> when it is not one.</summary>
    public static Hl7Path Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return TryParse(path, out Hl7Path result)
            ? result
            : throw new FormatException($"'{path}' is not an HL7 path such as PID-3[2].1 or OBX[3]-5");
    }

    /// <summary>Parses a path.</summary>
    public static bool TryParse(ReadOnlySpan<char> path, out Hl7Path result)
    {
        result = default;
        path = path.Trim();
        if (path.Length > 0 && path[0] == '/')
        {
            path = path[1..];
        }

        if (path.Length < 3 || !Hl7Segment.IsValidId(path[..3]))
        {
            return false;
        }

        string id = Hl7Segment.InternId(path[..3]);
        int pos = 3;
        if (!TryIndex(path, ref pos, out int occurrence))
        {
            return false;
        }

        if (pos >= path.Length || path[pos] != '-')
        {
            return false;
        }

        pos++;
        if (!TryNumber(path, ref pos, out int field) || !TryIndex(path, ref pos, out int repetition))
        {
            return false;
        }

        int component = 0, subcomponent = 0;
        if (pos < path.Length)
        {
            if (!IsSep(path[pos]))
            {
                return false;
            }

            pos++;
            if (!TryNumber(path, ref pos, out component))
            {
                return false;
            }

            if (pos < path.Length)
            {
                if (!IsSep(path[pos]))
                {
                    return false;
                }

                pos++;
                if (!TryNumber(path, ref pos, out subcomponent) || pos != path.Length)
                {
                    return false;
                }
            }
        }

        result = new Hl7Path(id, occurrence == 0 ? 1 : occurrence, field, repetition, component, subcomponent);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        string s = SegmentId;
        if (SegmentOccurrence > 1)
        {
            s += "[" + SegmentOccurrence.ToString(CultureInfo.InvariantCulture) + "]";
        }

        s += "-" + Field.ToString(CultureInfo.InvariantCulture);
        if (Repetition > 0)
        {
            s += "[" + Repetition.ToString(CultureInfo.InvariantCulture) + "]";
        }

        if (Component > 0)
        {
            s += "." + Component.ToString(CultureInfo.InvariantCulture);
        }

        if (Subcomponent > 0)
        {
            s += "." + Subcomponent.ToString(CultureInfo.InvariantCulture);
        }

        return s;
    }

    private static bool IsSep(char c) => c is '.' or '-';

    private static bool TryIndex(ReadOnlySpan<char> path, ref int pos, out int value)
    {
        value = 0;
        if (pos >= path.Length || (path[pos] != '[' && path[pos] != '('))
        {
            return true;
        }

        char close = path[pos] == '[' ? ']' : ')';
        pos++;
        if (!TryNumber(path, ref pos, out value) || pos >= path.Length || path[pos] != close)
        {
            return false;
        }

        pos++;
        return true;
    }

    private static bool TryNumber(ReadOnlySpan<char> path, ref int pos, out int value)
    {
        int start = pos;
        while (pos < path.Length && char.IsAsciiDigit(path[pos]))
        {
            pos++;
        }

        return int.TryParse(path[start..pos], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1 && value <= 100_000;
    }
}
