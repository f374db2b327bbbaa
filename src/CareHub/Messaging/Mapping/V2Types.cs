using System.Globalization;
using System.Text;
using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// The v2-to-FHIR data type maps (HL7 "V2 to FHIR" IG, ConceptMaps datatype-*): DTM/TS, XPN, XAD, XTN, CWE, PL, with
/// the empty-means-absent rule of HL7 v2 (an empty component maps to nothing, never to an empty FHIR string).
/// </summary>
internal static class V2Types
{
    /// <summary>A text value, or null when empty; FHIR strings may not be empty and should not carry outer white space.</summary>
    public static string? Text(Hl7Element element)
    {
        if (element.IsEmpty || element.IsNull)
        {
            return null;
        }

        var value = element.Value.Trim();
        return value.Length == 0 ? null : value;
    }

    /// <summary>A value usable as a FHIR code: no outer white space and single inner spaces (R4 datatypes.html#code).</summary>
    public static string? Code(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return string.Join(' ', value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The first component of a TS (or the DTM itself), read at whatever level the element sits.</summary>
    public static Hl7DateTime? DateTime(Hl7Element element)
    {
        var first = element.Level switch
        {
            Hl7ElementLevel.Field or Hl7ElementLevel.Repetition => element.Component(1),
            Hl7ElementLevel.Component => element.Subcomponent(1),
            _ => element,
        };
        return Hl7DateTime.TryParse(first.RawMemory.Span, out var value) ? value : null;
    }

    /// <summary>
    /// A FHIR dateTime (R4 datatypes.html#dateTime) at the precision sent: YYYY, YYYY-MM and YYYY-MM-DD stay as they are;
    /// with a time, seconds are written (FHIR has no hour or minute precision) and the offset is the one sent, else the
    /// sender's zone at that moment.
    /// </summary>
    public static string? FhirDateTime(Hl7DateTime? value, TimeZoneInfo zone)
    {
        if (value is not { } v)
        {
            return null;
        }

        var sb = new StringBuilder(32);
        sb.Append(v.Year.ToString("D4", CultureInfo.InvariantCulture));
        if (v.Precision >= Hl7DateTimePrecision.Month)
        {
            sb.Append('-').Append(v.Month.ToString("D2", CultureInfo.InvariantCulture));
        }

        if (v.Precision >= Hl7DateTimePrecision.Day)
        {
            sb.Append('-').Append(v.Day.ToString("D2", CultureInfo.InvariantCulture));
        }

        if (v.Precision >= Hl7DateTimePrecision.Hour)
        {
            sb.Append('T').Append(v.Hour.ToString("D2", CultureInfo.InvariantCulture))
                .Append(':').Append(v.Minute.ToString("D2", CultureInfo.InvariantCulture))
                .Append(':').Append(v.Second.ToString("D2", CultureInfo.InvariantCulture));
            if (v.Precision == Hl7DateTimePrecision.FractionOfSecond)
            {
                sb.Append('.').Append(v.Fraction.ToString("D" + v.FractionDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
            }

            AppendOffset(sb, Offset(v, zone));
        }

        return sb.ToString();
    }

    /// <summary>A FHIR date (YYYY, YYYY-MM or YYYY-MM-DD): a time sent with it is dropped, as for PID-7 to Patient.birthDate.</summary>
    public static string? FhirDate(Hl7DateTime? value)
    {
        if (value is not { } v)
        {
            return null;
        }

        var text = v.Year.ToString("D4", CultureInfo.InvariantCulture);
        if (v.Precision >= Hl7DateTimePrecision.Month)
        {
            text += "-" + v.Month.ToString("D2", CultureInfo.InvariantCulture);
        }

        if (v.Precision >= Hl7DateTimePrecision.Day)
        {
            text += "-" + v.Day.ToString("D2", CultureInfo.InvariantCulture);
        }

        return text;
    }

    /// <summary>
    /// A FHIR instant (R4 datatypes.html#instant), which needs at least the minute: a date alone is not an instant and
    /// gives null rather than an invented midnight.
    /// </summary>
    public static DateTimeOffset? Instant(Hl7DateTime? value, TimeZoneInfo zone) =>
        value is { Precision: >= Hl7DateTimePrecision.Minute } v ? v.ToDateTimeOffset(Offset(v, zone)) : null;

    /// <summary>The earliest instant a value can mean (parts not sent taken as their first value), for ordering.</summary>
    public static DateTimeOffset Earliest(Hl7DateTime value, TimeZoneInfo zone) => value.ToDateTimeOffset(Offset(value, zone));

    private static TimeSpan Offset(Hl7DateTime v, TimeZoneInfo zone) =>
        v.Offset ?? zone.GetUtcOffset(new System.DateTime(v.Year, v.Month, v.Day, v.Hour, v.Minute, v.Second, DateTimeKind.Unspecified));

    private static void AppendOffset(StringBuilder sb, TimeSpan offset)
    {
        sb.Append(offset < TimeSpan.Zero ? '-' : '+');
        var a = offset.Duration();
        sb.Append(a.Hours.ToString("D2", CultureInfo.InvariantCulture)).Append(':').Append(a.Minutes.ToString("D2", CultureInfo.InvariantCulture));
    }

    // ---- names -------------------------------------------------------------------------------------------------------

    /// <summary>
    /// XPN to HumanName (datatype-xpn-to-humanname): family from XPN.1.1, given from XPN.2 and XPN.3, suffix XPN.4 and
    /// degree XPN.6, prefix XPN.5, use from XPN.7 (HL7 table 0200). Null when the name holds nothing.
    /// </summary>
    public static HumanName? Name(Hl7Element xpn)
    {
        var family = Text(xpn.Component(1).Subcomponent(1));
        var given = new List<string>();
        AddIfText(given, xpn.Component(2));
        AddIfText(given, xpn.Component(3));
        var prefix = new List<string>();
        AddIfText(prefix, xpn.Component(5));
        var suffix = new List<string>();
        AddIfText(suffix, xpn.Component(4));
        AddIfText(suffix, xpn.Component(6));
        if (family is null && given.Count == 0)
        {
            return null;
        }

        var name = new HumanName { Family = family, Given = given, Prefix = prefix, Suffix = suffix, Use = NameUse(Text(xpn.Component(7))) };
        return name;
    }

    /// <summary>HL7 table 0200 (name type) to FHIR name-use (ConceptMap table-hl70200-to-name-use).</summary>
    public static HumanName.NameUse? NameUse(string? code) => code?.ToUpperInvariant() switch
    {
        "L" or "R" => HumanName.NameUse.Official,
        "D" => HumanName.NameUse.Usual,
        "M" => HumanName.NameUse.Maiden,
        "N" => HumanName.NameUse.Nickname,
        "A" or "S" => HumanName.NameUse.Anonymous,
        "B" or "BAD" => HumanName.NameUse.Old,
        "T" => HumanName.NameUse.Temp,
        _ => null,
    };

    /// <summary>The XCN name components (XCN.2.1 family, XCN.3 given, XCN.4 further given, XCN.5 suffix, XCN.6 prefix).</summary>
    public static HumanName? PractitionerName(Hl7Element xcn)
    {
        var family = Text(xcn.Component(2).Subcomponent(1));
        var given = new List<string>();
        AddIfText(given, xcn.Component(3));
        AddIfText(given, xcn.Component(4));
        var suffix = new List<string>();
        AddIfText(suffix, xcn.Component(5));
        var prefix = new List<string>();
        AddIfText(prefix, xcn.Component(6));
        return family is null && given.Count == 0 ? null : new HumanName { Family = family, Given = given, Prefix = prefix, Suffix = suffix };
    }

    private static void AddIfText(List<string> list, Hl7Element element)
    {
        if (Text(element) is { } text)
        {
            list.Add(text);
        }
    }

    // ---- addresses and telecoms ------------------------------------------------------------------------------------

    /// <summary>
    /// XAD to Address (datatype-xad-to-address): lines from XAD.1.1 and XAD.2, city XAD.3, state XAD.4 (the county in
    /// UK use), postal code XAD.5, country XAD.6, use and type from XAD.7 (HL7 table 0190).
    /// </summary>
    public static Address? Address(Hl7Element xad)
    {
        var lines = new List<string>();
        AddIfText(lines, xad.Component(1).Subcomponent(1));
        AddIfText(lines, xad.Component(2));
        var address = new Address
        {
            Line = lines,
            City = Text(xad.Component(3)),
            State = Text(xad.Component(4)),
            PostalCode = Text(xad.Component(5)),
            Country = Text(xad.Component(6)),
        };
        switch (Text(xad.Component(7))?.ToUpperInvariant())
        {
            case "H" or "HOME" or "P":
                address.Use = Hl7.Fhir.Model.Address.AddressUse.Home;
                break;
            case "B" or "O":
                address.Use = Hl7.Fhir.Model.Address.AddressUse.Work;
                break;
            case "C":
                address.Use = Hl7.Fhir.Model.Address.AddressUse.Temp;
                break;
            case "BA":
                address.Use = Hl7.Fhir.Model.Address.AddressUse.Old;
                break;
            case "M":
                address.Type = Hl7.Fhir.Model.Address.AddressType.Postal;
                break;
        }

        return lines.Count == 0 && address.City is null && address.PostalCode is null && address.State is null && address.Country is null ? null : address;
    }

    /// <summary>
    /// XTN to ContactPoint (datatype-xtn-to-contactpoint): an e-mail address from XTN.4 when the equipment type XTN.3 is
    /// Internet or X.400, else the number from XTN.12 (unformatted), XTN.1 (formatted, before v2.7) or XTN.5 to XTN.8; use
    /// from XTN.2 (table 0201), system from XTN.3 (table 0202). <paramref name="defaultUse"/> applies when XTN.2 is empty
    /// (PID-13 is home, PID-14 business).
    /// </summary>
    public static ContactPoint? Telecom(Hl7Element xtn, ContactPoint.ContactPointUse? defaultUse)
    {
        var equipment = Text(xtn.Component(3))?.ToUpperInvariant();
        var useCode = Text(xtn.Component(2))?.ToUpperInvariant();
        string? value;
        ContactPoint.ContactPointSystem system;
        if (equipment is "INTERNET" or "X.400" || useCode == "NET")
        {
            system = ContactPoint.ContactPointSystem.Email;
            value = Text(xtn.Component(4)) ?? Text(xtn.Component(1));
        }
        else
        {
            system = equipment switch
            {
                "FX" => ContactPoint.ContactPointSystem.Fax,
                "BP" => ContactPoint.ContactPointSystem.Pager,
                "MD" or "TDD" or "TTY" => ContactPoint.ContactPointSystem.Other,
                _ => ContactPoint.ContactPointSystem.Phone,
            };
            value = Text(xtn.Component(12)) ?? Text(xtn.Component(1)) ?? ComposedNumber(xtn);
        }

        if (value is null)
        {
            return null;
        }

        var use = useCode switch
        {
            "PRN" or "ORN" or "VHN" => ContactPoint.ContactPointUse.Home,
            "WPN" => ContactPoint.ContactPointUse.Work,
            "PRS" => ContactPoint.ContactPointUse.Mobile,
            _ => equipment == "CP" ? ContactPoint.ContactPointUse.Mobile : defaultUse,
        };
        if (useCode == "BPN")
        {
            system = ContactPoint.ContactPointSystem.Pager;
        }

        return new ContactPoint { System = system, Value = value, Use = use };
    }

    private static string? ComposedNumber(Hl7Element xtn)
    {
        var parts = new[] { Text(xtn.Component(5)), Text(xtn.Component(6)), Text(xtn.Component(7)) };
        if (parts[2] is null)
        {
            return null;
        }

        var number = string.Join(' ', parts.Where(p => p is not null));
        return Text(xtn.Component(8)) is { } extension ? $"{number} ext. {extension}" : number;
    }

    // ---- locations -----------------------------------------------------------------------------------------------

    /// <summary>A PL (person location) as display text: point of care, room, bed, facility, building, floor, joined by commas.</summary>
    public static string? LocationText(Hl7Element pl)
    {
        var parts = new List<string>();
        AddIfText(parts, pl.Component(1).Subcomponent(1));
        AddIfText(parts, pl.Component(2).Subcomponent(1));
        AddIfText(parts, pl.Component(3).Subcomponent(1));
        AddIfText(parts, pl.Component(4).Subcomponent(1));
        AddIfText(parts, pl.Component(7));
        AddIfText(parts, pl.Component(8));
        AddIfText(parts, pl.Component(9));
        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    // ---- numbers ---------------------------------------------------------------------------------------------------

    /// <summary>An HL7 NM value (optional sign, digits, optional point) as a decimal.</summary>
    public static decimal? Number(string? text) =>
        decimal.TryParse(text?.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) ? value : null;
}
