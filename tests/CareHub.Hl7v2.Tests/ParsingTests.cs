using System.Text;

namespace CareHub.Hl7v2.Tests;

public class ParsingTests
{
    internal const string Adt =
        "MSH|^~\\&|PAS|RQ1^1.2.3^ISO|HUB|NHS|20240102030405+0000||ADT^A01^ADT_A01|CTRL-1|P|2.5.1|||AL|NE||8859/1\r" +
        "EVN|A01|20240102030405\r" +
        "PID|1||111^^^PAS^MR~9434765919^^^NHS^NH||DOE^JANE^Q^^MRS||19800101|F|||1 HIGH ST^^LEEDS^^LS1 1AA||||||||||||||||||\r" +
        "PV1|1|I|W1^B2^3\r" +
        "OBX|1|NM|8867-4^Heart rate^LN||60|/min\r" +
        "OBX|2|NM|8310-5^Body temperature^LN||37.1|Cel\r" +
        "OBX|3|FT|COMMENT^Comment^L||Line one\\.br\\Line two \\T\\ more \\F\\ pipe \\S\\ hat \\R\\ tilde \\E\\ slash \\X41\\|\r" +
        "ZPI|custom^value|\r";

    [Fact]
    public void reads_values_by_path()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Assert.Equal("9434765919", m.Get("PID-3[2].1"));
        Assert.Equal("NH", m.Get("PID-3[2].5"));
        Assert.Equal("111", m.Get("PID-3"));
        Assert.Equal("DOE", m.Get("PID-5.1.1"));
        Assert.Equal("JANE", m["PID-5.2"]);
        Assert.Equal("37.1", m.Get("OBX[2]-5"));
        Assert.Equal("OBX|3|FT", m.Segment("OBX", 3)!.ToString()[..8]);
        Assert.Equal("1.2.3", m.Get("MSH-4.2"));
        Assert.Equal("|", m.Get("MSH-1"));
        Assert.Equal("^~\\&", m.Get("MSH-2"));
        Assert.Equal("value", m.Get("ZPI-1.2"));
        Assert.Equal(string.Empty, m.Get("PID-3[3].1"));
        Assert.Equal(string.Empty, m.Get("NK1-2"));
        Assert.Equal(string.Empty, m.Get("OBX[9]-5"));
    }

    [Fact]
    public void reads_header_fields()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Assert.Equal("ADT", m.MessageType);
        Assert.Equal("A01", m.TriggerEvent);
        Assert.Equal("ADT_A01", m.MessageStructure);
        Assert.Equal("CTRL-1", m.ControlId);
        Assert.Equal("2.5.1", m.Version);
        Assert.Equal("AL", m.AcceptAcknowledgmentType);
        Assert.Equal("8859/1", m.CharacterSet);
    }

    [Fact]
    public void paths_accept_terser_style_and_reject_nonsense()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Assert.Equal("NH", m.Get("/PID-3(2)-5"));
        Assert.Throws<FormatException>(() => m.Get("PID"));
        Assert.Throws<FormatException>(() => m.Get("pid-3"));
        Assert.Throws<FormatException>(() => m.Get("PID-0"));
        Assert.Throws<FormatException>(() => m.Get("PID-3[x]"));
        Assert.Equal(new Hl7Path("OBX", 3, 5, 2, 1, 4), Hl7Path.Parse("OBX[3]-5[2].1.4"));
    }

    [Fact]
    public void element_views_keep_the_levels_apart()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Hl7Element pid3 = m.Element("PID-3");
        Assert.Equal(Hl7ElementLevel.Field, pid3.Level);
        Assert.Equal(2, pid3.RepetitionCount);
        Assert.Equal("111^^^PAS^MR~9434765919^^^NHS^NH", pid3.Raw);
        Assert.Equal(5, pid3.Repetition(2).ComponentCount);
        Assert.Equal("9434765919^^^NHS^NH", m.GetRaw("PID-3[2]"));
        Assert.Equal(0, m.Element("PID-2").RepetitionCount);
        Assert.True(m.Element("PID-2").IsEmpty);
    }

    [Fact]
    public void decodes_escape_sequences_and_keeps_formatting_ones()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Assert.Equal("Line one\\.br\\Line two & more | pipe ^ hat ~ tilde \\ slash A", m.Get("OBX[3]-5"));
    }

    [Theory]
    [InlineData("a|b^c~d\\e&f", "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f")]
    [InlineData("first\\.br\\second", "first\\.br\\second")]
    [InlineData("\\H\\bold\\N\\", "\\H\\bold\\N\\")]
    [InlineData("line\r\nnext", "line\\X0D\\\\X0A\\next")]
    [InlineData("plain", "plain")]
    public void escaping_encodes_delimiters_and_round_trips(string text, string encoded)
    {
        Assert.Equal(encoded, Hl7Escaping.Escape(text, Hl7Delimiters.Default));
        Assert.Equal(text, Hl7Escaping.Unescape(encoded, Hl7Delimiters.Default));
    }

    [Theory]
    [InlineData("\\X\\", "\\X\\")]
    [InlineData("broken \\F", "broken \\F")]
    [InlineData("\\Q\\", "\\Q\\")]
    [InlineData("\\XZZ\\", "\\XZZ\\")]
    [InlineData("\\XC3A9\\", "é")]
    [InlineData("\\XE9\\", "é")]
    public void malformed_or_unknown_escapes_are_kept_as_sent(string encoded, string decoded)
    {
        Assert.Equal(decoded, Hl7Escaping.Unescape(encoded, Hl7Delimiters.Default));
    }

    [Fact]
    public void reads_custom_delimiters_from_msh_1_and_msh_2()
    {
        const string text = "MSH*:!$%*SND*FAC*RCV*FAC*20240101**ORU:R01*42*P*2.4\rPID*1**A:B:C!D:E%sub***X$F$Y\r";

        Hl7Message m = Hl7Message.Parse(text);

        Assert.Equal(new Hl7Delimiters('*', ':', '!', '$', '%'), m.Delimiters);
        Assert.Equal("ORU", m.MessageType);
        Assert.Equal("R01", m.TriggerEvent);
        Assert.Equal("B", m.Get("PID-3.2"));
        Assert.Equal("D", m.Get("PID-3[2].1"));
        Assert.Equal("sub", m.Get("PID-3[2].2.2"));
        Assert.Equal("X*Y", m.Get("PID-6"));
        Assert.Equal(text, m.Encode());
    }

    [Fact]
    public void reencodes_with_other_delimiters_and_escapes_what_became_a_delimiter()
    {
        const string text = "MSH*:!$%*SND*FAC*RCV*FAC*20240101**ORU:R01*42*P*2.4\rNTE*1**a|b^c:d$S$e\r";
        Hl7Message m = Hl7Message.Parse(text);

        string standard = m.Encode(Hl7Delimiters.Default);

        Assert.Equal("MSH|^~\\&|SND|FAC|RCV|FAC|20240101||ORU^R01|42|P|2.4\rNTE|1||a\\F\\b\\S\\c^d:e\r", standard);
        Hl7Message back = Hl7Message.Parse(standard);
        Assert.Equal("a|b^c", back.Get("NTE-3.1"));
        Assert.Equal(m.Get("NTE-3.2"), back.Get("NTE-3.2"));
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void accepts_any_segment_terminator(string terminator)
    {
        string text = Adt.Replace("\r", terminator, StringComparison.Ordinal);

        Hl7Message m = Hl7Message.Parse(text);

        Assert.Equal(8, m.Segments.Count);
        Assert.Equal(Adt, m.Encode());
    }

    [Fact]
    public void drops_a_leading_byte_order_mark_from_text_and_bytes()
    {
        Assert.Equal(Adt, Hl7Message.Parse("\uFEFF" + Adt).Encode());
        byte[] bytes = [.. "\uFEFF"u8, .. Encoding.UTF8.GetBytes(Adt)];
        Assert.Equal(Adt, Hl7Message.Parse(bytes).Encode());
    }

    [Fact]
    public void keeps_trailing_empty_fields_as_sent()
    {
        Hl7Message m = Hl7Message.Parse(Adt);

        Hl7Segment pid = m.Segment("PID")!;
        Assert.Equal(29, pid.FieldCount);
        Assert.EndsWith("||||||||||||||||||", pid.ToString(), StringComparison.Ordinal);
        Assert.Equal(Adt, m.Encode());
    }

    [Fact]
    public void decodes_bytes_in_the_character_set_of_msh_18()
    {
        string latin = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5||||||8859/1\rPID|1||1||Zoë^Renée\r";
        string utf8 = latin.Replace("8859/1", "UNICODE UTF-8", StringComparison.Ordinal);

        Assert.Equal("Zoë", Hl7Message.Parse(Encoding.Latin1.GetBytes(latin)).Get("PID-5"));
        Assert.Equal("Renée", Hl7Message.Parse(Encoding.UTF8.GetBytes(utf8)).Get("PID-5.2"));
        Assert.Equal(Encoding.Latin1.GetBytes(latin), Hl7Message.Parse(Encoding.Latin1.GetBytes(latin)).EncodeBytes());
    }

    [Fact]
    public void undeclared_bytes_are_utf8_when_valid_and_latin1_when_not()
    {
        string text = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5\rPID|1||1||Zoë\r";

        Assert.Equal("Zoë", Hl7Message.Parse(Encoding.UTF8.GetBytes(text)).Get("PID-5"));
        Assert.Equal("Zoë", Hl7Message.Parse(Encoding.Latin1.GetBytes(text)).Get("PID-5"));
    }

    [Fact]
    public void an_unknown_character_set_is_a_table_value_error_at_msh_18()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5||||||KLINGON\r");

        var e = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(bytes));

        Assert.Equal(Hl7ErrorCode.TableValueNotFound, e.ErrorCode);
        Assert.Equal(new Hl7ErrorLocation("MSH", 1, 18), e.Location);
    }

    [Theory]
    [InlineData("2.1")]
    [InlineData("2.2")]
    [InlineData("2.3")]
    [InlineData("2.3.1")]
    [InlineData("2.4")]
    [InlineData("2.5")]
    [InlineData("2.5.1")]
    [InlineData("2.6")]
    [InlineData("2.7")]
    [InlineData("2.7.1")]
    [InlineData("2.8")]
    public void reads_every_version_from_2_1_to_2_8(string version)
    {
        string text = $"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|{version}\rPID|1||X\r";

        Hl7Message m = Hl7Message.Parse(text, new Hl7ParseOptions { RequireKnownVersion = true });

        Assert.Equal(version, m.Version);
    }

    [Fact]
    public void a_v2_7_truncation_character_is_read_and_escaped()
    {
        string text = "MSH|^~\\&#|A|B|C|D|20240101||ADT^A01|1|P|2.7\rNTE|1||a\\P\\b\r";

        Hl7Message m = Hl7Message.Parse(text);

        Assert.Equal('#', m.Delimiters.Truncation);
        Assert.Equal("a#b", m.Get("NTE-3"));
        Assert.Equal(text, m.Encode());
    }

    [Theory]
    [InlineData("", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("\r\n\r\n", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("PID|1||X\r", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH|^~\\|A\r", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH|^~\\^|A\r", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSHA^~\\&|A\r", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rthis is not a segment\r", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID^1\r", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rMSH|^~\\&|A\r", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20240101||^A01|1|P|2.5\r", Hl7ErrorCode.RequiredFieldMissing)]
    [InlineData("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P\r", Hl7ErrorCode.RequiredFieldMissing)]
    public void malformed_messages_raise_a_typed_error_with_the_0357_code(string text, Hl7ErrorCode code)
    {
        var e = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(text));

        Assert.Equal(code, e.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void an_unknown_version_is_rejected_only_when_asked()
    {
        const string text = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|3.0\r";

        Assert.Equal("3.0", Hl7Message.Parse(text).Version);
        var e = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(text, new Hl7ParseOptions { RequireKnownVersion = true }));
        Assert.Equal(Hl7ErrorCode.UnsupportedVersionId, e.ErrorCode);
    }

    [Fact]
    public void random_garbage_never_escapes_as_anything_but_a_parse_error()
    {
        var random = new Random(20240101);
        byte[] alphabet = "MSH|^~\\&\r\nPIDOBX0123 ABC\u00e9"u8.ToArray();
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 120)];
            for (int k = 0; k < bytes.Length; k++)
            {
                bytes[k] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }

            if (random.Next(3) == 0 && bytes.Length > 8)
            {
                "MSH|^~\\&"u8.CopyTo(bytes);
            }

            try
            {
                Hl7Message m = Hl7Message.Parse(bytes, new Hl7ParseOptions { RequireHeaderFields = false });
                foreach (Hl7Segment s in m.Segments)
                {
                    for (int f = 1; f <= s.FieldCount; f++)
                    {
                        _ = s.Field(f).Component(2).Subcomponent(2).Value;
                    }
                }

                _ = m.Encode();
            }
            catch (Hl7ParseException e)
            {
                Hl7Message? ack = Hl7Acknowledgement.ForUnparseable(bytes, e);
                Assert.True(ack is null || ack.Get("MSA-1") is "AE" or "AR" or "CE" or "CR");
            }
        }
    }
}

public class CharacterSetTests
{
    [Theory]
    [InlineData("8859/1", "Zoë", 28591)]
    [InlineData("8859/2", "Łódź", 28592)]
    [InlineData("8859/15", "€5", 28605)]
    [InlineData("UNICODE UTF-8", "Ωμέγα €", 65001)]
    [InlineData("ASCII", "plain", 28591)]
    public void decodes_and_encodes_each_supported_character_set(string charset, string value, int codePage)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        string text = $"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5||||||{charset}\rNTE|1||{value}\r";
        byte[] bytes = Encoding.GetEncoding(codePage).GetBytes(text);

        Hl7Message message = Hl7Message.Parse(bytes);

        Assert.Equal(value, message.Get("NTE-3"));
        Assert.Equal(bytes, message.EncodeBytes());
    }

    [Fact]
    public void later_repetitions_of_msh_18_do_not_change_the_base_character_set()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5||||||UNICODE UTF-8~ISO IR87\rNTE|1||Ω\r");

        Assert.Equal("Ω", Hl7Message.Parse(bytes).Get("NTE-3"));
    }
}
