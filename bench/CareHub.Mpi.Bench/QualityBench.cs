using System.Diagnostics;
using System.Globalization;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Storage.Sqlite;
using CareHub.Tests.Identity.Matching;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Mpi.Bench;

/// <summary>
/// <c>mpi-quality --input FILE</c>: loads a labelled CSV (splink fake_1000 or FEBRL dataset 1) as Patients through the one
/// door with the MPI on, on a fresh SQLite store, one create per record as a feed would send them; then scores the Persons
/// (automatic links) and the review queue pairwise against the truth.
/// </summary>
internal static class QualityBench
{
    private const string System = "https://carehub.local/bench/mpi-quality";

    public static async Task<int> RunAsync(IReadOnlyList<string> inputs, MpiOptions options)
    {
        foreach (var input in inputs)
        {
            if (!File.Exists(input))
            {
                Console.Error.WriteLine($"{input}: no such file.");
                return 1;
            }

            var header = File.ReadLines(input).First();
            var data = header.Contains("rec_id", StringComparison.Ordinal) ? MpiDatasets.Febrl1(input) : MpiDatasets.SplinkFake1000(input);
            await RunOneAsync(data, options);
        }

        return 0;
    }

    private static async Task RunOneAsync(LabelledRecords data, MpiOptions options)
    {
        var directory = Path.Combine(Path.GetTempPath(), "carehub-mpi-quality-" + Guid.NewGuid().ToString("N"));
        var store = new SqliteRecordStore(Path.Combine(directory, "carehub.db"));
        try
        {
            await store.MigrateAsync(CancellationToken.None);
            await using var audit = new AuditTrail(store, TimeProvider.System, NullLogger<AuditTrail>.Instance);
            var matcher = new PersonMatcher(options.ToMatchSettings());
            var records = new RecordService(store, new ScopeAccessPolicy(), audit, TimeProvider.System, writeHooks: [new MpiWriteHook(options, store, matcher, TimeProvider.System)]);
            var context = new RequestContext(
                new Principal { Kind = PrincipalKind.System, Subject = "mpi-quality", ClientId = "mpi-quality", Issuer = "bench", Scopes = ScopeSet.Parse("system/*.cruds") },
                "urn:carehub:bench", "mpi-quality") { Return = ReturnPreference.Minimal };

            var row = new Dictionary<string, int>(StringComparer.Ordinal);
            var rejected = 0;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < data.Records.Count; i++)
            {
                try
                {
                    var result = await records.CreateAsync(context, ToPatient(data.Records[i]), null, CancellationToken.None);
                    row[result.Id] = i;
                }
                catch (FhirException e)
                {
                    rejected++;
                    Console.Error.WriteLine($"  row {i} rejected: {e.Message}");
                }
            }

            var seconds = clock.Elapsed.TotalSeconds;
            var auto = new HashSet<(int, int)>();
            var personOf = new Dictionary<int, int[]>();
            foreach (var person in await AllAsync<Person>(store, "Person"))
            {
                var members = person.Link.Select(l => l.Target?.Reference?.Replace("Patient/", "", StringComparison.Ordinal)).OfType<string>().Where(row.ContainsKey).Select(id => row[id]).Order().ToArray();
                for (var a = 0; a < members.Length; a++)
                {
                    personOf[members[a]] = members;
                    for (var b = a + 1; b < members.Length; b++)
                    {
                        auto.Add((members[a], members[b]));
                    }
                }
            }

            var review = new HashSet<(int, int)>();
            // What accepting one task does on its own: the two records' Persons become one (PersonLinker.LinkAsync).
            var joins = new HashSet<(int, int)>(auto);
            var queue = 0;
            foreach (var task in await AllAsync<FhirTask>(store, "Task"))
            {
                if (task.Status == FhirTask.TaskStatus.Requested && ReviewTasks.Pair(task) is var (x, y) && row.TryGetValue(x, out var l) && row.TryGetValue(y, out var r))
                {
                    queue++;
                    review.Add((Math.Min(l, r), Math.Max(l, r)));
                    var joined = personOf.GetValueOrDefault(l, [l]).Union(personOf.GetValueOrDefault(r, [r])).Order().ToArray();
                    for (var a = 0; a < joined.Length; a++)
                    {
                        for (var b = a + 1; b < joined.Length; b++)
                        {
                            joins.Add((joined[a], joined[b]));
                        }
                    }
                }
            }

            bool True((int L, int R) p) => data.IsTrueMatch(data.Records[p.L], data.Records[p.R]);
            var both = new HashSet<(int, int)>(auto);
            both.UnionWith(review);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{data.Name}: {data.Records.Count} records loaded through the one door in {seconds:F1} s ({data.Records.Count / seconds:F0}/s), {rejected} rejected, {data.TruePairs} true pairs"));
            Console.WriteLine("  automatic links:          " + Score(auto.Count, auto.Count(True), data.TruePairs));
            Console.WriteLine("  automatic + queued pairs, pair by pair (no Person joins): " + Score(both.Count, both.Count(True), data.TruePairs));
            Console.WriteLine("  automatic + each queued task as the Person join it proposes: " + Score(joins, data));
            Console.WriteLine("  if every queued pair were accepted (Persons joined): " + Score(Closure(both, data.Records.Count), data));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  review queue: {queue} tasks, {review.Count(True)} of them true pairs"));

            // The review queue worked through the MPI's own accept and reject operations, oldest task first, by a reviewer
            // who decides each pair correctly: what automatic links plus the review queue deliver.
            var mpi = new MasterPersonIndex(records, store, options, matcher, TimeProvider.System);
            var tasks = (await AllAsync<FhirTask>(store, "Task")).Where(t => t.Status == FhirTask.TaskStatus.Requested).ToList();
            int accepted = 0, rejectedTasks = 0;
            foreach (var task in tasks)
            {
                if (ReviewTasks.Pair(task) is not var (x, y) || !row.TryGetValue(x, out var l) || !row.TryGetValue(y, out var r))
                {
                    continue;
                }

                if (True((l, r)))
                {
                    await mpi.AcceptAsync(context, task.Id!, CancellationToken.None);
                    accepted++;
                }
                else
                {
                    await mpi.RejectAsync(context, task.Id!, CancellationToken.None);
                    rejectedTasks++;
                }
            }

            var decided = new HashSet<(int, int)>();
            foreach (var person in await AllAsync<Person>(store, "Person"))
            {
                var members = person.Link.Select(l => l.Target?.Reference?.Replace("Patient/", "", StringComparison.Ordinal)).OfType<string>().Where(row.ContainsKey).Select(id => row[id]).Order().ToArray();
                for (var a = 0; a < members.Length; a++)
                {
                    for (var b = a + 1; b < members.Length; b++)
                    {
                        decided.Add((members[a], members[b]));
                    }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  automatic + review queue, every task decided correctly ({accepted} accepted, {rejectedTasks} rejected, through $mpi-accept/$mpi-reject): ") + Score(decided, data));
        }
        finally
        {
            await store.DisposeAsync();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Score(HashSet<(int L, int R)> pairs, LabelledRecords data) =>
        Score(pairs.Count, pairs.Count(p => data.IsTrueMatch(data.Records[p.L], data.Records[p.R])), data.TruePairs);

    /// <summary>Every pair within the connected components of the given pairs: what accepting them all would link.</summary>
    private static HashSet<(int, int)> Closure(HashSet<(int, int)> pairs, int count)
    {
        var parent = Enumerable.Range(0, count).ToArray();
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        foreach (var (l, r) in pairs)
        {
            parent[Find(l)] = Find(r);
        }

        var closure = new HashSet<(int, int)>();
        foreach (var group in Enumerable.Range(0, count).GroupBy(Find).Where(g => g.Count() > 1))
        {
            var members = group.Order().ToArray();
            for (var a = 0; a < members.Length; a++)
            {
                for (var b = a + 1; b < members.Length; b++)
                {
                    closure.Add((members[a], members[b]));
                }
            }
        }

        return closure;
    }

    private static string Score(int predicted, int correct, long truePairs)
    {
        var precision = predicted == 0 ? 1 : (double)correct / predicted;
        var recall = truePairs == 0 ? 1 : (double)correct / truePairs;
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return string.Create(CultureInfo.InvariantCulture, $"precision {precision:F4} recall {recall:F4} F1 {f1:F4} ({correct}/{predicted} pairs correct)");
    }

    private static async Task<List<T>> AllAsync<T>(IRecordStore store, string type)
        where T : Resource
    {
        var all = new List<T>();
        PageCursor? after = null;
        while (true)
        {
            var page = await store.SearchAsync(new StoreQuery(type, [], 1000) { Scope = QueryScope.Internal("benchmark"), After = after }, CancellationToken.None);
            all.AddRange(page.Resources.Select(r => (T)StoredJson.Parse(r.Json!)));
            if (!page.HasMore || page.Resources.Count == 0)
            {
                return all;
            }

            after = page.NextCursor;
        }
    }

    /// <summary>A person record as a feed would send it: a UK Core-shaped Patient with the row's id as a local identifier.</summary>
    private static Patient ToPatient(PersonRecord person)
    {
        var patient = new Patient
        {
            Identifier = [new Identifier(System, person.LocalId)],
            BirthDate = person.BirthDate?.ToString(),
            Gender = person.Sex switch
            {
                PersonSex.Male => AdministrativeGender.Male,
                PersonSex.Female => AdministrativeGender.Female,
                PersonSex.Other => AdministrativeGender.Other,
                _ => null,
            },
        };
        if (person.NhsNumber is { } nhs)
        {
            patient.Identifier.Add(new Identifier(NhsNumber.IdentifierSystem, nhs));
        }

        if (person.FamilyName is not null || person.GivenNames.Count > 0)
        {
            patient.Name.Add(new HumanName { Use = HumanName.NameUse.Official, Family = person.FamilyName, Given = person.GivenNames });
        }

        if (person.AddressLines.Count > 0 || person.Town is not null || person.Postcode is not null)
        {
            patient.Address.Add(new Address { Use = Address.AddressUse.Home, Line = person.AddressLines, City = person.Town, PostalCode = person.Postcode });
        }

        if (person.Phone is not null)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, null, person.Phone));
        }

        if (person.Email is not null)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Email, null, person.Email));
        }

        return patient;
    }
}
