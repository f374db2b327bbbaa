using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CareHub.Bench;

/// <summary>
/// A server under test, run as a child process so the load generator never shares a process (its thread pool, its
/// GC) with what it measures. It gets a free loopback port and a fresh data folder; disposing kills it and removes
/// the folder.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly Queue<string> tail = new();
    private long lines;

    private ServerProcess(string name, Process process, string dataDirectory, Uri baseAddress)
    {
        Name = name;
        this.process = process;
        DataDirectory = dataDirectory;
        BaseAddress = baseAddress;
    }

    public string Name { get; }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; }

    /// <summary>Lines the server wrote to stdout and stderr so far (a server that logs every request shows here).</summary>
    public long OutputLines => Interlocked.Read(ref lines);

    /// <summary>CPU time the server process has used so far, user and system.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
    }

    /// <summary>Starts CareHub.Server's <c>serve</c> on the embedded store, with the development token endpoint on.</summary>
    /// <param name="port">The port, when a setting must name it before start (the authorization server's issuer); a free one otherwise.</param>
    public static Task<ServerProcess> StartCareHubAsync(string serverDll, IEnumerable<KeyValuePair<string, string>> extraEnvironment, CancellationToken cancellationToken, int? port = null)
    {
        port ??= FreePort();
        var data = NewDataDirectory("carehub");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = data };
        foreach (var arg in new[] { serverDll, "serve", "--urls", $"http://127.0.0.1:{port}", "--data", data })
        {
            start.ArgumentList.Add(arg);
        }

        // The same development token settings as `carehub demo` (ServeCommand.DemoSettings), as environment variables.
        start.Environment["CareHub__Auth__DevTokens__Enabled"] = "true";
        start.Environment["CareHub__Auth__DevTokens__Audience"] = "carehub";
        start.Environment["CareHub__Auth__DevTokens__Clients__0__ClientId"] = TokenClient.ClientId;
        start.Environment["CareHub__Auth__DevTokens__Clients__0__Secret"] = TokenClient.ClientSecret;
        start.Environment["CareHub__Auth__DevTokens__Clients__0__Scopes"] = "system/*.cruds";
        start.Environment["CareHub__Auth__DevTokens__Clients__0__Kind"] = "system";
        foreach (var (key, value) in extraEnvironment)
        {
            start.Environment[key] = value;
        }

        return StartAsync("carehub", start, data, port.Value, cancellationToken);
    }

    /// <summary>Starts this executable in its ceiling-server mode.</summary>
    public static Task<ServerProcess> StartCeilingAsync(CancellationToken cancellationToken)
    {
        var port = FreePort();
        var data = NewDataDirectory("ceiling");
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this executable is not known.");
        var start = new ProcessStartInfo(self) { WorkingDirectory = data };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        }

        foreach (var arg in new[] { "ceiling-server", "--urls", $"http://127.0.0.1:{port}", "--data", data })
        {
            start.ArgumentList.Add(arg);
        }

        return StartAsync("ceiling", start, data, port, cancellationToken);
    }

    private static async Task<ServerProcess> StartAsync(string name, ProcessStartInfo start, string data, int port, CancellationToken cancellationToken)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start the {name} server.");
        var server = new ServerProcess(name, process, data, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => server.Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync(cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Polls GET / until the server answers 200, failing fast if the process exits first.</summary>
    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The {Name} server exited with code {process.ExitCode} before it was ready:\n{Tail()}");
            }

            try
            {
                using var response = await http.GetAsync("/", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new InvalidOperationException($"The {Name} server was not ready within 60 s:\n{Tail()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        Interlocked.Increment(ref lines);
        lock (tail)
        {
            tail.Enqueue(line);
            if (tail.Count > 40)
            {
                tail.Dequeue();
            }
        }
    }

    /// <summary>The server's last lines of output, for an error message.</summary>
    public string Tail()
    {
        lock (tail)
        {
            return string.Join('\n', tail);
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string NewDataDirectory(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"carehub-bench-{name}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Size of the data folder (database, WAL), for the report.</summary>
    public long DataBytes() =>
        Directory.Exists(DataDirectory) ? new DirectoryInfo(DataDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            // Already gone, or it did not die in time: the data folder is removed below regardless.
        }
        finally
        {
            process.Dispose();
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"bench: could not remove {DataDirectory}: {e.Message}");
            }
        }
    }
}
