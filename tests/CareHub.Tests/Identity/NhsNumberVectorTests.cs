using System.Text.Json;
using CareHub.Identity;

namespace CareHub.Tests.Identity;

/// <summary>
/// Runs every case of the uk-fci/nhs-number shared vectors (../shared/data/nhs-number/nhs_number_cases.json)
/// so CareHub stays in lockstep with the reference implementation.
/// </summary>
public class NhsNumberVectorTests
{
    private const string VectorsFile = "nhs-number/nhs_number_cases.json";

    private static readonly Dictionary<string, NhsNumberRegion> Regions = new(StringComparer.Ordinal)
    {
        ["UNALLOCATED"] = NhsNumberRegion.Unallocated,
        ["SCOTLAND"] = NhsNumberRegion.Scotland,
        ["NORTHERN_IRELAND"] = NhsNumberRegion.NorthernIreland,
        ["ENGLAND_WALES_IOM"] = NhsNumberRegion.EnglandWalesIsleOfMan,
        ["RESERVED"] = NhsNumberRegion.Reserved,
        ["EIRE"] = NhsNumberRegion.Eire,
        ["SYNTHETIC"] = NhsNumberRegion.Synthetic,
    };

    public static IEnumerable<TheoryDataRow<string, int>> Cases()
    {
        using var vectors = Load();
        if (vectors is null)
        {
            // One row that skips, so a machine without the shared data reports why instead of passing silently.
            yield return new TheoryDataRow<string, int>("(vectors file absent)", -1);
            yield break;
        }

        foreach (var section in vectors.RootElement.EnumerateObject())
        {
            if (section.Value.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            for (var i = 0; i < section.Value.GetArrayLength(); i++)
            {
                yield return new TheoryDataRow<string, int>(section.Name, i);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void behaves_as_the_reference_vector_says(string section, int index)
    {
        using var vectors = Load();
        if (vectors is null)
        {
            Assert.Skip($"Shared test data {VectorsFile} not found above {AppContext.BaseDirectory}.");
        }

        var c = vectors.RootElement.GetProperty(section)[index];
        switch (section)
        {
            case "calculate_checksum":
                Assert.Equal(NullableInt(c.GetProperty("checksum")), NhsNumber.CalculateChecksum(c.GetProperty("identifier").GetString()));
                break;
            case "standardise":
                Assert.Equal(c.GetProperty("output").GetString(), NhsNumber.Standardise(c.GetProperty("input").GetString()));
                break;
            case "standardise_from_int":
                Assert.Equal(c.GetProperty("output").GetString(), NhsNumber.Standardise(c.GetProperty("input").GetInt64()));
                break;
            case "is_valid":
                Assert.Equal(c.GetProperty("valid").GetBoolean(), NhsNumber.IsValid(c.GetProperty("input").GetString()));
                break;
            case "is_valid_for_region":
                Assert.Equal(
                    c.GetProperty("valid").GetBoolean(),
                    NhsNumber.IsValid(c.GetProperty("input").GetString(), Regions[c.GetProperty("region").GetString()!]));
                break;
            case "region_of":
                Assert.Equal(Regions[c.GetProperty("region").GetString()!], NhsNumber.Parse(c.GetProperty("number").GetString()!).Region);
                break;
            case "range_boundaries":
                var name = c.GetProperty("range").GetString();
                var range = Assert.Single(NhsNumberRange.All, r => r.Name == name);
                Assert.Equal(c.GetProperty("start").GetInt64(), range.Start);
                Assert.Equal(c.GetProperty("end").GetInt64(), range.End);
                break;
            default:
                Assert.Fail($"The vectors file has a section '{section}' that this test does not know how to run.");
                break;
        }
    }

    private static int? NullableInt(JsonElement element) =>
        element.ValueKind == JsonValueKind.Null ? null : element.GetInt32();

    private static JsonDocument? Load()
    {
        var path = SharedTestData.Find(VectorsFile);
        return path is null ? null : JsonDocument.Parse(File.ReadAllText(path));
    }
}
