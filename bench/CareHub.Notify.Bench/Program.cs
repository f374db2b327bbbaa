// Commit-to-delivery latency of notifications: CareHub in process on a fresh SQLite store (or --postgres), N active
// rest-hook subscriptions (one per patient, Observation?patient=...), Observations written through the one door at a
// fixed rate, and a Kestrel receiver on loopback that notes when each notification arrives. Latency is from the write's
// commit (its answer) to the notification's arrival; printed as p50/p95/p99 with the target beside it.
//   ./carehub bench notify [--subscriptions N] [--rate EVENTS_PER_S] [--seconds S] [--postgres CONN]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using CareHub.Governance;
using CareHub.Notifications.Storage;
using CareHub.Records;
using CareHub.Server;
using Hl7.Fhir.Model;

var subscriptions = 1000;
var rate = 200;
var seconds = 20;
string? postgres = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "notify":
            break;
        case "--subscriptions" when i + 1 < args.Length:
            subscriptions = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--rate" when i + 1 < args.Length:
            rate = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seconds" when i + 1 < args.Length:
            seconds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--postgres" when i + 1 < args.Length:
            postgres = args[++i];
            break;
        default:
            Console.Error.WriteLine("usage: carehub bench notify [--subscriptions N] [--rate EVENTS_PER_S] [--seconds S] [--postgres CONN]");
            return 2;
    }
}

var arrivals = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
var receiverBuilder = WebApplication.CreateSlimBuilder();
receiverBuilder.Logging.ClearProviders();
receiverBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
await using var receiver = receiverBuilder.Build();
receiver.Run(async http =>
{
    var now = Stopwatch.GetTimestamp();
    using var reader = new StreamReader(http.Request.Body);
    var body = await reader.ReadToEndAsync(http.RequestAborted);
    if (body.Length > 0)
    {
        using var bundle = JsonDocument.Parse(body);
        arrivals.TryAdd(bundle.RootElement.GetProperty("entry")[0].GetProperty("fullUrl").GetString()!.Split('/')[1], now);
    }

    http.Response.StatusCode = 200;
});
await receiver.StartAsync();
var endpoint = receiver.Urls.First().TrimEnd('/') + "/hook";

var data = Path.Combine(Path.GetTempPath(), "carehub-bench-notify-" + Guid.NewGuid().ToString("N")[..8]);
List<KeyValuePair<string, string?>> settings =
[
    new("urls", "http://127.0.0.1:0"),
    new("Logging:LogLevel:Default", "Warning"),
    // No client calls this server over HTTP; the host refuses to start without a way to authenticate.
    .. CareHub.Server.Cli.ServeCommand.DemoSettings(),
    new("CareHub:Notifications:RequireHttps", "false"),
    new("CareHub:Notifications:AllowLoopback", "true"),
    new("CareHub:Notifications:MaxConcurrentDeliveries", "16"),
];
settings.AddRange(postgres is null
    ? [new("CareHub:Storage:DataDirectory", data)]
    : [new("CareHub:Storage:Postgres", postgres), new("CareHub:Storage:PostgresSchema", "bench_notify_" + Guid.NewGuid().ToString("N")[..8])]);
await using var app = CareHubHost.Build([], settings);
await CareHubHost.StartAsync(app, CancellationToken.None);
var records = app.Services.GetRequiredService<RecordService>();
var store = app.Services.GetRequiredService<INotificationStore>();
var loader = new RequestContext(new Principal
{
    Kind = PrincipalKind.System,
    Subject = "bench-notify",
    ClientId = "bench-notify",
    Issuer = "carehub-bench",
    Scopes = ScopeSet.Parse("system/*.cruds"),
}, "http://localhost/fhir", "bench-notify") { Return = ReturnPreference.Minimal };

Console.WriteLine($"notify: {subscriptions} subscriptions (Observation?patient=..., id-only), {rate} events/s for {seconds} s, store {(postgres is null ? "sqlite" : "postgresql")}, {Environment.ProcessorCount} cores");
var patients = new List<string>();
var setup = Stopwatch.StartNew();
for (var i = 0; i < subscriptions; i++)
{
    var patient = await records.CreateAsync(loader, new Patient { Name = [new HumanName { Family = "Bench", Given = [$"P{i}"] }] }, null, CancellationToken.None);
    patients.Add(patient.Id);
    await records.CreateAsync(loader, new Subscription
    {
        Status = Subscription.SubscriptionStatus.Requested,
        Reason = "bench",
        Criteria = $"Observation?patient=Patient/{patient.Id}",
        Channel = new Subscription.ChannelComponent
        {
            Type = Subscription.SubscriptionChannelType.RestHook,
            Endpoint = endpoint,
            PayloadElement = new Code("application/fhir+json")
            {
                Extension = [new Extension("http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content", new Code("id-only"))],
            },
        },
    }, null, CancellationToken.None);
}

while ((await store.StatusAsync(DateTimeOffset.UtcNow, CancellationToken.None)).Count(s => s.State == SubscriptionStates.Active) < subscriptions)
{
    if (setup.Elapsed > TimeSpan.FromMinutes(10))
    {
        Console.Error.WriteLine("notify: the subscriptions did not all become active within 10 minutes.");
        return 1;
    }

    await Task.Delay(100);
}

Console.WriteLine($"setup: {subscriptions} patients and subscriptions active in {setup.Elapsed.TotalSeconds:0.0} s");

var committed = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
var total = rate * seconds;
var interval = TimeSpan.FromSeconds(1.0 / rate);
var started = Stopwatch.StartNew();
var writes = new List<Task>();
for (var i = 0; i < total; i++)
{
    var due = interval * i;
    if (due > started.Elapsed)
    {
        await Task.Delay(due - started.Elapsed);
    }

    var patient = patients[i % patients.Count];
    writes.Add(Task.Run(async () =>
    {
        var result = await records.CreateAsync(loader, new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8867-4"),
            Subject = new ResourceReference($"Patient/{patient}"),
            Value = new Quantity(72, "/min"),
        }, null, CancellationToken.None);
        committed[result.Id] = Stopwatch.GetTimestamp();
    }));
}

await Task.WhenAll(writes);
var writeSeconds = started.Elapsed.TotalSeconds;
var drain = Stopwatch.StartNew();
while (arrivals.Count(a => committed.ContainsKey(a.Key)) < total && drain.Elapsed < TimeSpan.FromMinutes(5))
{
    await Task.Delay(100);
}

var latencies = committed.Where(c => arrivals.ContainsKey(c.Key)).Select(c => Stopwatch.GetElapsedTime(c.Value, arrivals[c.Key]).TotalMilliseconds).Order().ToList();
double Percentile(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
Console.WriteLine($"writes: {total} in {writeSeconds:0.0} s ({total / writeSeconds:0} /s offered {rate} /s); delivered {latencies.Count} of {total}");
Console.WriteLine($"commit-to-delivery latency: p50 {Percentile(0.50):0} ms, p95 {Percentile(0.95):0} ms, p99 {Percentile(0.99):0} ms, max {latencies.LastOrDefault():0} ms");
Console.WriteLine($"target: p95 < 500 ms at 200 events/s with 1,000 active subscriptions: {(Percentile(0.95) < 500 && latencies.Count == total && rate >= 200 && subscriptions >= 1000 ? "met" : "missed")}");
await CareHubHost.StopAsync(app);
await receiver.StopAsync();
if (postgres is null)
{
    try
    {
        Directory.Delete(data, recursive: true);
    }
    catch (IOException)
    {
    }
}

return 0;
