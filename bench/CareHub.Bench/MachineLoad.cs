using System.Diagnostics;
using System.Globalization;

namespace CareHub.Bench;

/// <summary>
/// Where the machine's CPU went during a measured window, in cores: the server under test, this load generator, and
/// everything else (other work sharing the machine). The figures of a run are only comparable when "others" is small.
/// Read from /proc (Linux); elsewhere only the two processes are known.
/// </summary>
public sealed record MachineLoad(double ServerCores, double BenchCores, double? MachineBusyCores, string? LoadAverage)
{
    public double? OtherCores => MachineBusyCores is { } busy ? Math.Max(0, busy - ServerCores - BenchCores) : null;

    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"cpu: server {ServerCores:0.00}, bench {BenchCores:0.00}");
        if (OtherCores is { } others)
        {
            text += string.Create(CultureInfo.InvariantCulture, $", others {others:0.00} of {Environment.ProcessorCount} cores");
        }

        return LoadAverage is null ? text : $"{text}; loadavg {LoadAverage}";
    }

    /// <summary>Samples at <paramref name="from"/> and <paramref name="to"/> (Stopwatch timestamps) and returns the difference.</summary>
    public static async Task<MachineLoad> Measure(ServerProcess server, long from, long to, CancellationToken cancellationToken)
    {
        await DelayUntil(from, cancellationToken);
        var self = Process.GetCurrentProcess();
        var (serverStart, selfStart, machineStart, wallStart) = (server.CpuTime, self.TotalProcessorTime, ProcStat(), Stopwatch.GetTimestamp());
        await DelayUntil(to, cancellationToken);
        self.Refresh();
        var (serverEnd, selfEnd, machineEnd, wallEnd) = (server.CpuTime, self.TotalProcessorTime, ProcStat(), Stopwatch.GetTimestamp());
        var wall = (wallEnd - wallStart) / (double)Stopwatch.Frequency;
        double? busy = null;
        if (machineStart is { } a && machineEnd is { } b && b.Total > a.Total)
        {
            busy = (double)(b.Busy - a.Busy) / (b.Total - a.Total) * Environment.ProcessorCount;
        }

        return new MachineLoad((serverEnd - serverStart).TotalSeconds / wall, (selfEnd - selfStart).TotalSeconds / wall, busy, LoadAverageText());
    }

    private static async Task DelayUntil(long timestamp, CancellationToken cancellationToken)
    {
        var remaining = (timestamp - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency;
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(remaining), cancellationToken);
        }
    }

    /// <summary>The aggregate "cpu" line of /proc/stat: busy and total jiffies (idle and iowait are not busy).</summary>
    private static (long Busy, long Total)? ProcStat()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            return (total - fields[3] - fields[4], total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages of /proc/loadavg.</summary>
    public static string? LoadAverageText()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
