namespace CareHub.Terminology.Snomed;

/// <summary>
/// A malformed RF2 release: the file, the line (the header is line 1) and what is wrong with it. A load that meets one
/// changes nothing (it is one transaction).
/// </summary>
public sealed class Rf2FormatException(string file, long line, string problem)
    : Exception($"{Path.GetFileName(file)}, line {line}: {problem}")
{
    /// <summary>The file, as found in the release folder.</summary>
    public string File { get; } = file;

    /// <summary>The line, counting the header as 1.</summary>
    public long Line { get; } = line;

    /// <summary>What is wrong, without the file and line.</summary>
    public string Problem { get; } = problem;
}
