using CareHub.Bench;

if (args.Length > 0 && args[0] == "ceiling-server")
{
    return await CeilingServer.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "terminology")
{
    Console.WriteLine(BenchHost.Describe(null));
    return await TerminologyBench.RunAsync(args[1..], CancellationToken.None);
}

if (args.Length == 0 || args[0] is "help" or "--help" or "-h" || args[0] is not ("create" or "read" or "ingest" or "all" or "stages" or "mllp" or "search" or "tokens" or "ods"))
{
    if (args.Length > 0 && args[0] is not ("help" or "--help" or "-h"))
    {
        Console.Error.WriteLine($"bench: unknown benchmark '{args[0]}'.");
    }

    Console.WriteLine(BenchOptions.Usage);
    return args.Length > 0 && args[0] is "help" or "--help" or "-h" ? 0 : 2;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args[0], args[1..]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"bench: {e.Message} Run 'carehub bench help'.");
    return 2;
}

var serverDll = options.ServerDll ?? BenchHost.DefaultServerDll();
if (options.Bench is not ("stages" or "search" or "ods") && options.RunCareHub && (serverDll is null || !File.Exists(serverDll)))
{
    Console.Error.WriteLine("bench: CareHub.Server.dll was not found; build it in Release (dotnet build src/CareHub.Server -c Release; ./carehub bench does) or pass --server-dll.");
    return 2;
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};

if (options.Bench == "stages")
{
    Console.WriteLine(BenchHost.Describe(null));
    return await Stages.RunAsync(options, stopping.Token);
}

if (options.Bench == "ods")
{
    Console.WriteLine(BenchHost.Describe(null));
    return await OdsBench.RunAsync(options, stopping.Token);
}

if (options.Bench == "search")
{
    Console.WriteLine(BenchHost.Describe(null));
    return await SearchBench.RunAsync(options, stopping.Token);
}

Console.WriteLine(BenchHost.Describe(serverDll));
if (options.Bench == "tokens")
{
    return await TokenBench.RunAsync(serverDll!, options, stopping.Token);
}

if (options.Bench == "mllp")
{
    return await MllpBench.RunAsync(serverDll!, connections: 8, duration: options.Duration, stopping.Token);
}

var benches = new Benches(options, serverDll!);
var summaries = new List<BenchSummary>();
try
{
    foreach (var name in options.Bench == "all" ? ["create", "ingest", "read"] : new[] { options.Bench })
    {
        summaries.Add(name switch
        {
            "create" => await benches.CreateAsync(stopping.Token),
            "ingest" => await benches.IngestAsync(stopping.Token),
            _ => await benches.ReadAsync(stopping.Token),
        });
        Console.WriteLine();
    }
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    Console.Error.WriteLine("bench: stopped.");
    return 130;
}
catch (Exception e) when (e is BenchException or InvalidOperationException or HttpRequestException)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}

foreach (var summary in summaries)
{
    Console.WriteLine(summary.Line());
}

var errors = summaries.Sum(s => s.Errors);
if (errors > 0)
{
    Console.Error.WriteLine($"bench: {errors} request(s) failed (see the errors above); the figures do not count them.");
    return 1;
}

return 0;
