namespace CareHub.Tests.Identity;

/// <summary>
/// Finds files of the shared test data (shared/data beside the repository, or above it) by walking
/// up from the test binaries. Never copies them into the repository.
/// </summary>
internal static class SharedTestData
{
    /// <summary>The full path of <paramref name="relativePath"/> under shared/data, or null if no such file is found.</summary>
    public static string? Find(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var root in new[] { Path.Combine(dir.FullName, "shared", "data"), Path.Combine(dir.FullName, "..", "shared", "data") })
            {
                var candidate = Path.GetFullPath(Path.Combine(root, relativePath));
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
