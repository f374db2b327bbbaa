using System.Text.Json;
using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Records;

/// <summary>The 15 Synthea bundles of ../shared/data/synthea load through the one door and every reference resolves.</summary>
public sealed class SyntheaLoadTests
{
    [Fact]
    public async Task all_synthea_bundles_load_batches_first_and_their_references_resolve()
    {
        var folder = SharedData.Require("synthea");
        var ct = TestContext.Current.CancellationToken;
        await using var fixture = await RecordsFixture.CreateAsync();
        var context = RecordsFixture.System();
        var bundles = Directory.GetFiles(folder, "*.json")
            .Select(f => (Bundle)FhirSerialization.Parse(File.ReadAllText(f), FhirFormat.Json))
            .OrderBy(b => b.Type == Bundle.BundleType.Batch ? 0 : 1)
            .ToList();
        Assert.True(bundles.Count >= 15, $"expected the 15 or more Synthea bundles, found {bundles.Count}");

        var expected = 0;
        foreach (var bundle in bundles)
        {
            var response = await fixture.Records.ProcessBundleAsync(context, bundle, ct);
            var failures = response.Entry.Where(e => e.Response?.Status is not { } s || !s.StartsWith('2')).Select(e => e.Response?.Status + " " + string.Join("; ", (e.Response?.Outcome as OperationOutcome)?.Issue.Select(i => i.Diagnostics) ?? [])).ToList();
            Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
            expected += bundle.Entry.Count;
        }

        // Every reference in every stored resource points at a stored resource.
        var checkedReferences = 0;
        var page = await fixture.Store.HistoryAsync(new CareHub.Storage.HistoryQuery(null, null, null, null, 1_000_000), ct);
        var stored = page.Versions.Where(v => v.Json is not null).ToList();
        Assert.Equal(expected, stored.Count);
        var keys = stored.Select(v => $"{v.Type}/{v.Id}").ToHashSet(StringComparer.Ordinal);
        foreach (var version in stored)
        {
            foreach (var reference in References(JsonDocument.Parse(version.Json!).RootElement))
            {
                Assert.True(keys.Contains(reference), $"{version.Type}/{version.Id} refers to {reference}, which is not stored");
                checkedReferences++;
            }
        }

        Assert.True(checkedReferences > 10_000, $"only {checkedReferences} references were checked");
    }

    private static IEnumerable<string> References(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "reference" && property.Value.ValueKind == JsonValueKind.String && !property.Value.GetString()!.StartsWith('#'))
                    {
                        yield return property.Value.GetString()!;
                    }
                    else
                    {
                        foreach (var inner in References(property.Value))
                        {
                            yield return inner;
                        }
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var inner in References(item))
                    {
                        yield return inner;
                    }
                }

                break;
        }
    }
}
