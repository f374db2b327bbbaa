using CareHub.Hl7v2;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>Small NHS-flavoured messages written for these tests (synthetic NHS Numbers from the 999 test block).</summary>
internal static class V2Messages
{
    public static readonly string NhsNumber = CareHub.Identity.NhsNumber.SyntheticTestNumber(0).Value;

    public static readonly string OtherNhsNumber = CareHub.Identity.NhsNumber.SyntheticTestNumber(1).Value;

    /// <summary>An ADT for a patient with an NHS Number and a hospital number, in a visit V0001 at trust RX1.</summary>
    public static Hl7Message Adt(string trigger, string controlId = "MSG0001", string? pid3 = null, string admit = "20250301101500", string discharge = "",
        string location = "WARD1^BAY2^BED3^RX1", string priorLocation = "", string visit = "V0001^^^RX1^VN") =>
        Hl7Message.Parse(string.Join('\r',
            $"MSH|^~\\&|PAS|RX1|CAREHUB|CAREHUB|20250301101500||ADT^{trigger}^ADT_A01|{controlId}|P|2.5.1",
            $"EVN|{trigger}|20250301101500",
            $"PID|1||{pid3 ?? $"{NhsNumber}^^^NHS^NH~H123456^^^RX1^MR"}||SMITH^JANE^ANN^^MRS^^L||19800214|F|||1 HIGH STREET^^LEEDS^^LS1 1AA^GBR^H||0113 496 0000^PRN^PH",
            Pv1(location, priorLocation, visit, admit, discharge)));

    /// <summary>PV1 with class I, locations PV1-3 and PV1-6, attending doctor PV1-7, visit number PV1-19, admit PV1-44, discharge PV1-45.</summary>
    private static string Pv1(string location, string priorLocation, string visit, string admit, string discharge)
    {
        var fields = new string[46];
        Array.Fill(fields, string.Empty);
        fields[0] = "PV1";
        fields[1] = "1";
        fields[2] = "I";
        fields[3] = location;
        fields[6] = priorLocation;
        fields[7] = "C1234567^JONES^ALAN^^^DR^^^GMC";
        fields[19] = visit;
        fields[44] = admit;
        fields[45] = discharge;
        return string.Join('|', fields);
    }

    /// <summary>An ORU^R01 for the same patient with one OBR and the OBX given.</summary>
    public static Hl7Message Oru(string obx, string controlId = "LAB0001") =>
        Hl7Message.Parse(string.Join('\r',
            $"MSH|^~\\&|LIMS|RX1|CAREHUB|CAREHUB|20250301120000||ORU^R01^ORU_R01|{controlId}|P|2.5.1",
            $"PID|1||{NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
            "OBR|1|ORD1^PAS|LAB1^LIMS|58410-2^CBC panel^LN|||20250301090000|||||||||||||||20250301115900|||F",
            obx));
}
