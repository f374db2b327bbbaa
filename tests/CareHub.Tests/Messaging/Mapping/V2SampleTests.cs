using CareHub.Hl7v2;
using CareHub.Messaging.Mapping;
using CareHub.Tests.Records;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>
/// Every shared sample: the supported ones map to a structurally valid transaction that the record accepts whole; the
/// others are refused with the HL7 table 0357 code a channel puts in its ERR segment.
/// </summary>
public sealed class V2SampleTests
{
    /// <summary>Samples of a supported type that are refused for their content, and why (the coverage report lists them too).</summary>
    private static readonly Dictionary<string, (Hl7ErrorCode Code, string Location)> ExpectedRefusals = new(StringComparer.Ordinal)
    {
        // An A01 with neither a visit number (PV1-19) nor an admit time (PV1-44): a repeat could not find the visit.
        ["ADT01-28.hl7"] = (Hl7ErrorCode.RequiredFieldMissing, "PV1-19"),
    };

    private static readonly HashSet<string> MappedTypes = new(StringComparer.Ordinal) { "ADT", "ORU", "MDM", "SIU" };

    public static IEnumerable<TheoryDataRow<string>> Files() => V2Samples.Files();

    [Theory]
    [MemberData(nameof(Files))]
    public async Task a_sample_maps_to_a_valid_transaction_the_record_accepts_or_is_refused_with_its_code(string file)
    {
        var message = V2Samples.Load(file);
        var type = message.MessageType;
        var supported = V2ToFhir.Supported.Contains($"{type}^{message.TriggerEvent}");
        if (!supported || ExpectedRefusals.ContainsKey(file))
        {
            var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));
            var expected = ExpectedRefusals.TryGetValue(file, out var refusal)
                ? refusal.Code
                : MappedTypes.Contains(type) ? Hl7ErrorCode.UnsupportedEventCode : Hl7ErrorCode.UnsupportedMessageType;
            Assert.Equal(expected, refused.Code);
            if (refusal.Location is { } location)
            {
                Assert.Equal(location, refused.Location.ToString());
            }

            return;
        }

        var result = V2ToFhir.Map(message, V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);
        Assert.Contains(result.Bundle.Entry, e => e.Resource is Hl7.Fhir.Model.Patient);

        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }
}
