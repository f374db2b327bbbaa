using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

/// <summary>
/// Differential test of search: the official R4 examples and the Synthea bundles are loaded through the one door into
/// SQLite, and for generated searches (every supported parameter the data uses, values sampled from the data, with the
/// prefixes and modifiers the oracle decides) the database's ids are compared with <see cref="SearchOracle"/>'s.
/// </summary>
public sealed class DifferentialSearchTests
{
    // The cap keeps the run well inside two minutes on two cores; searches are taken round-robin over the parameters.
    private const int MaxSearches = 3000;
    private const int ProbesPerParameter = 24;

    // The largest example files are whole-spec bundles (profiles, value sets) that add minutes of loading and no parameter.
    private const long MaxExampleBytes = 256 * 1024;

    /// <summary>
    /// Searches left out by name, each with the reason: keyed "Type.param" (every search of it) or the search as
    /// printed ("Type?name=value").
    /// </summary>
    private static readonly Dictionary<string, string> Exclusions = new(StringComparer.Ordinal)
    {
    };

    // AuditEvent is left out as a type: the audit trail writes its own AuditEvents into the same store while the test runs.
    private static readonly HashSet<string> ExcludedTypes = ["AuditEvent"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task database_search_agrees_with_an_in_memory_fhirpath_evaluation_of_the_r4_examples_and_synthea()
    {
        var examples = R4Examples.Require();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var output = TestContext.Current.TestOutputHelper!;
        await using var fixture = await RecordsFixture.CreateAsync();
        var context = RecordsFixture.System();
        var crashed = new List<string>();
        var (loaded, refusedByParser, refusedByRecord, tooLarge) = await LoadExamplesAsync(fixture.Records, context, examples, crashed);
        foreach (var crash in crashed)
        {
            output.WriteLine($"Write failed with a server error: {crash}");
        }

        output.WriteLine($"R4 examples: {loaded} loaded, {refusedByParser} refused by the strict parser, {refusedByRecord} refused by the record, {tooLarge} files over {MaxExampleBytes / 1024} KB not loaded");
        var synthea = SharedData.Root is { } root && Directory.Exists(Path.Combine(root, "synthea")) ? await LoadSyntheaAsync(fixture.Records, context, Path.Combine(root, "synthea")) : -1;
        output.WriteLine(synthea < 0 ? "Synthea: ../shared/data/synthea absent, not loaded" : $"Synthea: {synthea} bundle entries loaded");

        output.WriteLine($"Loaded in {clock.Elapsed.TotalSeconds:F1} s");

        // The oracle reads the resources back as stored (ids assigned, references rewritten by transactions).
        var history = await fixture.Store.HistoryAsync(new HistoryQuery(null, null, null, null, 1_000_000), Ct);
        var resources = history.Versions
            .GroupBy(v => (v.Type, v.Id))
            .Select(g => g.MaxBy(v => v.Version)!)
            .Where(v => !v.Deleted && !ExcludedTypes.Contains(v.Type))
            .Select(v => FhirSerialization.Parse(v.Json!, FhirFormat.Json))
            .ToList();
        var byKey = resources.ToDictionary(r => r.TypeName + "/" + r.Id, StringComparer.Ordinal);
        var oracle = new SearchOracle(byKey);

        var (planned, undecided, excluded, engineFailures) = Plan(oracle, resources);
        output.WriteLine($"Generated {planned.Count} decidable searches; {undecided} left out where the oracle cannot tell; {engineFailures.Count} parameters the FHIRPath engine could not evaluate: {string.Join(", ", engineFailures)}");
        foreach (var (key, reason) in excluded)
        {
            output.WriteLine($"Excluded {key}: {reason}");
        }

        output.WriteLine($"Planned in {clock.Elapsed.TotalSeconds:F1} s");
        var chosen = RoundRobin(planned, MaxSearches);
        var mismatches = new List<string>();
        foreach (var (probe, expected) in chosen)
        {
            var actual = await SearchIdsAsync(fixture.Records, context, probe);
            if (actual.Error is { } error)
            {
                mismatches.Add($"{probe}: refused: {error}");
                continue;
            }

            var missing = expected.Except(actual.Ids!).Order(StringComparer.Ordinal).ToList();
            var extra = actual.Ids!.Except(expected).Order(StringComparer.Ordinal).ToList();
            if (missing.Count > 0 || extra.Count > 0)
            {
                mismatches.Add($"{probe} ({probe.Parameter}): missing [{string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $", ... {missing.Count}" : "")}] extra [{string.Join(", ", extra.Take(5))}{(extra.Count > 5 ? $", ... {extra.Count}" : "")}]");
            }
        }

        output.WriteLine($"Searched in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine("By kind: " + string.Join(", ", chosen.GroupBy(c => Kind(c.Probe)).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}")));
        output.WriteLine($"Searches the oracle expects to match something: {chosen.Count(c => c.Expected.Count > 0)}");
        output.WriteLine($"Searches compared: {chosen.Count} over {chosen.Select(c => c.Probe.Type + "." + c.Probe.Parameter).Distinct().Count()} parameters of {chosen.Select(c => c.Probe.Type).Distinct().Count()} types; mismatches: {mismatches.Count}");
        Assert.True(crashed.Count == 0, "writes failed with a server error:\n" + string.Join("\n", crashed));
        Assert.True(chosen.Count > 500, $"only {chosen.Count} searches could be compared");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {chosen.Count} searches disagree with the oracle; the first 20:\n" + string.Join("\n", mismatches.Take(20)));
    }

    private static async Task<(int Loaded, int RefusedByParser, int RefusedByRecord, int TooLarge)> LoadExamplesAsync(RecordService records, RequestContext context, string folder, List<string> crashed)
    {
        int loaded = 0, refusedByParser = 0, refusedByRecord = 0, tooLarge = 0;
        foreach (var file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            if (name is "package.json" || name.StartsWith('.'))
            {
                continue;
            }

            if (new FileInfo(file).Length > MaxExampleBytes)
            {
                tooLarge++;
                continue;
            }

            Resource resource;
            try
            {
                resource = FhirSerialization.Parse(await File.ReadAllTextAsync(file, Ct), FhirFormat.Json);
            }
            catch (FhirException e)
            {
                refusedByParser++;
                TestContext.Current.TestOutputHelper?.WriteLine($"Refused by the strict parser: {name}: {Short(e)}");
                continue;
            }

            try
            {
                await records.UpdateAsync(context, resource.TypeName, resource.Id ?? throw FhirException.BadRequest("no id"), resource, null, Ct);
                loaded++;
            }
            catch (FhirException e)
            {
                refusedByRecord++;
                TestContext.Current.TestOutputHelper?.WriteLine($"Refused by the record: {name}: {Short(e)}");
            }
            catch (InvalidOperationException e)
            {
                crashed.Add($"{name}: {e.Message}");
            }
        }

        return (loaded, refusedByParser, refusedByRecord, tooLarge);
    }

    private static string Short(FhirException e) => $"{(int)FhirStatus.Of(e)} {(e.Message.Length > 160 ? e.Message[..160] + "..." : e.Message)}";

    private static async Task<int> LoadSyntheaAsync(RecordService records, RequestContext context, string folder)
    {
        // The batch bundles hold the practitioners and organizations the patient bundles refer to conditionally.
        var bundles = Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal)
            .Select(f => (Bundle)FhirSerialization.Parse(File.ReadAllText(f), FhirFormat.Json))
            .OrderBy(b => b.Type == Bundle.BundleType.Batch ? 0 : 1)
            .ToList();
        var loaded = 0;
        foreach (var bundle in bundles)
        {
            var response = await records.ProcessBundleAsync(context, bundle, Ct);
            loaded += response.Entry.Count(e => e.Response?.Status?.StartsWith('2') == true);
        }

        return loaded;
    }

    private static (List<(Probe Probe, HashSet<string> Expected)> Planned, int Undecided, List<(string Key, string Reason)> Excluded, List<string> EngineFailures) Plan(SearchOracle oracle, List<Resource> resources)
    {
        var planned = new List<(Probe, HashSet<string>)>();
        var excluded = new List<(string, string)>();
        var engineFailures = new List<string>();
        var undecided = 0;
        foreach (var group in resources.GroupBy(r => r.TypeName).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var type = group.Key;
            var ofType = group.OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
            var definitions = ModelInfo.SearchParameters
                .Where(p => p.Resource == type && SearchOracle.Supported.Contains(p.Type) && !string.IsNullOrEmpty(p.Expression))
                .DistinctBy(p => p.Name)
                .OrderBy(p => p.Name, StringComparer.Ordinal);
            foreach (var definition in definitions)
            {
                var name = definition.Name!;
                if (Exclusions.TryGetValue($"{type}.{name}", out var whole))
                {
                    excluded.Add(($"{type}.{name}", whole));
                    continue;
                }

                List<(string Id, IReadOnlyList<Base> Values)> values;
                try
                {
                    values = ofType.Select(r => (r.Id!, oracle.Values(r, definition.Expression!))).ToList();
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or NotSupportedException)
                {
                    engineFailures.Add($"{type}.{name} ({e.GetType().Name}: {e.Message})");
                    continue;
                }

                var withValues = values.Where(v => v.Values.Count > 0).ToList();
                if (withValues.Count == 0)
                {
                    continue;
                }

                var probes = new List<Probe>
                {
                    Missing(type, name, definition.Type, true),
                    Missing(type, name, definition.Type, false),
                };
                foreach (var index in new[] { 0, withValues.Count / 2, withValues.Count - 1 }.Distinct())
                {
                    probes.AddRange(SearchOracle.Probes(type, name, definition.Type, withValues[index].Values[0]));
                }

                foreach (var probe in probes.DistinctBy(p => p.ToString()).Take(ProbesPerParameter))
                {
                    if (Exclusions.TryGetValue(probe.ToString(), out var reason))
                    {
                        excluded.Add((probe.ToString(), reason));
                        continue;
                    }

                    var decisions = values.Select(v => (v.Id, Match: probe.Matches(v.Values))).ToList();
                    if (decisions.Any(d => d.Match is null))
                    {
                        undecided++;
                        continue;
                    }

                    planned.Add((probe, decisions.Where(d => d.Match == true).Select(d => d.Id).ToHashSet(StringComparer.Ordinal)));
                }
            }
        }

        return (planned, undecided, excluded, engineFailures);
    }

    // "date ge", "token :exact", ...: the parameter type with the modifier, or the prefix, the search used.
    private static string Kind(Probe probe)
    {
        var type = ModelInfo.SearchParameters.First(p => p.Resource == probe.Type && p.Name == probe.Parameter).Type.ToString().ToLowerInvariant();
        var colon = probe.Name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            return $"{type} {probe.Name[colon..]}";
        }

        return type is "date" or "number" or "quantity" ? $"{type} {probe.Value[..2]}" : type;
    }

    private static Probe Missing(string type, string name, SearchParamType paramType, bool missing) =>
        new(type, name, name + ":missing", missing ? "true" : "false", values => SearchOracle.Present(paramType, values) is { } present ? present != missing : null);

    // Round-robin over the kinds of search (date ge, token :missing, ...), and within a kind over the parameters, so the
    // cap keeps every prefix and modifier rather than the first searches of the first types.
    private static List<(Probe Probe, HashSet<string> Expected)> RoundRobin(List<(Probe Probe, HashSet<string> Expected)> planned, int max)
    {
        var queues = planned
            .GroupBy(p => Kind(p.Probe))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new Queue<(Probe, HashSet<string>)>(g
                .GroupBy(p => p.Probe.Type + "." + p.Probe.Parameter)
                .SelectMany(byParameter => byParameter.Select((p, rank) => (p, rank)))
                .OrderBy(x => x.rank)
                .Select(x => x.p)))
            .ToList();
        var chosen = new List<(Probe, HashSet<string>)>();
        while (chosen.Count < max && queues.Any(q => q.Count > 0))
        {
            foreach (var queue in queues.Where(q => q.Count > 0))
            {
                if (chosen.Count == max)
                {
                    break;
                }

                chosen.Add(queue.Dequeue());
            }
        }

        return chosen;
    }

    private static async Task<(HashSet<string>? Ids, string? Error)> SearchIdsAsync(RecordService records, RequestContext context, Probe probe)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<KeyValuePair<string, string>> query = [new(probe.Name, probe.Value), new("_count", RecordsMaxCount), new("_elements", "id")];
        try
        {
            while (true)
            {
                var page = await records.SearchAsync(context, probe.Type, query, Ct);
                foreach (var entry in page.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match))
                {
                    ids.Add(entry.Resource!.Id!);
                }

                if (page.Link.FirstOrDefault(l => l.Relation == "next")?.Url is not { } next)
                {
                    return (ids, null);
                }

                query = QueryString.Parse(new Uri(next).Query);
            }
        }
        catch (FhirException e)
        {
            return (null, $"{(int)FhirStatus.Of(e)} {e.Message}");
        }
    }

    private static readonly string RecordsMaxCount = SearchRequest.MaxCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
