namespace CareHub.Hl7v2.Tests;

public class BuildingTests
{
    [Fact]
    public void builds_a_message_by_path_adding_missing_fields_and_components()
    {
        var at = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(1));
        Hl7Message m = Hl7Message.Create("ADT^A28^ADT_A05", "2.5.1", "MSG-1", timestamp: at);

        m.Set("MSH-3", "CAREHUB");
        m.Set("PID-3[2].1", "9434765919");
        m.Set("PID-3[2].4.1", "NHS");
        m.Set("PID-3[2].5", "NH");
        m.Set("PID-5.1", "O'Neil & Sons | Ltd");
        m.Set("OBX[2]-5", "x");

        Assert.Equal(
            "MSH|^~\\&|CAREHUB||||20240506070809+0100||ADT^A28^ADT_A05|MSG-1|P|2.5.1\r" +
            "PID|||~9434765919^^^NHS^NH||O'Neil \\T\\ Sons \\F\\ Ltd\r" +
            "OBX\r" +
            "OBX|||||x\r",
            m.Encode());
        Hl7Message back = Hl7Message.Parse(m.Encode());
        Assert.Equal("O'Neil & Sons | Ltd", back.Get("PID-5"));
        Assert.Equal("9434765919", back.Get("PID-3[2]"));
    }

    [Fact]
    public void setting_a_value_replaces_only_that_part()
    {
        Hl7Message m = Hl7Message.Parse(ParsingTests.Adt);
        string before = m.Segment("PID")!.ToString();

        m.Set("PID-5.2", "JOAN");

        Assert.Equal(before.Replace("DOE^JANE^Q", "DOE^JOAN^Q", StringComparison.Ordinal), m.Segment("PID")!.ToString());
        Assert.Equal("JOAN", m.Get("PID-5.2"));
        Assert.Equal("MRS", m.Get("PID-5.5"));
    }

    [Fact]
    public void set_raw_writes_composites_and_whole_repetitions()
    {
        Hl7Message m = Hl7Message.Parse(ParsingTests.Adt);

        m.SetRaw("PID-3[1]", "222^^^PAS^MR");
        m.SetRaw("PV1-3", "W9^B9");

        Assert.Equal("222^^^PAS^MR~9434765919^^^NHS^NH", m.GetRaw("PID-3"));
        Assert.Equal("B9", m.Get("PV1-3.2"));
        Assert.Equal(string.Empty, m.Get("PV1-3.3"));
    }

    [Fact]
    public void delimiters_and_terminators_cannot_be_set_as_values()
    {
        Hl7Message m = Hl7Message.Parse(ParsingTests.Adt);

        Assert.Throws<ArgumentException>(() => m.Set("MSH-2", "*"));
        Assert.Throws<ArgumentException>(() => m.SetRaw("PID-5", "A\rB"));
        Assert.Throws<ArgumentException>(() => m.AddSegment("msh"));
        Assert.Throws<ArgumentException>(() => m.AddEncodedSegment("NTE|1\rPID"));
    }

    [Fact]
    public void a_value_with_line_breaks_is_escaped_as_hex_and_read_back()
    {
        Hl7Message m = Hl7Message.Create("ORU^R01^ORU_R01", controlId: "1");

        m.Set("OBX-5", "line one\r\nline two");

        Assert.Equal(2, Hl7Message.Parse(m.Encode()).Segments.Count);
        Assert.Equal("line one\r\nline two", Hl7Message.Parse(m.Encode()).Get("OBX-5"));
    }

    [Fact]
    public void segments_can_be_added_inserted_and_removed()
    {
        Hl7Message m = Hl7Message.Create("ADT^A01", controlId: "1");
        Hl7Segment pid = m.AddSegment("PID");
        m.InsertSegment(1, "EVN").Set(1, "A01");
        m.AddEncodedSegment("ZXY|a^b");
        pid.Set(1, "1");

        Assert.Equal(["MSH", "EVN", "PID", "ZXY"], m.Segments.Select(s => s.Id));
        Assert.Equal("b", m.Get("ZXY-1.2"));
        Assert.True(m.RemoveSegment(m.Segment("EVN")!));
        Assert.Throws<ArgumentException>(() => m.RemoveSegment(m.Header));
        Assert.Equal(["MSH", "PID", "ZXY"], m.Segments.Select(s => s.Id));
    }
}
