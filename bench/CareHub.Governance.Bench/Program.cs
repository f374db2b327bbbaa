// What the access policy costs: the same reads and searches through the one door, in-process on one SQLite store, once
// as a system client (scopes only: the policy adds no record-level rule) and once as demo users under the full policy
// (role, sensitivity, agreements, relationship, consent). Prints p50/p95 per query and the ratio of the p95s.
// With --hidden it times instead what a user may not see against what does not exist (the same queries, a hidden
// patient's id or NHS Number against an unknown one): the two must not be told apart by time either.
// The store's planner statistics are refreshed after the load, as the demo and import do; --statistics baseline leaves
// only what a fresh store ships with (migration 011).
//   ./carehub bench policy [--patients N] [--iterations N] [--hidden] [--statistics measured|baseline]
using System.Diagnostics;
using System.Globalization;
using CareHub.Demo;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

var patients = 1000;
var iterations = 300;
var hiddenMode = false;
var measured = true;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "policy":
            break;
        case "--patients" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var p) && p > 0:
            patients = p;
            i++;
            break;
        case "--iterations" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n > 0:
            iterations = n;
            i++;
            break;
        case "--hidden":
            hiddenMode = true;
            break;
        case "--statistics" when i + 1 < args.Length && args[i + 1] is "measured" or "baseline":
            measured = args[i + 1] == "measured";
            i++;
            break;
        case "--quick":
            patients = 120;
            iterations = 60;
            break;
        default:
            Console.Error.WriteLine($"bench policy: unknown option '{args[i]}'. Options: --patients N, --iterations N, --hidden, --statistics measured|baseline, --quick.");
            return 2;
    }
}

var directory = Path.Combine(Path.GetTempPath(), "carehub-policy-bench-" + Guid.NewGuid().ToString("N")[..8]);
var store = new SqliteRecordStore(Path.Combine(directory, "carehub.db")) { StatisticsOptions = new() { Every = measured ? StatisticsOptions.Default.Every : 0 } };
try
{
    await store.MigrateAsync(CancellationToken.None);
    await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
    var policy = new GovernancePolicy(PolicyDocument.Default, store, TimeProvider.System);
    var records = new RecordService(store, policy, audit, TimeProvider.System);

    var loader = new RequestContext(Principal("loader", PrincipalKind.System, "system/*.cruds"), "urn:carehub:bench", "load") { Return = ReturnPreference.Minimal };
    var clock = Stopwatch.StartNew();
    var community = DemoCommunity.Generate(new DemoCommunityOptions { Patients = patients });
    var resources = 0;
    foreach (var bundle in community)
    {
        await records.ProcessBundleAsync(loader, bundle, CancellationToken.None);
        resources += bundle.Entry.Count;
    }

    if (measured)
    {
        await store.RefreshStatisticsAsync(CancellationToken.None);
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Loaded the demo community: {patients} patients, {resources} resources in {clock.Elapsed.TotalSeconds:F0} s ({Environment.ProcessorCount} cores, Release in-process, SQLite, {(measured ? "statistics measured after the load" : "baseline statistics only")})."));

    // Patients each user may see, found as the system client (ids only), so every timed query is an allowed one.
    var system = new RequestContext(Principal("bench-system", PrincipalKind.System, "system/*.cruds"), "urn:carehub:bench", "bench");
    var users = new[]
    {
        new RequestContext(Principal("gp.smith", PrincipalKind.User, "user/*.cruds") with { Role = "gp", Organisation = DemoCommunity.GpPracticeId, FhirUser = "Practitioner/gp-smith" }, "urn:carehub:bench", "bench"),
        new RequestContext(Principal("dr.ahmed", PrincipalKind.User, "user/*.cruds") with { Role = "hospital-doctor", Organisation = DemoCommunity.AcuteTrustId, FhirUser = "Practitioner/dr-ahmed" }, "urn:carehub:bench", "bench"),
        new RequestContext(Principal("sw.patel", PrincipalKind.User, "user/*.cruds") with { Role = "social-worker", Organisation = DemoCommunity.CouncilId, FhirUser = "Practitioner/sw-patel" }, "urn:carehub:bench", "bench"),
    };

    if (hiddenMode)
    {
        await HiddenVersusAbsentAsync(records, system, users, iterations);
        await audit.FlushAsync(CancellationToken.None);
        return 0;
    }

    var rng = new Random(7);
    Console.WriteLine();
    Console.WriteLine("Searches no patient narrows, for each user (the restricted caller must find what it may see among all):");
    foreach (var user in users.Prepend(system))
    {
        foreach (var (name, type, parameters) in new (string, string, (string, string)[])[] { ("Observation?_count=10", "Observation", [("_count", "10")]), ("Encounter?_summary=count", "Encounter", [("_summary", "count")]) })
        {
            var started = Stopwatch.GetTimestamp();
            await records.SearchAsync(user, type, [.. parameters.Select(p => new KeyValuePair<string, string>(p.Item1, p.Item2))], CancellationToken.None);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-30} {user.Principal.Subject,-14} {Stopwatch.GetElapsedTime(started).TotalMilliseconds,9:F1} ms (first run)"));
        }
    }

    Console.WriteLine();
    Console.WriteLine("query                                                      caller        p50 ms   p95 ms   p95 ratio to system");
    foreach (var user in users)
    {
        var visible = new List<(string Id, string Nhs)>();
        var page = await records.SearchAsync(user, "Patient", [new("_count", "1000"), new("_elements", "identifier")], CancellationToken.None);
        foreach (var entry in page.Entry)
        {
            if (entry.Resource is Hl7.Fhir.Model.Patient patient)
            {
                visible.Add((patient.Id!, patient.Identifier.First(x => x.System == CareHub.Identity.NhsNumber.IdentifierSystem).Value!));
            }
        }

        if (visible.Count == 0)
        {
            Console.WriteLine($"{user.Principal.Subject}: no patient is visible; nothing to time.");
            continue;
        }

        var queries = new (string Name, Func<RequestContext, (string Id, string Nhs), Task> Run)[]
        {
            ("read Patient/x", (c, p) => records.ReadAsync(c, "Patient", p.Id, null, CancellationToken.None)),
            ("Patient?identifier=nhs|n", (c, p) => records.SearchAsync(c, "Patient", [new("identifier", $"{CareHub.Identity.NhsNumber.IdentifierSystem}|{p.Nhs}")], CancellationToken.None)),
            ("Patient?name=smi", (c, _) => records.SearchAsync(c, "Patient", [new("name", "smi")], CancellationToken.None)),
            ("Observation?subject&code=8867-4&date=ge2020", (c, p) => records.SearchAsync(c, "Observation", [new("subject", "Patient/" + p.Id), new("code", "http://loinc.org|8867-4"), new("date", "ge2020-01-01")], CancellationToken.None)),
            ("Encounter?patient&_include&_revinclude", (c, p) => records.SearchAsync(c, "Encounter", [new("patient", p.Id), new("_include", "Encounter:practitioner"), new("_revinclude", "Condition:encounter")], CancellationToken.None)),
            ("Patient/x/$everything", (c, p) => records.EverythingAsync(c, p.Id, [], CancellationToken.None)),
        };

        foreach (var (name, run) in queries)
        {
            var sample = Enumerable.Range(0, iterations).Select(_ => visible[rng.Next(visible.Count)]).ToList();
            var baseline = await TimeAsync(run, system, sample);
            var governed = await TimeAsync(run, user, sample);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-58} {"system",-12} {baseline.P50,7:F2}  {baseline.P95,7:F2}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",-58} {user.Principal.Subject,-12} {governed.P50,7:F2}  {governed.P95,7:F2}   {governed.P95 / baseline.P95:F2}x"));
        }
    }

    await audit.FlushAsync(CancellationToken.None);
    Console.WriteLine();
    Console.WriteLine("Target: restricted principals within 1.2x of the system client at p95 (ratio <= 1.20) for point reads, searches and $everything.");
    return 0;
}
finally
{
    await store.DisposeAsync();
    Directory.Delete(directory, recursive: true);
}

// A hidden patient's records against records that do not exist, for each user: reads and searches by id and by NHS
// Number (including the chained search the issue measured at 2.5 s against 5 ms). Refusals are part of what is timed.
static async Task HiddenVersusAbsentAsync(RecordService records, RequestContext system, IReadOnlyList<RequestContext> users, int iterations)
{
    var everyone = await PatientsAsync(records, system);
    var rng = new Random(11);
    var queries = new (string Name, Func<RequestContext, (string Id, string Nhs), Task> Run)[]
    {
        ("read Patient/x", (c, p) => records.ReadAsync(c, "Patient", p.Id, null, CancellationToken.None)),
        ("Patient?identifier=nhs|n", (c, p) => records.SearchAsync(c, "Patient", [new("identifier", $"{CareHub.Identity.NhsNumber.IdentifierSystem}|{p.Nhs}")], CancellationToken.None)),
        ("Observation?subject:Patient.identifier=nhs|n", (c, p) => records.SearchAsync(c, "Observation", [new("subject:Patient.identifier", $"{CareHub.Identity.NhsNumber.IdentifierSystem}|{p.Nhs}")], CancellationToken.None)),
        ("Observation?subject=Patient/x", (c, p) => records.SearchAsync(c, "Observation", [new("subject", "Patient/" + p.Id)], CancellationToken.None)),
        ("Patient/x/$everything", (c, p) => records.EverythingAsync(c, p.Id, [], CancellationToken.None)),
    };

    Console.WriteLine();
    Console.WriteLine("query                                           caller        hidden p95   absent p95   target (2x absent + 10 ms)");
    foreach (var user in users)
    {
        var visible = (await PatientsAsync(records, user)).Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var hidden = everyone.Where(p => !visible.Contains(p.Id)).ToList();
        if (hidden.Count == 0)
        {
            Console.WriteLine($"{user.Principal.Subject}: every patient is visible; nothing to time.");
            continue;
        }

        var numbers = everyone.Select(p => p.Nhs).ToHashSet(StringComparer.Ordinal);
        var absent = Enumerable.Range(0, 50).Select(n => (Id: Guid.NewGuid().ToString(), Nhs: (9_990_100_000L + n).ToString(CultureInfo.InvariantCulture)))
            .Where(p => !numbers.Contains(p.Nhs)).ToList();
        foreach (var (name, run) in queries)
        {
            Func<RequestContext, (string Id, string Nhs), Task> refusedOrNot = async (c, p) =>
            {
                try
                {
                    await run(c, p);
                }
                catch (CareHub.Fhir.FhirException)
                {
                    // A refusal (403, 404) is an answer like any other here.
                }
            };
            var hiddenTimes = await TimeAsync(refusedOrNot, user, Enumerable.Range(0, iterations).Select(_ => hidden[rng.Next(hidden.Count)]).ToList());
            var absentTimes = await TimeAsync(refusedOrNot, user, Enumerable.Range(0, iterations).Select(_ => absent[rng.Next(absent.Count)]).ToList());
            var limit = 2 * absentTimes.P95 + 10;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-47} {user.Principal.Subject,-12} {hiddenTimes.P95,9:F2} ms {absentTimes.P95,9:F2} ms   {(hiddenTimes.P95 <= limit ? "met" : "MISSED")} (<= {limit:F1} ms)"));
        }
    }
}

static async Task<List<(string Id, string Nhs)>> PatientsAsync(RecordService records, RequestContext context)
{
    var list = new List<(string Id, string Nhs)>();
    var page = await records.SearchAsync(context, "Patient", [new("_count", "5000"), new("_elements", "identifier")], CancellationToken.None);
    foreach (var entry in page.Entry)
    {
        if (entry.Resource is Hl7.Fhir.Model.Patient patient && patient.Identifier.FirstOrDefault(x => x.System == CareHub.Identity.NhsNumber.IdentifierSystem)?.Value is { } nhs)
        {
            list.Add((patient.Id!, nhs));
        }
    }

    return list;
}

static Principal Principal(string name, PrincipalKind kind, string scopes) => new()
{
    Kind = kind,
    Subject = name,
    ClientId = "bench",
    Issuer = "bench",
    Scopes = ScopeSet.Parse(scopes),
};

static async Task<(double P50, double P95)> TimeAsync(Func<RequestContext, (string Id, string Nhs), Task> run, RequestContext context, List<(string Id, string Nhs)> sample)
{
    // Warm up the statement caches and the policy's reference data caches first.
    for (var i = 0; i < Math.Min(20, sample.Count); i++)
    {
        await run(context, sample[i]);
    }

    var times = new List<double>(sample.Count);
    foreach (var patient in sample)
    {
        var started = Stopwatch.GetTimestamp();
        await run(context, patient);
        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    times.Sort();
    return (times[times.Count / 2], times[(int)Math.Ceiling(times.Count * 0.95) - 1]);
}
