namespace CareHub.Hl7v2;

/// <summary>The HL7 v2 versions this library knows (MSH-12), 2.1 to 2.8.2.</summary>
public static class Hl7Versions
{
    /// <summary>The version ids, oldest first.</summary>
    public static IReadOnlyList<string> All { get; } =
        ["2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"];

    /// <summary>True when <paramref name="version"/> is one of <see cref="All"/>.</summary>
    public static bool IsKnown(string? version) => version is not null && All.Contains(version, StringComparer.Ordinal);

    /// <summary>
    /// Compares a version id with <paramref name="major"/>.<paramref name="minor"/>: true when it is that
    /// version or later (2.5.1 is at least 2.5). Unknown text compares as not at least.
    /// </summary>
    public static bool IsAtLeast(string? version, int major, int minor)
    {
        if (string.IsNullOrEmpty(version))
        {
            return false;
        }

        string[] parts = version.Split('.');
        if (parts.Length < 2 || !int.TryParse(parts[0], out int ma) || !int.TryParse(parts[1], out int mi))
        {
            return false;
        }

        return ma > major || (ma == major && mi >= minor);
    }
}
