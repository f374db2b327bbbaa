using System.Runtime.InteropServices;

namespace CareHub.Bench;

/// <summary>Where the bench finds the server it measures, and the one-line description of the machine it ran on.</summary>
public static class BenchHost
{
    /// <summary>src/CareHub.Server/bin/Release/net10.0/CareHub.Server.dll of the repository this bench was built in.</summary>
    public static string? DefaultServerDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CareHub.sln")))
            {
                return Path.Combine(dir.FullName, "src", "CareHub.Server", "bin", "Release", "net10.0", "CareHub.Server.dll");
            }
        }

        return null;
    }

    public static string Describe(string? serverDll)
    {
#if DEBUG
        const string build = "Debug (figures of a Debug build are not the ones to report: run it with -c Release)";
#else
        const string build = "Release";
#endif
        var load = MachineLoad.LoadAverageText() is { } average ? $", load average {average} at start" : string.Empty;
        return $"CareHub bench: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, bench {build}{load}\n"
            + $"server: {serverDll ?? "(none)"}\n";
    }
}
