namespace CareHub.Tests;

/// <summary>Finds ../shared/data beside the repository (CI lays it there); tests that need it skip, saying why, when it is absent.</summary>
public static class SharedData
{
    public static string? Root { get; } = Find();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate) && dir.GetFiles("*.sln").Length == 0)
            {
                return candidate;
            }

            var beside = Path.Combine(dir.FullName, "..", "shared", "data");
            if (dir.GetFiles("*.sln").Length > 0 && Directory.Exists(beside))
            {
                return Path.GetFullPath(beside);
            }
        }

        return null;
    }

    /// <summary>The path of a shared data folder, or a skip that says what is missing.</summary>
    public static string Require(string relative)
    {
        var path = Root is null ? null : Path.Combine(Root, relative);
        if (path is null || !(Directory.Exists(path) || File.Exists(path)))
        {
            Assert.Skip($"Shared test data '../shared/data/{relative}' is not beside the repository; this test needs it.");
        }

        return path!;
    }
}
