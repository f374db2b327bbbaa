using System.Diagnostics;
using System.Globalization;

namespace CareHub.Bench;

/// <summary>
/// A closed-loop load: N clients, each sending its next request as soon as the previous answer is read, for a
/// warm-up and then a measured window. A request counts (throughput and latency) when it completes inside the window,
/// so the window is fully loaded at both ends. Every answer's status is checked: anything but 2xx is an error.
/// </summary>
public static class LoadRunner
{
    private const int MaxErrorSamples = 5;

    public static async Task<LoadResult> RunAsync(string side, HttpClient http, int clients, TimeSpan warmup, TimeSpan duration,
        Func<long, LoadRequest> next, ServerProcess server, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var measureTo = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long sequence = -1, requests = 0, resources = 0, errors = 0;
        var samples = new List<string>();
        var latencies = new List<long>[clients];

        async Task ClientAsync(int client)
        {
            var mine = latencies[client] = new List<long>(4096);
            while (Stopwatch.GetTimestamp() < measureTo)
            {
                var request = next(Interlocked.Increment(ref sequence));
                using var message = request.Create();
                var sent = Stopwatch.GetTimestamp();
                string? failure;
                try
                {
                    using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
                    var done = Stopwatch.GetTimestamp();
                    if (response.IsSuccessStatusCode)
                    {
                        if (done >= measureFrom && done <= measureTo)
                        {
                            mine.Add(done - sent);
                            Interlocked.Increment(ref requests);
                            Interlocked.Add(ref resources, request.Resources);
                        }

                        continue;
                    }

                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    failure = $"{(int)response.StatusCode} {message.Method} {message.RequestUri}: {Shorten(body)}";
                }
                catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    failure = $"{message.Method} {message.RequestUri}: {e.GetType().Name}: {e.Message}";
                }

                Interlocked.Increment(ref errors);
                lock (samples)
                {
                    if (samples.Count < MaxErrorSamples)
                    {
                        samples.Add(failure);
                    }
                }
            }
        }

        var load = MachineLoad.Measure(server, measureFrom, measureTo, cancellationToken);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() => ClientAsync(c), cancellationToken)));
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new LoadResult(side, requests, resources, duration, all, errors, samples, await load);
    }

    public static string Shorten(string text)
    {
        var flat = text.ReplaceLineEndings(" ");
        return flat.Length <= 300 ? flat : string.Concat(flat.AsSpan(0, 300), "...");
    }

    public static string Count(double value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}

/// <summary>One request of a load run: what to send, and how many resources it carries when it succeeds.</summary>
public sealed record LoadRequest(Func<HttpRequestMessage> Create, int Resources);

/// <summary>What one load run measured.</summary>
public sealed record LoadResult(
    string Side,
    long Requests,
    long Resources,
    TimeSpan Window,
    long[] SortedLatencyTicks,
    long Errors,
    IReadOnlyList<string> ErrorSamples,
    MachineLoad Load)
{
    public double ResourcesPerSecond => Resources / Window.TotalSeconds;

    public double RequestsPerSecond => Requests / Window.TotalSeconds;

    /// <summary>The latency at quantile <paramref name="q"/> (0..1) in milliseconds, nearest-rank on the sorted sample.</summary>
    public double PercentileMs(double q)
    {
        if (SortedLatencyTicks.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(q * SortedLatencyTicks.Length) - 1;
        return SortedLatencyTicks[Math.Clamp(rank, 0, SortedLatencyTicks.Length - 1)] * 1000.0 / Stopwatch.Frequency;
    }
}
