using CareHub.Fhir;
using CareHub.Hl7v2;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>The HL7 v2 sample messages in ../shared/data/hl7v2/samples, and helpers to push mapped Bundles through the record.</summary>
internal static class V2Samples
{
    public const string Folder = "hl7v2/samples";

    /// <summary>The sample file names, or a single placeholder when the shared data is absent (the test then skips).</summary>
    public static IEnumerable<TheoryDataRow<string>> Files()
    {
        var root = SharedData.Root is null ? null : Path.Combine(SharedData.Root, Folder);
        if (root is null || !Directory.Exists(root))
        {
            yield return new TheoryDataRow<string>("(samples absent)");
            yield break;
        }

        foreach (var file in Directory.GetFiles(root, "*.hl7").Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            yield return new TheoryDataRow<string>(file!);
        }
    }

    /// <summary>Parses a sample (File.ReadAllText drops the UTF-8 byte order mark some samples start with).</summary>
    public static Hl7Message Load(string name)
    {
        var folder = SharedData.Require(Folder);
        return Hl7Message.Parse(File.ReadAllText(Path.Combine(folder, name)));
    }

    /// <summary>
    /// Firely structural validation as the API applies it: the Bundle serialised and parsed back strictly (unknown
    /// elements, bad primitives) and POCO-validated (cardinality, required elements) with every resource in it.
    /// </summary>
    public static void AssertStructurallyValid(Bundle bundle)
    {
        FhirSerialization.Validate(bundle);
        foreach (var entry in bundle.Entry)
        {
            FhirSerialization.Validate(Assert.IsAssignableFrom<Resource>(entry.Resource));
        }

        var parsed = FhirSerialization.Parse(FhirSerialization.ToJson(bundle), FhirFormat.Json);
        Assert.IsType<Bundle>(parsed);
    }

    /// <summary>Posts the transaction to the record and asserts every entry succeeded (2xx).</summary>
    public static async Task<Bundle> AssertAcceptedAsync(RecordsFixture fixture, Bundle bundle)
    {
        var response = await fixture.Records.ProcessBundleAsync(RecordsFixture.System(), bundle, TestContext.Current.CancellationToken);
        Assert.Equal(bundle.Entry.Count, response.Entry.Count);
        foreach (var entry in response.Entry)
        {
            Assert.StartsWith("2", entry.Response?.Status ?? string.Empty, StringComparison.Ordinal);
        }

        return response;
    }

    /// <summary>The current resources of a type whose identifier matches system|value.</summary>
    public static async Task<List<T>> FindAsync<T>(RecordsFixture fixture, string system, string value)
        where T : Resource
    {
        var type = typeof(T).Name;
        var result = await fixture.Records.SearchAsync(RecordsFixture.System(), type, QueryString.Parse("identifier=" + Uri.EscapeDataString(system + "|" + value)), TestContext.Current.CancellationToken);
        return [.. result.Entry.Select(e => e.Resource).OfType<T>()];
    }
}
