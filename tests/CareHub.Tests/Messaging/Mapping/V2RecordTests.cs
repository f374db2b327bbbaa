using CareHub.Governance;
using CareHub.Identity;
using CareHub.Messaging.Mapping;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>Mapped messages through the record's one door: repeats update, events move the encounter, merges link.</summary>
public sealed class V2RecordTests
{
    private const string Trust = "https://fhir.nhs.uk/Id/ods-organization-code";
    private const string HospitalNumbers = "https://fhir.carehub.local/Id/rx1";

    private static async Task ApplyAsync(RecordsFixture fixture, CareHub.Hl7v2.Hl7Message message)
    {
        var result = V2ToFhir.Map(message, V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }

    [Fact]
    public async Task sending_the_same_admission_twice_leaves_one_patient_and_one_encounter()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A01"));
        await ApplyAsync(fixture, V2Messages.Adt("A01"));

        Assert.Single(await V2Samples.FindAsync<Patient>(fixture, NhsNumber.IdentifierSystem, V2Messages.NhsNumber));
        Assert.Single(await V2Samples.FindAsync<Patient>(fixture, HospitalNumbers, "H123456"));
        Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Single(await V2Samples.FindAsync<Organization>(fixture, Trust, "RX1"));
        Assert.Single(await V2Samples.FindAsync<Practitioner>(fixture, "https://fhir.hl7.org.uk/Id/gmc-number", "C1234567"));
    }

    [Fact]
    public async Task a_sample_sent_twice_leaves_one_patient_and_one_encounter()
    {
        var message = V2Samples.Load("ADT-A01-01.hl7");
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, message);
        await ApplyAsync(fixture, message);

        Assert.Single(await V2Samples.FindAsync<Patient>(fixture, "urn:oid:2.16.1", "PATID1234"));
        Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, "urn:oid:1.2", "40007716"));
    }

    [Fact]
    public async Task an_admission_then_a_discharge_of_the_same_visit_leaves_one_finished_encounter()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A01"));
        await ApplyAsync(fixture, V2Messages.Adt("A03", controlId: "MSG0002", discharge: "20250305143000"));

        var encounter = Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Equal(Encounter.EncounterStatus.Finished, encounter.Status);
        Assert.Equal("2025-03-01T10:15:00+00:00", encounter.Period?.Start);
        Assert.Equal("2025-03-05T14:30:00+00:00", encounter.Period?.End);
        Assert.Equal(Encounter.EncounterLocationStatus.Completed, Assert.Single(encounter.Location).Status);
    }

    [Fact]
    public async Task a_cancelled_discharge_puts_the_encounter_back_in_progress_without_an_end()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A03", discharge: "20250305143000"));
        await ApplyAsync(fixture, V2Messages.Adt("A13", controlId: "MSG0002", discharge: "20250305143000"));

        var encounter = Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
        Assert.Null(encounter.Period?.End);
    }

    [Theory]
    [InlineData(Encounter.EncounterStatus.Cancelled)]
    [InlineData(Encounter.EncounterStatus.EnteredInError)]
    public async Task a_cancelled_admission_takes_the_configured_status(Encounter.EncounterStatus status)
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A01"));
        var result = V2ToFhir.Map(V2Messages.Adt("A11", controlId: "MSG0002"), V2MappingOptions.Default with { CancelledAdmissionStatus = status });
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);

        var encounter = Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Equal(status, encounter.Status);
    }

    [Fact]
    public async Task a_transfer_records_the_new_location_active_and_the_old_one_completed()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A01"));
        await ApplyAsync(fixture, V2Messages.Adt("A02", controlId: "MSG0002", location: "WARD9^BAY1^BED1^RX1", priorLocation: "WARD1^BAY2^BED3^RX1"));

        var encounter = Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
        Assert.Collection(
            encounter.Location,
            now =>
            {
                Assert.Equal("WARD9, BAY1, BED1, RX1", now.Location.Display);
                Assert.Equal(Encounter.EncounterLocationStatus.Active, now.Status);
            },
            before =>
            {
                Assert.Equal("WARD1, BAY2, BED3, RX1", before.Location.Display);
                Assert.Equal(Encounter.EncounterLocationStatus.Completed, before.Status);
            });
    }

    [Fact]
    public async Task a_patient_first_known_by_hospital_number_is_updated_not_duplicated_when_the_nhs_number_arrives()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A04", pid3: "H123456^^^RX1^MR"));
        await ApplyAsync(fixture, V2Messages.Adt("A08", controlId: "MSG0002"));

        var patient = Assert.Single(await V2Samples.FindAsync<Patient>(fixture, HospitalNumbers, "H123456"));
        Assert.Contains(patient.Identifier, i => i.System == NhsNumber.IdentifierSystem && i.Value == V2Messages.NhsNumber);
    }

    [Fact]
    public async Task a_merge_marks_the_prior_patient_replaced_by_the_survivor()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A04", pid3: "H999999^^^RX1^MR"));
        var merge = CareHub.Hl7v2.Hl7Message.Parse(string.Join('\r',
            "MSH|^~\\&|PAS|RX1|CAREHUB|CAREHUB|20250302101500||ADT^A40^ADT_A39|MSG0003|P|2.5.1",
            "EVN|A40|20250302101500",
            $"PID|1||{V2Messages.NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
            "MRG|H999999^^^RX1^MR"));
        await ApplyAsync(fixture, merge);

        var prior = Assert.Single(await V2Samples.FindAsync<Patient>(fixture, HospitalNumbers, "H999999"));
        var survivor = Assert.Single(await V2Samples.FindAsync<Patient>(fixture, HospitalNumbers, "H123456"));
        Assert.False(prior.Active);
        var replacedBy = Assert.Single(prior.Link);
        Assert.Equal(Patient.LinkType.ReplacedBy, replacedBy.Type);
        Assert.Equal($"Patient/{survivor.Id}", replacedBy.Other.Reference);
        var replaces = Assert.Single(survivor.Link);
        Assert.Equal(Patient.LinkType.Replaces, replaces.Type);
        Assert.Equal($"Patient/{prior.Id}", replaces.Other.Reference);
    }

    [Fact]
    public async Task a_result_sent_twice_leaves_one_report_and_one_observation_and_does_not_overwrite_the_patient()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        await ApplyAsync(fixture, V2Messages.Adt("A01"));
        var oru = V2Messages.Oru("OBX|1|NM|718-7^Haemoglobin^LN||135|g/L^^UCUM|115-165|N|||F");
        await ApplyAsync(fixture, oru);
        await ApplyAsync(fixture, oru);

        var report = Assert.Single(await V2Samples.FindAsync<DiagnosticReport>(fixture, "https://fhir.carehub.local/Id/lims", "LAB1"));
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Final, report.Status);
        var observationUrl = Assert.Single(report.Result).Reference;
        var observations = await fixture.Records.SearchAsync(RecordsFixture.System(), "Observation", [], TestContext.Current.CancellationToken);
        Assert.Equal(1, observations.Total);
        Assert.Equal(observationUrl, $"Observation/{observations.Entry[0].Resource!.Id}");
        var patient = Assert.Single(await V2Samples.FindAsync<Patient>(fixture, NhsNumber.IdentifierSystem, V2Messages.NhsNumber));
        Assert.NotEmpty(patient.Address);
    }

    // ---- each feed writes its own source records -------------------------------------------------------------

    private static readonly string GpPractice = OrganisationSource.For("A81001");

    private static readonly string TrustSource = OrganisationSource.For("RX1");

    /// <summary>The GP practice's own record of the patient the test messages name (same NHS Number).</summary>
    private static async Task<string> GpRecordAsync(RecordsFixture fixture)
    {
        var patient = new Patient
        {
            Meta = new Meta { Source = GpPractice },
            Identifier = [new Identifier(NhsNumber.IdentifierSystem, V2Messages.NhsNumber)],
            Name = [new HumanName { Family = "GPRECORD", Given = ["OWN"] }],
            BirthDate = "1980-02-14",
            GeneralPractitioner = [new ResourceReference { Identifier = new Identifier(OrganisationSource.OdsSystem, "A81001") }],
        };
        var created = await fixture.Records.CreateAsync(RecordsFixture.System(), patient, null, TestContext.Current.CancellationToken);
        return created.Id;
    }

    [Fact]
    public async Task an_adt_feed_writes_its_own_patient_record_and_leaves_the_gp_practices_record_with_the_same_nhs_number_alone()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        var gpRecord = await GpRecordAsync(fixture);
        var options = V2MappingOptions.Default with { Source = TrustSource };

        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(V2Messages.Adt("A04"), options).Bundle);
        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(V2Messages.Adt("A08", controlId: "MSG0002"), options).Bundle);

        var patients = await V2Samples.FindAsync<Patient>(fixture, NhsNumber.IdentifierSystem, V2Messages.NhsNumber);
        Assert.Equal(2, patients.Count);
        var gp = Assert.Single(patients, p => p.Id == gpRecord);
        Assert.Equal("1", gp.Meta!.VersionId);
        Assert.Equal("GPRECORD", gp.Name[0].Family);
        Assert.Equal("A81001", Assert.Single(gp.GeneralPractitioner).Identifier!.Value);
        var feed = Assert.Single(patients, p => p.Id != gpRecord);
        Assert.Equal(TrustSource, feed.Meta!.Source);
        Assert.Equal("SMITH", feed.Name[0].Family);
        var encounter = Assert.Single(await V2Samples.FindAsync<Encounter>(fixture, HospitalNumbers, "V0001"));
        Assert.Equal($"Patient/{feed.Id}", encounter.Subject!.Reference);
        Assert.Equal(TrustSource, encounter.Meta!.Source);
    }

    [Fact]
    public async Task two_feeds_with_the_same_hospital_number_each_keep_their_own_record()
    {
        await using var fixture = await RecordsFixture.CreateAsync();

        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(V2Messages.Adt("A04"), V2MappingOptions.Default with { Source = TrustSource }).Bundle);
        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(V2Messages.Adt("A04"), V2MappingOptions.Default with { Source = "urn:carehub:channel:other-feed" }).Bundle);

        var patients = await V2Samples.FindAsync<Patient>(fixture, HospitalNumbers, "H123456");
        Assert.Equal(new[] { TrustSource, "urn:carehub:channel:other-feed" }.Order(StringComparer.Ordinal), patients.Select(p => p.Meta!.Source).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task a_feed_authoritative_for_demographics_updates_the_patients_record_whoever_wrote_it()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        var gpRecord = await GpRecordAsync(fixture);

        await V2Samples.AssertAcceptedAsync(fixture, V2ToFhir.Map(V2Messages.Adt("A04"), V2MappingOptions.Default with { Source = TrustSource, DemographicsAuthority = true }).Bundle);

        var patient = Assert.Single(await V2Samples.FindAsync<Patient>(fixture, NhsNumber.IdentifierSystem, V2Messages.NhsNumber));
        Assert.Equal(gpRecord, patient.Id);
        Assert.Equal("SMITH", patient.Name[0].Family);
    }
}
