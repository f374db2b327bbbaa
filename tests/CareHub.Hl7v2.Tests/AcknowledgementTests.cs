using System.Text;

namespace CareHub.Hl7v2.Tests;

public class AcknowledgementTests
{
    private const string Original =
        "MSH|^~\\&|PAS|RQ1^1.2.3^ISO|HUB|CAREHUB|20240102030405||ADT^A01^ADT_A01|CTRL-7|P|2.5.1\rPID|1||X\r";

    private const string Enhanced =
        "MSH|^~\\&|PAS|RQ1|HUB|CAREHUB|20240102030405||ADT^A01^ADT_A01|CTRL-8|T|2.8|||AL|NE||UNICODE UTF-8\rPID|1||X\r";

    private static readonly Hl7AckOptions Fixed = new()
    {
        ControlId = "ACK-1",
        Timestamp = new DateTimeOffset(2024, 1, 2, 3, 4, 6, TimeSpan.Zero),
    };

    [Fact]
    public void an_original_mode_accept_swaps_applications_and_echoes_the_control_id()
    {
        Hl7Message message = Hl7Message.Parse(Original);

        Hl7Message ack = Hl7Acknowledgement.Accept(message, Fixed);

        Assert.Equal(Hl7AckMode.Original, Hl7Acknowledgement.ModeOf(message));
        Assert.Equal(
            "MSH|^~\\&|HUB|CAREHUB|PAS|RQ1^1.2.3^ISO|20240102030406+0000||ACK^A01^ACK|ACK-1|P|2.5.1\rMSA|AA|CTRL-7\r",
            ack.Encode());
    }

    [Fact]
    public void an_enhanced_mode_accept_is_a_commit_accept()
    {
        Hl7Message message = Hl7Message.Parse(Enhanced);

        Hl7Message ack = Hl7Acknowledgement.Accept(message, Fixed);

        Assert.Equal(Hl7AckMode.Enhanced, Hl7Acknowledgement.ModeOf(message));
        Assert.Equal("CA", ack.Get("MSA-1"));
        Assert.Equal("CTRL-8", ack.Get("MSA-2"));
        Assert.Equal("T", ack.ProcessingId);
        Assert.Equal("2.8", ack.Version);
        Assert.Equal("UNICODE UTF-8", ack.CharacterSet);
        Assert.Equal("", ack.AcceptAcknowledgmentType);
    }

    [Theory]
    [InlineData(Original, Hl7ErrorCode.RequiredFieldMissing, "AE")]
    [InlineData(Original, Hl7ErrorCode.UnsupportedMessageType, "AR")]
    [InlineData(Original, Hl7ErrorCode.UnsupportedVersionId, "AR")]
    [InlineData(Enhanced, Hl7ErrorCode.DataTypeError, "CE")]
    [InlineData(Enhanced, Hl7ErrorCode.UnsupportedEventCode, "CR")]
    [InlineData(Enhanced, Hl7ErrorCode.ApplicationInternalError, "CE")]
    public void error_acks_pick_the_code_from_the_mode_and_the_error(string text, Hl7ErrorCode code, string expected)
    {
        Hl7Message ack = Hl7Acknowledgement.Error(Hl7Message.Parse(text), new Hl7Error(code));

        Assert.Equal(expected, ack.Get("MSA-1"));
        Assert.Equal(((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), ack.Get("ERR-3.1"));
        Assert.Equal("HL70357", ack.Get("ERR-3.3"));
    }

    [Fact]
    public void an_error_ack_carries_the_location_code_severity_and_diagnostic_in_err()
    {
        Hl7Message message = Hl7Message.Parse(Original);
        Hl7Error[] errors =
        [
            new(Hl7ErrorCode.RequiredFieldMissing, new Hl7ErrorLocation("PID", 1, 3, 1, 1), "PID-3 is required"),
            new(Hl7ErrorCode.TableValueNotFound, new Hl7ErrorLocation("PID", 1, 8), "sex | unknown", 'W'),
        ];

        Hl7Message ack = Hl7Acknowledgement.Error(message, errors, Fixed);

        Assert.Equal("AE", ack.Get("MSA-1"));
        Assert.Equal("CTRL-7", ack.Get("MSA-2"));
        Assert.Equal("ERR||PID^1^3^1^1|101^Required field missing^HL70357|E|||PID-3 is required", ack.Segment("ERR")!.ToString());
        Assert.Equal("ERR||PID^1^8|103^Table value not found^HL70357|W|||sex \\F\\ unknown", ack.Segment("ERR", 2)!.ToString());
        Assert.Equal("sex | unknown", ack.Get("ERR[2]-7"));
    }

    [Fact]
    public void before_v2_5_the_error_also_goes_in_err_1_msa_3_and_msa_6()
    {
        Hl7Message message = Hl7Message.Parse(Original.Replace("2.5.1", "2.3", StringComparison.Ordinal));

        Hl7Message ack = Hl7Acknowledgement.Error(message, new Hl7Error(Hl7ErrorCode.DataTypeError, new Hl7ErrorLocation("PID", 1, 7), "bad date"), Fixed);

        Assert.Equal("ACK^A01", ack.GetRaw("MSH-9"));
        Assert.Equal("bad date", ack.Get("MSA-3"));
        Assert.Equal("102", ack.Get("MSA-6.1"));
        Assert.Equal("PID^1^7^102&Data type error&HL70357", ack.GetRaw("ERR-1"));
        Assert.Equal("PID^1^7", ack.GetRaw("ERR-2"));
    }

    [Fact]
    public void a_v2_1_ack_has_a_bare_message_type()
    {
        Hl7Message message = Hl7Message.Parse(Original.Replace("2.5.1", "2.1", StringComparison.Ordinal));

        Assert.Equal("ACK", Hl7Acknowledgement.Accept(message).GetRaw("MSH-9"));
    }

    [Fact]
    public void an_ack_parses_and_round_trips()
    {
        Hl7Message ack = Hl7Acknowledgement.Error(Hl7Message.Parse(Enhanced), new Hl7Error(Hl7ErrorCode.ApplicationInternalError, Diagnostic: "store unavailable"));

        Assert.Equal(ack.Encode(), Hl7Message.Parse(ack.Encode()).Encode());
    }

    [Fact]
    public void a_message_that_fails_to_parse_is_answered_from_its_header()
    {
        byte[] raw = Encoding.UTF8.GetBytes("MSH|^~\\&|PAS|RQ1|HUB|CAREHUB|20240102||ADT^A01|CTRL-9|P|2.5\rPID|1||X\r!!garbage!!\r");
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw));

        Hl7Message? ack = Hl7Acknowledgement.ForUnparseable(raw, error, Fixed);

        Assert.NotNull(ack);
        Assert.Equal("AE", ack.Get("MSA-1"));
        Assert.Equal("CTRL-9", ack.Get("MSA-2"));
        Assert.Equal("100", ack.Get("ERR-3.1"));
        Assert.Equal("HUB", ack.Get("MSH-3"));
        Assert.Equal("PAS", ack.Get("MSH-5"));
    }

    [Fact]
    public void a_message_whose_version_is_blank_is_still_answered()
    {
        byte[] raw = Encoding.UTF8.GetBytes("MSH|^~\\&|PAS|RQ1|HUB|CAREHUB|20240102||ADT^A01|CTRL-11|P| \rPID|1||X\r!!garbage!!\r");
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw));

        Hl7Message? ack = Hl7Acknowledgement.ForUnparseable(raw, error, Fixed);

        Assert.Equal("CTRL-11", ack?.Get("MSA-2"));
        Assert.Equal("AE", ack?.Get("MSA-1"));
    }

    [Fact]
    public void a_header_cut_short_by_a_line_break_is_a_parse_error_not_a_crash()
    {
        byte[] raw = Encoding.UTF8.GetBytes("MSH|\rPID|1||X\r");

        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw));

        Assert.Null(Hl7Acknowledgement.ForUnparseable(raw, error));
    }

    [Fact]
    public void an_unsupported_version_is_rejected_from_raw_bytes_in_enhanced_mode()
    {
        byte[] raw = Encoding.UTF8.GetBytes("MSH|^~\\&|PAS|RQ1|HUB|CAREHUB|20240102||ADT^A01|CTRL-10|P|9.9|||AL|AL\r");
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw, new Hl7ParseOptions { RequireKnownVersion = true }));

        Hl7Message? ack = Hl7Acknowledgement.ForUnparseable(raw, error);

        Assert.Equal("CR", ack?.Get("MSA-1"));
        Assert.Equal("203", ack?.Get("ERR-3.1"));
        Assert.Equal("MSH^1^12", ack?.GetRaw("ERR-2"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not hl7 at all")]
    [InlineData("MSH")]
    public void bytes_without_a_readable_header_get_no_ack(string text)
    {
        byte[] raw = Encoding.UTF8.GetBytes(text);

        Assert.Null(Hl7Acknowledgement.ForUnparseable(raw, new Hl7ParseException("bad", Hl7ErrorCode.SegmentSequenceError)));
    }

    [Theory]
    [InlineData("AL", Hl7AckOutcome.Accept, true)]
    [InlineData("NE", Hl7AckOutcome.Error, false)]
    [InlineData("ER", Hl7AckOutcome.Accept, false)]
    [InlineData("ER", Hl7AckOutcome.Reject, true)]
    [InlineData("SU", Hl7AckOutcome.Accept, true)]
    [InlineData("SU", Hl7AckOutcome.Error, false)]
    public void enhanced_mode_honours_the_accept_acknowledgment_type(string msh15, Hl7AckOutcome outcome, bool expected)
    {
        Hl7Message message = Hl7Message.Parse(Enhanced.Replace("|AL|NE|", $"|{msh15}|NE|", StringComparison.Ordinal));

        Assert.Equal(expected, Hl7Acknowledgement.IsAcceptAckRequested(message, outcome));
    }
}
