using System.Diagnostics;

namespace CareHub.Server.Tests.Cli;

/// <summary>Runs the real command line (the built CareHub.Server.dll) as its own process, as an operator would.</summary>
public static class CarehubProcess
{
    /// <summary>How long a command may run before the test fails (commands here load a few records).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

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
        // A command that does not end is a failure to report, not a test run to hang.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"carehub {string.Join(' ', args)} did not end within {Deadline.TotalSeconds} s. Output: {await output}{await errors}");
        }

        return (process.ExitCode, await output + await errors);
    }
}
