// What the access policy costs: the same reads and searches through the one door, in-process on one SQLite store, once
// as a system client (scopes only: the policy adds no record-level rule) and once as demo users under the full policy
// (role, sensitivity, agreements, relationship, consent). Prints p50/p95 per query and the ratio of the p95s.
//   ./carehub bench policy [--patients N] [--iterations N]
using System.Diagnostics;
using System.Globalization;
using CareHub.Demo;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

var patients = 1000;
var iterations = 300;
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
        case "--quick":
            patients = 120;
            iterations = 60;
            break;
        default:
            Console.Error.WriteLine($"bench policy: unknown option '{args[i]}'. Options: --patients N, --iterations N, --quick.");
            return 2;
    }
}

var directory = Path.Combine(Path.GetTempPath(), "carehub-policy-bench-" + Guid.NewGuid().ToString("N")[..8]);
var store = new SqliteRecordStore(Path.Combine(directory, "carehub.db"));
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

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Loaded the demo community: {patients} patients, {resources} resources in {clock.Elapsed.TotalSeconds:F0} s ({Environment.ProcessorCount} cores, Release in-process, SQLite)."));

    // Patients each user may see, found as the system client (ids only), so every timed query is an allowed one.
    var system = new RequestContext(Principal("bench-system", PrincipalKind.System, "system/*.cruds"), "urn:carehub:bench", "bench");
    var users = new[]
    {
        new RequestContext(Principal("gp.smith", PrincipalKind.User, "user/*.cruds") with { Role = "gp", Organisation = DemoCommunity.GpPracticeId, FhirUser = "Practitioner/gp-smith" }, "urn:carehub:bench", "bench"),
        new RequestContext(Principal("dr.ahmed", PrincipalKind.User, "user/*.cruds") with { Role = "hospital-doctor", Organisation = DemoCommunity.AcuteTrustId, FhirUser = "Practitioner/dr-ahmed" }, "urn:carehub:bench", "bench"),
    };

    var rng = new Random(7);
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
    Console.WriteLine("Target (issue 6): the policy adds no more than 20% (ratio <= 1.20) to search and read latencies.");
    return 0;
}
finally
{
    await store.DisposeAsync();
    Directory.Delete(directory, recursive: true);
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
