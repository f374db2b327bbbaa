using CareHub.Hl7v2;
using CareHub.Messaging.Mapping;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>Messages the transformer refuses, with the HL7 table 0357 code and location a channel puts in ERR.</summary>
public sealed class V2ErrorTests
{
    [Fact]
    public void an_unsupported_message_type_is_refused_with_code_200_at_msh_9_1()
    {
        var message = V2Samples.Load("VXU-V04-01.hl7");

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.UnsupportedMessageType, refused.Code);
        Assert.True(refused.IsRejection);
        Assert.Equal("MSH^1^9^1^1", refused.Location.Encode(message.Delimiters));
    }

    [Fact]
    public void an_unsupported_event_of_a_supported_type_is_refused_with_code_201_at_msh_9_2()
    {
        var message = Hl7Message.Parse("MSH|^~\\&|PAS|RX1|CAREHUB|CAREHUB|20250301101500||ADT^A20^ADT_A20|M1|P|2.5.1\rPID|1||H1^^^RX1^MR");

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.UnsupportedEventCode, refused.Code);
        Assert.Equal("MSH^1^9^1^2", refused.Location.Encode(message.Delimiters));
    }

    [Fact]
    public void a_patient_without_identifiers_is_refused_with_code_101_at_pid_3()
    {
        var message = V2Messages.Adt("A01", pid3: string.Empty);

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.RequiredFieldMissing, refused.Code);
        Assert.False(refused.IsRejection);
        Assert.Equal("PID^1^3", refused.Location.Encode(message.Delimiters));
        Assert.Equal("PID^1^3", refused.ToError().Location!.Value.Encode(message.Delimiters));
    }

    [Fact]
    public void an_admission_without_visit_number_or_admit_time_is_refused_with_code_101_at_pv1_19()
    {
        var message = V2Messages.Adt("A01", visit: string.Empty, admit: string.Empty);

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.Equal(Hl7ErrorCode.RequiredFieldMissing, refused.Code);
        Assert.Equal("PV1^1^19", refused.Location.Encode(message.Delimiters));
    }

    [Fact]
    public void a_registration_without_visit_number_is_keyed_by_admit_time_with_a_warning()
    {
        var result = V2ToFhir.Map(V2Messages.Adt("A04", visit: string.Empty), V2MappingOptions.Default);

        Assert.Contains(result.Bundle.Entry, e => e.Resource is Hl7.Fhir.Model.Encounter);
        var warning = Assert.Single(result.Warnings, w => w.Location.SegmentId == "PV1");
        Assert.Equal(19, warning.Location.Field);
        Assert.Equal('W', warning.ToError().Severity);
    }

    [Fact]
    public void a_refusal_message_carries_no_patient_data()
    {
        var message = V2Messages.Adt("A01", pid3: string.Empty);

        var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));

        Assert.DoesNotContain("SMITH", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(V2Messages.NhsNumber, refused.Message, StringComparison.Ordinal);
    }
}
