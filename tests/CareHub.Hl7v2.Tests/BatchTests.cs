namespace CareHub.Hl7v2.Tests;

public class BatchTests
{
    private const string Msh1 = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||X\r";
    private const string Msh2 = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|2|P|2.5\rPID|1||Y\rPV1|1|I\r";
    private const string Msh3 = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|3|P|2.5\rOBX|1|NM|X||1\r";

    [Fact]
    public void reads_a_file_of_batches_and_encodes_it_back()
    {
        string text = "FHS|^~\\&|A|B\rBHS|^~\\&|A|B\r" + Msh1 + Msh2 + "BTS|2\rBHS|^~\\&|A|B\r" + Msh3 + "BTS|1\rFTS|2\r";

        Hl7Batch batch = Hl7Batch.Parse(text);

        Assert.NotNull(batch.FileHeader);
        Assert.Equal("2", batch.FileTrailer!.Get(1));
        Assert.Equal(2, batch.Batches.Count);
        Assert.Equal(2, batch.Batches[0].Messages.Count);
        Assert.Equal(2, batch.Batches[0].DeclaredMessageCount);
        Assert.Equal(["1", "2", "3"], batch.Messages.Select(m => m.ControlId));
        Assert.Equal("I", batch.Messages.ElementAt(1).Get("PV1-2"));
        Assert.Equal("|", batch.FileHeader!.Get(1));
        Assert.Equal(text, batch.Encode());
    }

    [Fact]
    public void reads_messages_without_batch_headers_as_one_batch()
    {
        Hl7Batch batch = Hl7Batch.Parse((Msh1 + Msh2 + Msh3).Replace("\r", "\n", StringComparison.Ordinal));

        Assert.Single(batch.Batches);
        Assert.Null(batch.Batches[0].Header);
        Assert.Equal(3, batch.Messages.Count());
    }

    [Fact]
    public void wraps_messages_in_batch_headers_and_trailers()
    {
        Hl7Batch batch = Hl7Batch.Create([Hl7Message.Parse(Msh1), Hl7Message.Parse(Msh2)]);

        string text = batch.Encode();

        Assert.StartsWith("FHS|^~\\&\rBHS|^~\\&\rMSH|", text, StringComparison.Ordinal);
        Assert.EndsWith("BTS|2\rFTS|1\r", text, StringComparison.Ordinal);
        Assert.Equal(2, Hl7Batch.Parse(text).Messages.Count());
    }

    [Theory]
    [InlineData("BHS|^~\\&\rPID|1\r")]
    [InlineData("BHS|^~\\&\r" + Msh1 + "FTS|1\rBHS|^~\\&\r")]
    [InlineData(Msh1 + "FHS|^~\\&\r")]
    [InlineData("BHS|^~\\&\r" + Msh1 + "BHS|^~\\&\r")]
    [InlineData(Msh1 + "BTS|1\rBTS|1\r")]
    public void a_batch_out_of_order_is_a_segment_sequence_error(string text)
    {
        var e = Assert.Throws<Hl7ParseException>(() => Hl7Batch.Parse(text));

        Assert.Equal(Hl7ErrorCode.SegmentSequenceError, e.ErrorCode);
    }

    [Fact]
    public void a_single_message_parser_refuses_a_batch()
    {
        var e = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse("BHS|^~\\&\r" + Msh1));

        Assert.Equal(Hl7ErrorCode.SegmentSequenceError, e.ErrorCode);
    }
}
