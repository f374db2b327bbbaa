using System.Diagnostics;

namespace CareHub.Server.Tests.Cli;

/// <summary>Runs the real command line (the built CareHub.Server.dll) as its own process, as an operator would.</summary>
public static class CarehubProcess
{
    /// <summary>Runs <c>carehub ARGS</c> with extra environment variables; answers the exit code and standard output then error.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string[] args, params (string Name, string Value)[] environment)
    {
        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CareHub.Server.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await output + await errors);
    }
}
