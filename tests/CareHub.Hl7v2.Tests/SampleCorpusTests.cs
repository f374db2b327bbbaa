using System.Text;

namespace CareHub.Hl7v2.Tests;

public class SampleCorpusTests
{
    public static TheoryData<string> Samples => SampleData.Names;

    [Theory]
    [MemberData(nameof(Samples))]
    public void every_sample_parses_and_encodes_back_to_its_input(string name)
    {
        byte[] bytes = SampleData.Read(name);

        Hl7Message message = Hl7Message.Parse(bytes);

        Assert.Equal(Normalise(bytes), message.Encode());
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void every_sample_has_a_readable_header_and_one_segment_per_line(string name)
    {
        byte[] bytes = SampleData.Read(name);
        string[] lines = Normalise(bytes).Split('\r', StringSplitOptions.RemoveEmptyEntries);

        Hl7Message message = Hl7Message.Parse(bytes);

        Assert.Equal(lines.Length, message.Segments.Count);
        Assert.True(Hl7Versions.IsKnown(message.Version), $"version {message.Version}");
        Assert.NotEmpty(message.MessageType);
        Assert.Equal(Hl7Delimiters.Default, message.Delimiters);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.Equal(lines[i][..3], message.Segments[i].Id);
        }
    }

    [Fact]
    public void the_corpus_is_all_there_and_every_field_can_be_walked()
    {
        string folder = SampleData.RequireFolder();
        string[] files = Directory.GetFiles(folder, "*.hl7");
        Assert.Equal(139, files.Length);

        int fields = 0;
        foreach (string file in files)
        {
            Hl7Message message = Hl7Message.Parse(File.ReadAllBytes(file));
            foreach (Hl7Segment segment in message.Segments)
            {
                for (int f = 1; f <= segment.FieldCount; f++)
                {
                    foreach (Hl7Element repetition in segment.Field(f).Repetitions)
                    {
                        foreach (Hl7Element component in repetition.Components)
                        {
                            foreach (Hl7Element sub in component.Subcomponents)
                            {
                                _ = sub.Value;
                            }
                        }
                    }

                    fields++;
                }
            }
        }

        Assert.True(fields > 10_000, $"walked {fields} fields");
    }

    [Fact]
    public void a_sample_with_a_byte_order_mark_reads_msh_first()
    {
        string folder = SampleData.RequireFolder();
        string withBom = Directory.GetFiles(folder, "*.hl7").First(f => File.ReadAllBytes(f).AsSpan().StartsWith("\uFEFF"u8));

        Hl7Message message = Hl7Message.Parse(File.ReadAllBytes(withBom));

        Assert.Equal("MSH", message.Segments[0].Id);
        Assert.Equal('|', message.Delimiters.Field);
    }

    /// <summary>The input with its BOM dropped, CRLF / LF turned into CR and every segment ended by one CR.</summary>
    internal static string Normalise(byte[] bytes)
    {
        string text = Encoding.UTF8.GetString(bytes).TrimStart('\uFEFF');
        text = text.Replace("\r\n", "\r", StringComparison.Ordinal).Replace('\n', '\r');
        return text.TrimEnd('\r') + "\r";
    }
}
