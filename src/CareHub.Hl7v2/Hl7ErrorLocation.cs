using System.Globalization;
using System.Text;

namespace CareHub.Hl7v2;

/// <summary>
/// Where an error is in a message: the ERL data type of ERR-2 (v2.5 and later), i.e. segment id, segment
/// sequence (1 for the first occurrence of that segment id), field position, field repetition, component and
/// subcomponent. Zero means "not given" for the positions after the segment.
/// </summary>
public readonly record struct Hl7ErrorLocation(
    string SegmentId,
    int SegmentSequence = 1,
    int Field = 0,
    int FieldRepetition = 0,
    int Component = 0,
    int Subcomponent = 0)
{
    /// <summary>Encodes the location as the components of an ERL, e.g. <c>PID^1^3^1^1</c>.</summary>
    public string Encode(Hl7Delimiters delimiters)
    {
        var sb = new StringBuilder();
        sb.Append(SegmentId).Append(delimiters.Component).Append(SegmentSequence.ToString(CultureInfo.InvariantCulture));
        int[] rest = [Field, FieldRepetition, Component, Subcomponent];
        int last = Array.FindLastIndex(rest, static p => p > 0);
        for (int i = 0; i <= last; i++)
        {
            sb.Append(delimiters.Component);
            if (rest[i] > 0)
            {
                sb.Append(rest[i].ToString(CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder(SegmentId);
        if (SegmentSequence > 1)
        {
            sb.Append('[').Append(SegmentSequence.ToString(CultureInfo.InvariantCulture)).Append(']');
        }

        if (Field > 0)
        {
            sb.Append('-').Append(Field.ToString(CultureInfo.InvariantCulture));
            if (FieldRepetition > 1)
            {
                sb.Append('[').Append(FieldRepetition.ToString(CultureInfo.InvariantCulture)).Append(']');
            }

            if (Component > 0)
            {
                sb.Append('.').Append(Component.ToString(CultureInfo.InvariantCulture));
                if (Subcomponent > 0)
                {
                    sb.Append('.').Append(Subcomponent.ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        return sb.ToString();
    }
}
