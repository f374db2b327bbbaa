namespace CareHub.Hl7v2.Tests;

/// <summary>Finds the shared HL7 v2 samples (../shared/data/hl7v2/samples beside the repository).</summary>
internal static class SampleData
{
    private static readonly Lazy<string?> Folder = new(Find);

    public static string? SamplesFolder => Folder.Value;

    /// <summary>Sample file names, for theories; a placeholder when the data is absent so that the theory can skip.</summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            if (SamplesFolder is null)
            {
                data.Add("(samples missing)");
                return data;
            }

            foreach (string file in Directory.GetFiles(SamplesFolder, "*.hl7").Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(file));
            }

            return data;
        }
    }

    public static byte[] Read(string name)
    {
        if (SamplesFolder is null)
        {
            Assert.Skip("shared/data/hl7v2/samples not found above " + AppContext.BaseDirectory);
        }

        return File.ReadAllBytes(Path.Combine(SamplesFolder, name));
    }

    public static string RequireFolder()
    {
        if (SamplesFolder is null)
        {
            Assert.Skip("shared/data/hl7v2/samples not found above " + AppContext.BaseDirectory);
        }

        return SamplesFolder;
    }

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
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

        return null;
    }
}
