using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CareHub.Server.Tests.Notifications;

/// <summary>
/// A real HTTP endpoint on loopback (Kestrel) that notifications are sent to: it records every request that reaches it
/// and answers as told (200, 500, or not at all until the sender gives up); it can be stopped, closing its port, and
/// started again on the same port.
/// </summary>
public sealed class TestReceiver : IAsyncDisposable
{
    private WebApplication? app;

    /// <summary>How the receiver answers.</summary>
    public enum Behaviour
    {
        Ok,
        Fail,
        Stall,
    }

    public volatile Behaviour Answer = Behaviour.Ok;

    public int Port { get; private set; }

    /// <summary>The endpoint to subscribe with.</summary>
    public string Url => $"http://127.0.0.1:{Port}/hook";

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>The notifications received that carry an event (the handshakes left out), in arrival order.</summary>
    public IReadOnlyList<ReceivedRequest> Events => Requests.Where(r => r.EventNumber is not null).ToList();

    public static async Task<TestReceiver> StartAsync()
    {
        var receiver = new TestReceiver();
        await receiver.StartOnAsync(0);
        return receiver;
    }

    /// <summary>Starts again on the port it had, after <see cref="StopAsync"/>.</summary>
    public Task RestartAsync() => StartOnAsync(Port);

    /// <summary>Stops listening: the port is closed, so connections are refused.</summary>
    public async Task StopAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            app = null;
        }
    }

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var web = builder.Build();
        web.Run(async http =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync(http.RequestAborted);
            var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            Requests.Enqueue(new ReceivedRequest(http.Request.Method, http.Request.Path, headers, body));
            switch (Answer)
            {
                case Behaviour.Fail:
                    http.Response.StatusCode = StatusCodes.Status500InternalServerError;
                    break;
                case Behaviour.Stall:
                    await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                    break;
                default:
                    http.Response.StatusCode = StatusCodes.Status200OK;
                    break;
            }
        });
        await web.StartAsync();
        app = web;
        Port = new Uri(web.Urls.First()).Port;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>One request as the receiver saw it.</summary>
public sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The event number CareHub sent with it (none on a handshake).</summary>
    public long? EventNumber => Headers.TryGetValue("X-CareHub-Event-Number", out var value) ? long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>The id of the resource an id-only notification names (its history Bundle's entry).</summary>
    public string ResourceId
    {
        get
        {
            using var bundle = System.Text.Json.JsonDocument.Parse(Body);
            return bundle.RootElement.GetProperty("entry")[0].GetProperty("fullUrl").GetString()!.Split('/')[1];
        }
    }
}
