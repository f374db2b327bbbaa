using System.Text;
using CareHub.Hl7v2;
using CareHub.Messaging.Mapping;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>MDM^T02 to DocumentReference and SIU^S12 to Appointment.</summary>
public sealed class V2DocumentTests
{
    private static Hl7Message Mdm(string controlId = "DOC0001") => Hl7Message.Parse(string.Join('\r',
        $"MSH|^~\\&|EPR|RX1|CAREHUB|CAREHUB|20250301160000||MDM^T02^MDM_T02|{controlId}|P|2.5.1",
        "EVN|T02|20250301160000",
        $"PID|1||{V2Messages.NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
        "PV1|1|I|WARD1^BAY2^BED3^RX1||||||||||||||||V0001^^^RX1^VN",
        "TXA|1|DS^Discharge summary^HL70270|TX|20250301155500||||||||DOC-42^EPR|||||AU||AV",
        "OBX|1|TX|DS^Discharge summary^L||Discharged home.||||||F",
        "OBX|2|TX|DS^Discharge summary^L||Follow up in clinic.||||||F"));

    [Fact]
    public async Task a_document_notification_becomes_one_document_reference_with_the_text_as_an_attachment()
    {
        var result = V2ToFhir.Map(Mdm(), V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);

        var document = result.Bundle.Entry.Select(e => e.Resource).OfType<DocumentReference>().Single();
        Assert.Equal("DOC-42", document.MasterIdentifier!.Value);
        Assert.Equal(DocumentReferenceStatus.Current, document.Status);
        Assert.Equal(CompositionStatus.Final, document.DocStatus);
        var attachment = Assert.Single(document.Content).Attachment!;
        Assert.Equal("text/plain", attachment.ContentType);
        Assert.Equal("Discharged home.\nFollow up in clinic.", Encoding.UTF8.GetString(attachment.Data!));

        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(Mdm("DOC0002"), V2MappingOptions.Default).Bundle);
        Assert.Single(await V2Samples.FindAsync<DocumentReference>(fixture, "https://fhir.carehub.local/Id/epr", "DOC-42"));
    }

    [Fact]
    public void a_document_without_a_unique_document_number_is_refused_with_code_101_at_txa_12()
    {
        var message = Mdm();
        message.Segment("TXA")!.Set(12, string.Empty);

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.RequiredFieldMissing, refused.Code);
        Assert.Equal("TXA^1^12", refused.Location.Encode(message.Delimiters));
    }

    [Fact]
    public async Task a_booking_becomes_an_appointment_with_patient_location_and_clinician()
    {
        var message = Hl7Message.Parse(string.Join('\r',
            "MSH|^~\\&|PAS|RX1|CAREHUB|CAREHUB|20250301090000||SIU^S12^SIU_S12|SIU0001|P|2.5.1",
            "SCH|P-77^PAS|F-88^PAS|||||ROUTINE^Routine^HL70276|FOLLOWUP^Follow up^HL70277|20|min|^^^202503101000^202503101020||||||||||||||Booked",
            $"PID|1||{V2Messages.NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
            "RGS|1",
            "AIL|1||CLINIC3^^^RX1|C^Clinic^HL70305",
            "AIP|1||C1234567^JONES^ALAN^^^DR^^^GMC|ATND^Attending^HL70443"));

        var result = V2ToFhir.Map(message, V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);

        var appointment = result.Bundle.Entry.Select(e => e.Resource).OfType<Appointment>().Single();
        Assert.Equal(Appointment.AppointmentStatus.Booked, appointment.Status);
        Assert.Equal(new DateTimeOffset(2025, 3, 10, 10, 0, 0, TimeSpan.Zero), appointment.Start);
        Assert.Equal(new DateTimeOffset(2025, 3, 10, 10, 20, 0, TimeSpan.Zero), appointment.End);
        Assert.Equal(20, appointment.MinutesDuration);
        Assert.Equal(3, appointment.Participant.Count);
        Assert.Contains(appointment.Participant, p => p.Actor?.Display == "CLINIC3, RX1");

        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
        Assert.Single(await V2Samples.FindAsync<Appointment>(fixture, "https://fhir.carehub.local/Id/pas", "F-88"));
    }
}
