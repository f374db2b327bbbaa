using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CareHub.Server.Tests;

/// <summary>CareHub as a separate OS process (the built CareHub.Server.dll), so a test can kill it for real.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServerProcess(Process process, string baseUrl)
    {
        this.process = process;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public static async Task<ServerProcess> StartAsync(string dataDirectory, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "CareHub.Server.dll"), "serve", "--urls", baseUrl, "--data", dataDirectory },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CareHub__Auth__DevTokens__Enabled"] = "true";
        start.Environment["CareHub__Auth__DevTokens__Audience"] = "carehub";
        start.Environment["CareHub__Auth__DevTokens__Clients__0__ClientId"] = "test-system";
        start.Environment["CareHub__Auth__DevTokens__Clients__0__Secret"] = "test-secret";
        start.Environment["CareHub__Auth__DevTokens__Clients__0__Scopes"] = "system/*.cruds";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, baseUrl);

        using var probe = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"CareHub exited with {process.ExitCode} while starting");
            }

            try
            {
                using var response = await probe.GetAsync(baseUrl + "/fhir/metadata", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                await server.DisposeAsync();
                throw new TimeoutException("CareHub did not answer /fhir/metadata within 60 s");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing; what was acknowledged must already be durable.</summary>
    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        process.Dispose();
    }
}
