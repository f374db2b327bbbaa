using System.Buffers;

namespace CareHub.Hl7v2.Bench;

/// <summary>The shared sample messages, loaded once, and the work each measurement does over them.</summary>
public static class Corpus
{
    private static readonly SearchValues<byte> Delimiters = SearchValues.Create("|^~\\&\r\n"u8);

    public static byte[][] Load()
    {
        string folder = FindSamples()
            ?? throw new DirectoryNotFoundException("shared/data/hl7v2/samples not found above " + AppContext.BaseDirectory + " or the current directory");
        return Directory.GetFiles(folder, "*.hl7").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
    }

    public static long TotalBytes(byte[][] files) => files.Sum(f => (long)f.Length);

    /// <summary>Parse every message from bytes (decode, split into segments, check the header).</summary>
    public static int Parse(byte[][] files)
    {
        int segments = 0;
        foreach (byte[] file in files)
        {
            segments += Hl7Message.Parse(file).Segments.Count;
        }

        return segments;
    }

    /// <summary>Parse, then visit every field, repetition, component and subcomponent (no value strings).</summary>
    public static int ParseAndWalk(byte[][] files)
    {
        int parts = 0;
        foreach (byte[] file in files)
        {
            foreach (Hl7Segment segment in Hl7Message.Parse(file).Segments)
            {
                int count = segment.FieldCount;
                for (int f = 1; f <= count; f++)
                {
                    foreach (Hl7Element repetition in segment.Field(f).Repetitions)
                    {
                        foreach (Hl7Element component in repetition.Components)
                        {
                            foreach (Hl7Element sub in component.Subcomponents)
                            {
                                parts += sub.RawMemory.Length > 0 ? 1 : 0;
                            }
                        }
                    }
                }
            }
        }

        return parts;
    }

    /// <summary>The ceiling: one vectorised pass over the bytes finding every delimiter and terminator.</summary>
    public static int Scan(byte[][] files)
    {
        int hits = 0;
        foreach (byte[] file in files)
        {
            ReadOnlySpan<byte> rest = file;
            int i;
            while ((i = rest.IndexOfAny(Delimiters)) >= 0)
            {
                hits++;
                rest = rest[(i + 1)..];
            }
        }

        return hits;
    }

    private static string? FindSamples()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (string candidate in new[] { Path.Combine(dir.FullName, "shared", "data"), Path.Combine(dir.FullName, "..", "shared", "data") })
                {
                    string samples = Path.Combine(candidate, "hl7v2", "samples");
                    if (Directory.Exists(samples))
                    {
                        return Path.GetFullPath(samples);
                    }
                }
            }
        }

        return null;
    }
}
