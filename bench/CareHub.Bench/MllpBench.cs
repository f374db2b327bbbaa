using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;

namespace CareHub.Bench;

/// <summary>
/// HL7 v2 over MLLP into CareHub, as a separate server process, with N concurrent connections each sending a message and
/// waiting for its ACK. Two runs: intake alone (pass-through transformer, folder destination: the commit-ACK rate) and
/// into the record (v2-to-fhir, record destination: the ACK rate and the end-to-end rate until every message is in the
/// record). Targets (issue "The message broker"): >= 3,000 messages/s with durable commit ACK over 8 connections, and
/// >= 1,000 messages/s end to end with the ADT to FHIR mapping into the record.
/// </summary>
public static class MllpBench
{
    public static async Task<int> RunAsync(string serverDll, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        Console.WriteLine($"mllp: ADT^A01 messages over MLLP, {connections} connections, each sends and awaits its ACK; {duration.TotalSeconds:0} s per run");
        var intake = await RunOneAsync(serverDll, "pass-through", "folder", connections, duration, cancellationToken);
        var record = await RunOneAsync(serverDll, "v2-to-fhir", "record", connections, duration, cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"mllp  intake (commit ACK)  {LoadRunner.Count(intake.AckRate)} msg/s  p50 {intake.P(0.5):0.0} ms  p95 {intake.P(0.95):0.0} ms | target >= 3,000 {(intake.AckRate >= 3000 ? "met" : "MISSED")}");
        Console.WriteLine($"mllp  into the record     {LoadRunner.Count(record.AckRate)} msg/s acknowledged, {LoadRunner.Count(record.EndToEndRate)} msg/s end to end | target >= 1,000 end to end {(record.EndToEndRate >= 1000 ? "met" : "MISSED")}");
        return intake.Errors + record.Errors == 0 ? 0 : 1;
    }

    private sealed record Run(double AckRate, double EndToEndRate, double[] LatenciesMs, int Errors)
    {
        public double P(double q)
        {
            if (LatenciesMs.Length == 0)
            {
                return 0;
            }

            var sorted = LatenciesMs.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        }
    }

    private static async Task<Run> RunOneAsync(string serverDll, string transformer, string destination, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var mllpPort = ServerProcess.FreePort();
        var outbox = Path.Combine(Path.GetTempPath(), "carehub-bench-outbox-" + Guid.NewGuid().ToString("N")[..8]);
        var environment = new Dictionary<string, string>
        {
            ["CareHub__Channels__0__Name"] = "bench",
            ["CareHub__Channels__0__Source__Type"] = "mllp",
            ["CareHub__Channels__0__Source__Port"] = mllpPort.ToString(CultureInfo.InvariantCulture),
            ["CareHub__Channels__0__Source__Unauthenticated"] = "true",
            ["CareHub__Channels__0__Source__MaxConnectionsPerAddress"] = connections.ToString(CultureInfo.InvariantCulture),
            ["CareHub__Channels__0__Transformer"] = transformer,
            ["CareHub__Channels__0__Destinations__0__Type"] = destination,
        };
        if (destination == "folder")
        {
            environment["CareHub__Channels__0__Destinations__0__Path"] = outbox;
        }

        await using var server = await ServerProcess.StartCareHubAsync(serverDll, environment, cancellationToken);
        var latencies = new List<double>[connections];
        var errors = 0;
        var sent = 0;
        var watch = Stopwatch.StartNew();
        var until = watch.Elapsed + duration;
        var workers = Enumerable.Range(0, connections).Select(c => Task.Run(async () =>
        {
            latencies[c] = [];
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", mllpPort, cancellationToken: cancellationToken);
            for (var i = 0; watch.Elapsed < until; i++)
            {
                var message = Hl7Message.Parse(Adt($"B{c:D2}-{i:D7}", $"{c:D2}{i:D7}"));
                var started = Stopwatch.GetTimestamp();
                var ack = await client.SendAsync(message, cancellationToken);
                latencies[c].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (ack.Get("MSA-1") == "AA")
                {
                    Interlocked.Increment(ref sent);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(workers);
        var ackSeconds = watch.Elapsed.TotalSeconds;
        var ackRate = sent / ackSeconds;

        // End to end: until the broker has delivered every acknowledged message.
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = await TokenClient.GetAsync(http, cancellationToken);
        var deadline = DateTime.UtcNow.AddMinutes(5);
        long delivered = 0, failed = 0;
        while (DateTime.UtcNow < deadline)
        {
            using var channels = JsonDocument.Parse(await http.GetStringAsync("/admin/messaging/channels", cancellationToken));
            var channel = channels.RootElement.EnumerateArray().First();
            delivered = channel.GetProperty("sent").GetInt64();
            failed = channel.GetProperty("errored").GetInt64();
            if (delivered + failed >= sent)
            {
                break;
            }

            await Task.Delay(50, cancellationToken);
        }

        var endToEnd = delivered / watch.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).ToArray();
        var run = new Run(ackRate, endToEnd, all, errors + (int)failed);
        Console.WriteLine($"  {transformer} -> {destination}: {sent:N0} acknowledged in {ackSeconds:0.0} s = {LoadRunner.Count(ackRate)} msg/s (p50 {run.P(0.5):0.0} ms, p95 {run.P(0.95):0.0} ms, p99 {run.P(0.99):0.0} ms); " +
            $"delivered {delivered:N0}, failed {failed}, end to end {LoadRunner.Count(endToEnd)} msg/s; server CPU {server.CpuTime.TotalSeconds:0.0} s");
        try
        {
            Directory.Delete(outbox, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return run;
    }

    private static readonly string[] Given = ["ALEX", "SAM", "JO", "CHRIS", "PAT", "ROBIN", "JAMIE", "CASEY", "MORGAN", "TAYLOR", "JORDAN", "RILEY"];
    private static readonly string[] Family = ["ASHDOWN", "BRAMLEY", "CROFT", "DENHOLM", "EVERETT", "FAIRLIE", "GRANGER", "HOLLIS", "IVESON", "JESSOP", "KINGSTON", "LOWTHER", "MARLOW", "NETTLETON", "OAKLEY", "PRENTICE"];

    /// <summary>An admission of an invented, distinct person per message (no real patient data).</summary>
    private static string Adt(string controlId, string mrn)
    {
        var n = long.Parse(mrn, CultureInfo.InvariantCulture);
        var name = $"{Family[n % Family.Length]}{n / Family.Length % 997}^{Given[n / 7 % Given.Length]}";
        var birth = new DateTime(1930, 1, 1).AddDays(n * 37 % 30000).ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        return $"MSH|^~\\&|PAS|RTH|CAREHUB|CAREHUB|20261101090000||ADT^A01^ADT_A01|{controlId}|P|2.5.1\r" +
        "EVN|A01|20261101090000\r" +
        $"PID|1||{mrn}^^^RTH^MR||{name}||{birth}|U\r" +
        $"PV1|1|I|WARD1^BED2^^RTH||||||||||||||||V{mrn}|||||||||||||||||||||||||20261101090000\r";
    }
}
