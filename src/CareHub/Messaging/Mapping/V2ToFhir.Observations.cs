using System.Globalization;
using System.Text;
using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private const string Ucum = "http://unitsofmeasure.org";
    private const string ObservationInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

    /// <summary>The table 0078 codes that v3 ObservationInterpretation shares (IG ConceptMap table-hl70078-to-observation-interpretation).</summary>
    private static readonly HashSet<string> InterpretationCodes = new(StringComparer.Ordinal)
    {
        "<", ">", "A", "AA", "B", "D", "H", "HH", "HU", "I", "L", "LL", "LU", "MS", "N", "NEG", "POS", "R", "S", "U", "VS", "W", "IND", "E", "EX", "HX", "LX", "NR", "RR", "QCF", "TOX", "WR", "CAR", "DET", "ND", "IE", "SDD", "SYN-R", "SYN-S",
    };

    /// <summary>
    /// OBX to Observation (IG segment-obx-to-observation): code OBX-3, value by OBX-2 (NM Quantity with UCUM units when
    /// OBX-6 names UCUM; ST/TX/FT string; CE/CWE/CNE CodeableConcept; DT/TS/DTM dateTime; TM time; SN Quantity with
    /// comparator, Range or Ratio), units OBX-6, reference range OBX-7, interpretation OBX-8, status OBX-11 (table 0085),
    /// effective OBX-14, performer OBX-16, method OBX-17, body site OBX-20. Null (with a warning) when OBX-3 is empty.
    /// Values FHIR R4 has no Observation.value for (ED, RP, ...) are left to the caller through <paramref name="attachment"/>.
    /// </summary>
    private static Observation? MapObx(MappingContext context, Hl7Segment obx, string? defaultEffective, out Attachment? attachment)
    {
        attachment = null;
        var code = context.Concept(obx[3]);
        if (code is null)
        {
            context.Warn(obx, 3, "OBX without an observation identifier (OBX-3) is not mapped.", Hl7ErrorCode.RequiredFieldMissing);
            return null;
        }

        var observation = new Observation
        {
            Status = ObservationStatusFor(V2Types.Code(obx[11].Value)),
            Code = code,
            Subject = new ResourceReference(context.PatientUrl),
            Encounter = context.EncounterUrl is null ? null : new ResourceReference(context.EncounterUrl),
        };
        if ((context.DateTime(obx[14]) ?? defaultEffective) is { } effective)
        {
            observation.Effective = new FhirDateTime(effective);
        }

        var valueType = V2Types.Code(obx[2].Value)?.ToUpperInvariant();
        var value = obx[5];
        if (value.RepetitionCount > 1 && valueType is not ("TX" or "FT"))
        {
            context.Warn(obx, 5, "OBX-5 repeats: only the first value is mapped.", Hl7ErrorCode.DataTypeError);
        }

        var first = value.Repetition(1);
        if (!first.IsEmpty && !first.IsNull)
        {
            switch (valueType)
            {
                case "NM":
                    var number = V2Types.Number(first.Value);
                    if (number is null)
                    {
                        context.Warn(obx, 5, "An NM value that is not a number is kept as text.", Hl7ErrorCode.DataTypeError);
                        observation.Value = V2Types.Text(first) is { } numberText ? new FhirString(numberText) : null;
                    }
                    else
                    {
                        observation.Value = Quantity(number.Value, obx[6], null);
                    }

                    break;
                case "ST" or "TX" or "FT":
                    observation.Value = Joined(context, value) is { } text ? new FhirString(text) : null;
                    break;
                case "CE" or "CWE" or "CNE" or "CF":
                    observation.Value = context.Concept(first);
                    break;
                case "DT":
                    observation.Value = V2Types.FhirDate(V2Types.DateTime(first)) is { } date ? new FhirDateTime(date) : null;
                    break;
                case "TS" or "DTM":
                    observation.Value = context.DateTime(first) is { } dateTime ? new FhirDateTime(dateTime) : null;
                    break;
                case "TM":
                    observation.Value = Time(first.Value) is { } time ? new Time(time) : null;
                    break;
                case "SN":
                    observation.Value = StructuredNumeric(context, obx, first);
                    break;
                case "ID" or "IS":
                    observation.Value = V2Types.Text(first) is { } coded ? new FhirString(coded) : null;
                    break;
                case "ED":
                    attachment = EncapsulatedData(context, obx, first);
                    break;
                case "RP":
                    attachment = ReferencePointer(first);
                    break;
                default:
                    context.Warn(obx, 2, $"OBX value type '{valueType}' has no FHIR Observation value; the value is not mapped.", Hl7ErrorCode.DataTypeError);
                    break;
            }
        }

        if (ReferenceRange(obx[7], obx[6]) is { } range)
        {
            observation.ReferenceRange.Add(range);
        }

        foreach (var interpretation in context.Concepts(obx[8], "0078"))
        {
            foreach (var coding in interpretation.Coding.Where(c => c.System == V2Codes.V2TablePrefix + "0078" && c.Code is not null && InterpretationCodes.Contains(c.Code)))
            {
                coding.System = ObservationInterpretation;
            }

            observation.Interpretation.Add(interpretation);
        }

        observation.Performer.AddRange(context.Practitioners(obx[16]));
        observation.Method = context.Concept(obx[17]);
        observation.BodySite = context.Concept(obx[20]);
        return observation;
    }

    /// <summary>OBX-11 (table 0085) to Observation.status (IG ConceptMap table-hl70085-to-observation-status).</summary>
    private static ObservationStatus ObservationStatusFor(string? code) => code?.ToUpperInvariant() switch
    {
        "F" or "U" => ObservationStatus.Final,
        "C" => ObservationStatus.Corrected,
        "A" => ObservationStatus.Amended,
        "P" or "R" or "S" => ObservationStatus.Preliminary,
        "I" or "O" => ObservationStatus.Registered,
        "D" or "W" => ObservationStatus.EnteredInError,
        "X" or "N" => ObservationStatus.Cancelled,
        _ => ObservationStatus.Unknown,
    };

    /// <summary>A Quantity with OBX-6 units: UCUM system and code when OBX-6.3 says UCUM, else the unit as text only.</summary>
    private static Quantity Quantity(decimal value, Hl7Element units, Quantity.QuantityComparator? comparator)
    {
        var quantity = new Quantity { Value = value, Comparator = comparator };
        var unitCode = V2Types.Code(units.Component(1).Value);
        var unitText = V2Types.Text(units.Component(2));
        var system = V2Types.Code(units.Component(3).Value);
        quantity.Unit = unitText ?? unitCode;
        if (unitCode is not null && system is not null && (system.Equals("UCUM", StringComparison.OrdinalIgnoreCase) || system == Ucum))
        {
            quantity.System = Ucum;
            quantity.Code = unitCode;
        }

        return quantity;
    }

    /// <summary>
    /// SN (structured numeric: comparator ^ num1 ^ separator/suffix ^ num2) to Quantity (with comparator), Range
    /// ("-"), Ratio (":" or "/"), per the IG's SN maps; anything else ("2+", "&lt;&gt;5") as text.
    /// </summary>
    private static DataType? StructuredNumeric(MappingContext context, Hl7Segment obx, Hl7Element sn)
    {
        var comparatorText = V2Types.Code(sn.Component(1).Value);
        var num1 = V2Types.Number(sn.Component(2).Value);
        var separator = V2Types.Code(sn.Component(3).Value);
        var num2 = V2Types.Number(sn.Component(4).Value);
        var units = obx[6];
        if (num1 is { } low && num2 is { } high && comparatorText is null)
        {
            switch (separator)
            {
                case "-":
                    return new Hl7.Fhir.Model.Range { Low = Quantity(low, units, null), High = Quantity(high, units, null) };
                case ":" or "/":
                    return new Ratio { Numerator = new Quantity { Value = low }, Denominator = new Quantity { Value = high } };
            }
        }

        if (num1 is { } n && num2 is null && separator is null && comparatorText is null or "=" or "<" or "<=" or ">" or ">=")
        {
            Quantity.QuantityComparator? comparator = comparatorText switch
            {
                "<" => Hl7.Fhir.Model.Quantity.QuantityComparator.LessThan,
                "<=" => Hl7.Fhir.Model.Quantity.QuantityComparator.LessOrEqual,
                ">" => Hl7.Fhir.Model.Quantity.QuantityComparator.GreaterThan,
                ">=" => Hl7.Fhir.Model.Quantity.QuantityComparator.GreaterOrEqual,
                _ => null,
            };
            return Quantity(n, units, comparator);
        }

        var text = string.Concat(comparatorText, sn.Component(2).Value, separator, sn.Component(4).Value).Trim();
        context.Warn(obx, 5, "An SN value that is not a number, range or ratio is kept as text.", Hl7ErrorCode.DataTypeError);
        return text.Length == 0 ? null : new FhirString(text);
    }

    /// <summary>TM (HH[MM[SS[.S+]]]) as a FHIR time hh:mm:ss; null when it is not one.</summary>
    private static string? Time(string text)
    {
        var t = text.Trim();
        var sign = t.IndexOfAny(['+', '-']);
        if (sign >= 0)
        {
            t = t[..sign];
        }

        var dot = t.IndexOf('.', StringComparison.Ordinal);
        var fraction = dot >= 0 ? t[dot..] : string.Empty;
        t = dot >= 0 ? t[..dot] : t;
        if (t.Length is not (2 or 4 or 6) || !t.All(char.IsAsciiDigit))
        {
            return null;
        }

        t = t.PadRight(6, '0');
        return $"{t[..2]}:{t[2..4]}:{t[4..6]}{fraction}";
    }

    /// <summary>
    /// OBX-7 to referenceRange: "low-high" or "low to high" as low and high in OBX-6 units, "&lt;x" / "&gt;x" as one
    /// bound, and always the text as sent.
    /// </summary>
    private static Observation.ReferenceRangeComponent? ReferenceRange(Hl7Element field, Hl7Element units)
    {
        var text = V2Types.Text(field);
        if (text is null)
        {
            return null;
        }

        var range = new Observation.ReferenceRangeComponent { Text = text };
        var compact = text.Replace(" to ", "-", StringComparison.OrdinalIgnoreCase).Replace(" ", string.Empty, StringComparison.Ordinal);
        var dash = compact.IndexOf('-', 1);
        if (dash > 0 && V2Types.Number(compact[..dash]) is { } low && V2Types.Number(compact[(dash + 1)..]) is { } high)
        {
            range.Low = Quantity(low, units, null);
            range.High = Quantity(high, units, null);
        }
        else if (compact.StartsWith('<') && V2Types.Number(compact.TrimStart('<', '=')) is { } upper)
        {
            range.High = Quantity(upper, units, null);
        }
        else if (compact.StartsWith('>') && V2Types.Number(compact.TrimStart('>', '=')) is { } lower)
        {
            range.Low = Quantity(lower, units, null);
        }

        return range;
    }

    /// <summary>Text repetitions joined by line breaks, with the FT line break escape (\.br\, HL7 v2 chapter 2.7.6) as a new line.</summary>
    private static string? Joined(MappingContext context, Hl7Element field)
    {
        var escape = context.Message.Delimiters.Escape;
        var lineBreak = $"{escape}.br{escape}";
        var lines = new List<string>();
        foreach (var repetition in field.Repetitions)
        {
            lines.Add(repetition.Value.Replace(lineBreak, "\n", StringComparison.OrdinalIgnoreCase));
        }

        var text = string.Join('\n', lines).Trim();
        return text.Length == 0 ? null : text;
    }

    /// <summary>
    /// ED (source application ^ type of data ^ data subtype ^ encoding ^ data) to Attachment: content type from type
    /// and subtype (HL7 tables 0191 and 0291), data decoded per the encoding (table 0299: Base64, Hex, A or none).
    /// </summary>
    private static Attachment EncapsulatedData(MappingContext context, Hl7Segment obx, Hl7Element ed)
    {
        var attachment = new Attachment { ContentType = ContentType(ed.Component(2).Value, ed.Component(3).Value) };
        var data = ed.Component(5).Value.Trim();
        if (data.Length == 0)
        {
            context.Warn(obx, 5, "Encapsulated data (OBX-5.5) is empty: the attachment carries only its type.");
            return attachment;
        }

        try
        {
            attachment.Data = V2Types.Code(ed.Component(4).Value)?.ToUpperInvariant() switch
            {
                "BASE64" => Convert.FromBase64String(data),
                "HEX" => Convert.FromHexString(data),
                _ => Encoding.UTF8.GetBytes(data),
            };
        }
        catch (FormatException)
        {
            throw new V2MappingException(Hl7ErrorCode.DataTypeError, context.Location(obx, 5, 1, 5), "Encapsulated data (OBX-5.5) does not decode as its encoding (OBX-5.4) says.");
        }

        return attachment;
    }

    /// <summary>RP (pointer ^ application id ^ type of data ^ subtype) to an Attachment that points at the data.</summary>
    private static Attachment? ReferencePointer(Hl7Element rp)
    {
        var pointer = V2Types.Text(rp.Component(1));
        if (pointer is null)
        {
            return null;
        }

        return new Attachment
        {
            Url = Uri.TryCreate(pointer, UriKind.Absolute, out var uri) ? uri.AbsoluteUri : null,
            Title = Uri.TryCreate(pointer, UriKind.Absolute, out _) ? null : pointer,
            ContentType = ContentType(rp.Component(3).Value, rp.Component(4).Value),
        };
    }

    /// <summary>A MIME type from the v2 type of data (table 0191) and subtype (table 0291), when both say something a MIME type can.</summary>
    private static string? ContentType(string type, string subtype)
    {
        var major = V2Types.Code(type)?.ToUpperInvariant() switch
        {
            "AP" or "APPLICATION" => "application",
            "IM" or "IMAGE" => "image",
            "TX" or "TEXT" => "text",
            "AU" or "AUDIO" => "audio",
            "VIDEO" => "video",
            "MULTIPART" => "multipart",
            _ => null,
        };
        var minor = V2Types.Code(subtype)?.ToLowerInvariant();
        if (minor is not null && minor.StartsWith("x-", StringComparison.Ordinal) is false && minor.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '+'))
        {
            return major is null ? null : $"{major}/{minor}";
        }

        return major == "text" ? "text/plain" : null;
    }

    /// <summary>NTE-3 (comment) as an annotation.</summary>
    private static void AddNote(MappingContext context, List<Annotation> notes, Hl7Segment nte)
    {
        if (Joined(context, nte[3]) is { } text)
        {
            notes.Add(new Annotation { Text = new Markdown(text) });
        }
    }

    /// <summary>An OBX outside any order (ADT, SIU, or before the first OBR): keyed by OBX-21, else by patient, code, sub-id and time.</summary>
    private static Observation? MapStandaloneObservation(MappingContext context, Hl7Segment obx)
    {
        var observation = MapObx(context, obx, null, out var attachment);
        if (attachment is not null)
        {
            context.Warn(obx, 5, "An attachment outside a report or document is not mapped.");
        }

        if (observation is null)
        {
            return null;
        }

        var key = ObservationKey(context, obx, MappingContext.KeyText(context.PatientKey) + "|" + MappingContext.KeyText(context.EncounterKey), observation);
        observation.Identifier.Add(key);
        context.Builder.Put(observation, key);
        return observation;
    }

    /// <summary>
    /// OBX-21 (observation instance identifier) when sent and not already used in this message; else a key derived from
    /// the owner (report or patient), the code (OBX-3), the sub-id (OBX-4) and the time (OBX-14), which a repeat of the
    /// same result gives again.
    /// </summary>
    private static Identifier ObservationKey(MappingContext context, Hl7Segment obx, string owner, Observation observation)
    {
        if (V2Identifiers.FromEi(obx[21], context.Sender, "observation", context.Options) is { } instance && !context.Builder.Contains("Observation", instance))
        {
            return instance;
        }

        var code = observation.Code.Coding.FirstOrDefault() is { } coding ? $"{coding.System}|{coding.Code}" : observation.Code.Text;
        var key = context.DerivedKey("observation", owner, code, obx[4].Value, obx[14].Value);
        var repeat = 1;
        while (context.Builder.Contains("Observation", key))
        {
            key = context.DerivedKey("observation", owner, code, obx[4].Value, obx[14].Value, (++repeat).ToString(CultureInfo.InvariantCulture));
        }

        return key;
    }
}
