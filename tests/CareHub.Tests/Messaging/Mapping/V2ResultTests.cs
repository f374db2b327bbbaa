using CareHub.Hl7v2;
using CareHub.Messaging.Mapping;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>
/// Results without an order code (OBR-4 empty, as vital-signs feeds send them) and the point-of-care ORU^R30 to R32
/// (HL7 v2.5.1 chapter 7.3.4 to 7.3.6, structure ORU_R30).
/// </summary>
public sealed class V2ResultTests
{
    private static Hl7Message Oru(string trigger, string obr4, params string[] obx) =>
        Hl7Message.Parse(string.Join('\r', new[]
        {
            $"MSH|^~\\&|OBS|RX1|CAREHUB|CAREHUB|20250301120000||ORU^{trigger}^ORU_{(trigger == "R01" ? "R01" : "R30")}|VS-{trigger}|P|2.5.1",
            $"PID|1||{V2Messages.NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
            $"OBR|1||VS-{trigger}-1^OBS|{obr4}|||20250301115500",
        }.Concat(obx)) + "\r");

    private const string HeartRate = "OBX|1|NM|8867-4^Heart rate^LN||72|/min^per minute^UCUM|||||F|||20250301115500";
    private const string Systolic = "OBX|2|NM|8480-6^Systolic blood pressure^LN||120|mm[Hg]^mmHg^UCUM|||||F|||20250301115500";

    [Fact]
    public async Task a_report_without_an_order_code_is_coded_from_its_one_kind_of_result_and_keeps_its_observations()
    {
        var result = V2ToFhir.Map(Oru("R01", "", HeartRate), V2MappingOptions.Default);

        var report = result.Bundle.Entry.Select(e => e.Resource).OfType<DiagnosticReport>().Single();
        Assert.Equal("8867-4", report.Code!.Coding[0].Code);
        Assert.Single(result.Bundle.Entry.Select(e => e.Resource).OfType<Observation>());
        Assert.Contains(result.Warnings, w => w.ToString().Contains("OBR-4", StringComparison.Ordinal));
        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }

    [Fact]
    public async Task a_report_without_an_order_code_and_several_kinds_of_result_is_named_by_them_and_keeps_them_all()
    {
        var result = V2ToFhir.Map(Oru("R01", "", HeartRate, Systolic), V2MappingOptions.Default);

        var report = result.Bundle.Entry.Select(e => e.Resource).OfType<DiagnosticReport>().Single();
        Assert.Equal("Results: Heart rate, Systolic blood pressure", report.Code!.Text);
        Assert.Equal(2, report.Result.Count);
        Assert.Equal(["8480-6", "8867-4"], result.Bundle.Entry.Select(e => e.Resource).OfType<Observation>().Select(o => o.Code!.Coding[0].Code).Order(StringComparer.Ordinal));
        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }

    [Fact]
    public void a_report_without_an_order_code_or_any_coded_result_is_refused_with_101_at_obr_4()
    {
        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(Oru("R01", ""), V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.RequiredFieldMissing, refused.Code);
        Assert.Equal("OBR-4", refused.Location.ToString());
    }

    [Theory]
    [InlineData("R30")]
    [InlineData("R31")]
    [InlineData("R32")]
    public async Task a_point_of_care_result_maps_as_a_result(string trigger)
    {
        var result = V2ToFhir.Map(Oru(trigger, "85353-1^Vital signs panel^LN", HeartRate, Systolic), V2MappingOptions.Default);

        Assert.Equal("85353-1", result.Bundle.Entry.Select(e => e.Resource).OfType<DiagnosticReport>().Single().Code!.Coding[0].Code);
        Assert.Equal(2, result.Bundle.Entry.Count(e => e.Resource is Observation));
        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }
}
