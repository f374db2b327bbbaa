using CareHub.Hl7v2;
using CareHub.Messaging.Mapping;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>
/// Every trigger event of HL7 v2.5.1 chapter 3 (A01 to A62), one message each, built from the segments of the event's
/// message structure in the chapter (ADT_A01, ADT_A06, ADT_A17, ADT_A30, ADT_A39, ADT_A45, ADT_A50, ADT_A60, ...).
/// The events CareHub maps become a structurally valid transaction the record accepts whole, with the encounter status
/// or patient change the event means; the others are refused by the mapper with 201 (the broker then stores and accepts
/// them as unmapped; see the broker's tests).
/// </summary>
public sealed class V2AdtEventTests
{
    /// <summary>Event to message structure, HL7 v2.5.1 chapter 3 (A19 is a query, QRY^A19).</summary>
    private static readonly Dictionary<string, string> Structures = new(StringComparer.Ordinal)
    {
        ["A01"] = "ADT_A01", ["A02"] = "ADT_A02", ["A03"] = "ADT_A03", ["A04"] = "ADT_A01", ["A05"] = "ADT_A05", ["A06"] = "ADT_A06",
        ["A07"] = "ADT_A06", ["A08"] = "ADT_A01", ["A09"] = "ADT_A09", ["A10"] = "ADT_A09", ["A11"] = "ADT_A09", ["A12"] = "ADT_A12",
        ["A13"] = "ADT_A01", ["A14"] = "ADT_A05", ["A15"] = "ADT_A15", ["A16"] = "ADT_A16", ["A17"] = "ADT_A17", ["A18"] = "ADT_A18",
        ["A19"] = "QRY_A19", ["A20"] = "ADT_A20", ["A21"] = "ADT_A21", ["A22"] = "ADT_A21", ["A23"] = "ADT_A21", ["A24"] = "ADT_A24",
        ["A25"] = "ADT_A21", ["A26"] = "ADT_A21", ["A27"] = "ADT_A21", ["A28"] = "ADT_A05", ["A29"] = "ADT_A21", ["A30"] = "ADT_A30",
        ["A31"] = "ADT_A05", ["A32"] = "ADT_A21", ["A33"] = "ADT_A21", ["A34"] = "ADT_A30", ["A35"] = "ADT_A30", ["A36"] = "ADT_A30",
        ["A37"] = "ADT_A37", ["A38"] = "ADT_A38", ["A39"] = "ADT_A39", ["A40"] = "ADT_A39", ["A41"] = "ADT_A39", ["A42"] = "ADT_A39",
        ["A43"] = "ADT_A43", ["A44"] = "ADT_A43", ["A45"] = "ADT_A45", ["A46"] = "ADT_A30", ["A47"] = "ADT_A30", ["A48"] = "ADT_A30",
        ["A49"] = "ADT_A30", ["A50"] = "ADT_A50", ["A51"] = "ADT_A50", ["A52"] = "ADT_A52", ["A53"] = "ADT_A52", ["A54"] = "ADT_A54",
        ["A55"] = "ADT_A52", ["A60"] = "ADT_A60", ["A61"] = "ADT_A61", ["A62"] = "ADT_A61",
    };

    /// <summary>The required (and the commonly sent optional) segments of each structure, in order, after MSH.</summary>
    private static readonly Dictionary<string, string> Segments = new(StringComparer.Ordinal)
    {
        ["ADT_A01"] = "EVN PID PD1 PV1 PV2 AL1", ["ADT_A02"] = "EVN PID PD1 PV1 PV2", ["ADT_A03"] = "EVN PID PD1 PV1 PV2",
        ["ADT_A05"] = "EVN PID PD1 PV1 PV2 AL1", ["ADT_A06"] = "EVN PID PD1 MRG PV1 PV2", ["ADT_A09"] = "EVN PID PD1 PV1 PV2",
        ["ADT_A12"] = "EVN PID PD1 PV1 PV2", ["ADT_A15"] = "EVN PID PD1 PV1 PV2", ["ADT_A16"] = "EVN PID PD1 PV1 PV2",
        ["ADT_A17"] = "EVN PID PD1 PV1 PV2 PID2 PD1 PV12 PV2", ["ADT_A18"] = "EVN PID PD1 MRG PV1", ["QRY_A19"] = "QRD",
        ["ADT_A20"] = "EVN NPU", ["ADT_A21"] = "EVN PID PD1 PV1 PV2", ["ADT_A24"] = "EVN PID PD1 PV1 PID2 PD1 PV12",
        ["ADT_A30"] = "EVN PID PD1 MRG", ["ADT_A37"] = "EVN PID PV1 PID2 PV12", ["ADT_A38"] = "EVN PID PD1 PV1 PV2",
        ["ADT_A39"] = "EVN PID PD1 MRG PV1", ["ADT_A43"] = "EVN PID PD1 MRG", ["ADT_A45"] = "EVN PID PD1 MRG PV1",
        ["ADT_A50"] = "EVN PID PD1 MRG PV1", ["ADT_A52"] = "EVN PID PD1 PV1 PV2", ["ADT_A54"] = "EVN PID PD1 PV1 PV2",
        ["ADT_A60"] = "EVN PID PV1 PV2 IAM", ["ADT_A61"] = "EVN PID PD1 PV1 PV2",
    };

    /// <summary>Events the mapper does not map (stored and accepted as unmapped by a channel).</summary>
    private static readonly HashSet<string> Unmapped = new(StringComparer.Ordinal)
    {
        "A19", "A20", "A24", "A35", "A37", "A41", "A42", "A43", "A44", "A46", "A48", "A49", "A51",
    };

    /// <summary>The encounter status each visit event means (HL7 v2.5.1 chapter 3; FHIR R4 encounter-status).</summary>
    private static readonly Dictionary<string, Encounter.EncounterStatus> Statuses = new(StringComparer.Ordinal)
    {
        ["A01"] = Encounter.EncounterStatus.InProgress, ["A02"] = Encounter.EncounterStatus.InProgress, ["A03"] = Encounter.EncounterStatus.Finished,
        ["A05"] = Encounter.EncounterStatus.Planned, ["A06"] = Encounter.EncounterStatus.InProgress, ["A07"] = Encounter.EncounterStatus.InProgress,
        ["A11"] = Encounter.EncounterStatus.Cancelled, ["A12"] = Encounter.EncounterStatus.InProgress, ["A13"] = Encounter.EncounterStatus.InProgress,
        ["A14"] = Encounter.EncounterStatus.Planned, ["A21"] = Encounter.EncounterStatus.Onleave, ["A22"] = Encounter.EncounterStatus.InProgress,
        ["A23"] = Encounter.EncounterStatus.EnteredInError, ["A27"] = Encounter.EncounterStatus.Cancelled, ["A38"] = Encounter.EncounterStatus.Cancelled,
        ["A52"] = Encounter.EncounterStatus.InProgress, ["A53"] = Encounter.EncounterStatus.Onleave,
    };

    public static IEnumerable<TheoryDataRow<string>> Events() =>
        Enumerable.Range(1, 62).Where(n => n is not (56 or 57 or 58 or 59)).Select(n => new TheoryDataRow<string>($"A{n:00}"));

    /// <summary>One message of the event's structure; the second patient group (PID2, PV12) is another patient.</summary>
    internal static Hl7Message Build(string trigger, string patient = "RTH-EV-1", string visit = "VN-EV-1")
    {
        var structure = Structures[trigger];
        var type = structure.StartsWith("QRY", StringComparison.Ordinal) ? "QRY" : "ADT";
        var lines = new List<string> { $"MSH|^~\\&|PAS|RTH|CAREHUB|CAREHUB|20261101090000||{type}^{trigger}^{structure}|CTL-{trigger}|P|2.5.1" };
        foreach (var segment in Segments[structure].Split(' '))
        {
            lines.Add(segment switch
            {
                "EVN" => $"EVN|{trigger}|20261101090000",
                "PID" => $"PID|1||{patient}^^^RTH^MR||EXAMPLE^ALEX||19800101|U",
                "PID2" => $"PID|2||{patient}-B^^^RTH^MR||EXAMPLE^SAM||19810202|U",
                "PD1" => "PD1|||RTH PRACTICE^^A81001",
                "PV1" => Pv1(trigger, "WARD1^BED1^^RTH", visit),
                "PV12" => Pv1(trigger, "WARD2^BED2^^RTH", visit + "-B"),
                "PV2" => "PV2|||^Chest pain",
                "MRG" => $"MRG|{patient}-OLD^^^RTH^MR||||{visit}-OLD",
                "AL1" => "AL1|1|DA|^Penicillin|SV|Rash",
                "IAM" => "IAM|1|DA|^Penicillin|SV|^Rash|A",
                "NPU" => "NPU|WARD1^BED1^^RTH|O",
                "QRD" => $"QRD|20261101090000|R|I|Q-{trigger}|||1^RD|{patient}^^^RTH^MR|DEM",
                _ => throw new InvalidOperationException(segment),
            });
        }

        return Hl7Message.Parse(string.Join('\r', lines) + "\r");
    }

    private static string Pv1(string trigger, string location, string visit)
    {
        var fields = new string[46];
        Array.Fill(fields, string.Empty);
        (fields[0], fields[1], fields[2], fields[3], fields[19], fields[44]) = ("PV1", "1", trigger == "A07" ? "O" : "I", location, visit + "^^^RTH^VN", "20261101090000");
        fields[6] = trigger == "A02" ? "WARD0^BED0^^RTH" : string.Empty;
        fields[42] = trigger == "A15" ? "WARD9^BED9^^RTH" : string.Empty;
        fields[45] = trigger == "A03" ? "20261102100000" : string.Empty;
        return string.Join('|', fields);
    }

    [Theory]
    [MemberData(nameof(Events))]
    public async Task every_adt_event_of_the_chapter_maps_to_a_transaction_the_record_accepts_or_is_refused_as_unmapped(string trigger)
    {
        var message = Build(trigger);

        if (Unmapped.Contains(trigger))
        {
            var refused = Assert.Throws<V2MappingException>(() => V2ToFhir.Map(message, V2MappingOptions.Default));
            Assert.Equal(trigger == "A19" ? Hl7ErrorCode.UnsupportedMessageType : Hl7ErrorCode.UnsupportedEventCode, refused.Code);
            return;
        }

        var result = V2ToFhir.Map(message, V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);
        var patients = result.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList();
        Assert.NotEmpty(patients);
        var encounters = result.Bundle.Entry.Select(e => e.Resource).OfType<Encounter>().ToList();
        if (Statuses.TryGetValue(trigger, out var status))
        {
            Assert.Equal(status, Assert.Single(encounters).Status);
        }

        await using var fixture = await RecordsFixture.CreateAsync();
        await V2Samples.AssertAcceptedAsync(fixture, result.Bundle);
    }

    [Fact]
    public void a_swap_writes_both_patients_each_with_its_visit_at_its_new_location()
    {
        var bundle = V2ToFhir.Map(Build("A17"), V2MappingOptions.Default).Bundle;

        var encounters = bundle.Entry.Select(e => e.Resource).OfType<Encounter>().ToList();
        Assert.Equal(2, bundle.Entry.Count(e => e.Resource is Patient));
        Assert.Equal(["WARD1, BED1, RTH", "WARD2, BED2, RTH"], encounters.Select(e => e.Location[0].Location!.Display).Order(StringComparer.Ordinal));
        Assert.NotEqual(encounters[0].Subject!.Reference, encounters[1].Subject!.Reference);
    }

    [Fact]
    public void a_pending_transfer_lists_the_pending_location_as_planned_and_its_cancel_leaves_it_out()
    {
        var pending = V2ToFhir.Map(Build("A15"), V2MappingOptions.Default).Bundle.Entry.Select(e => e.Resource).OfType<Encounter>().Single();
        var cancelled = V2ToFhir.Map(Build("A26"), V2MappingOptions.Default).Bundle.Entry.Select(e => e.Resource).OfType<Encounter>().Single();

        Assert.Contains(pending.Location, l => l.Status == Encounter.EncounterLocationStatus.Planned && l.Location!.Display!.StartsWith("WARD9", StringComparison.Ordinal));
        Assert.DoesNotContain(cancelled.Location, l => l.Status == Encounter.EncounterLocationStatus.Planned);
    }

    [Fact]
    public void a_change_of_identifiers_finds_the_patient_by_its_prior_or_new_identifier_and_gives_it_the_new_one()
    {
        var entry = V2ToFhir.Map(Build("A47"), V2MappingOptions.Default).Bundle.Entry.Single(e => e.Resource is Patient);

        var request = entry.Request!;
        Assert.Equal(Bundle.HTTPVerb.PUT, request.Method);
        var criteria = Uri.UnescapeDataString(request.Url!);
        Assert.Contains("|RTH-EV-1,", criteria, StringComparison.Ordinal);
        Assert.Contains("|RTH-EV-1-OLD", criteria, StringComparison.Ordinal);
        Assert.DoesNotContain(((Patient)entry.Resource!).Identifier, i => i.Value == "RTH-EV-1-OLD");
    }

    [Fact]
    public void a_change_of_visit_number_finds_the_visit_by_its_prior_number_and_gives_it_the_new_one()
    {
        var entry = V2ToFhir.Map(Build("A50"), V2MappingOptions.Default).Bundle.Entry.Single(e => e.Resource is Encounter);

        Assert.Contains("|VN-EV-1-OLD", Uri.UnescapeDataString(entry.Request!.Url!), StringComparison.Ordinal);
        Assert.Equal(["VN-EV-1"], ((Encounter)entry.Resource!).Identifier.Select(i => i.Value));
    }

    [Fact]
    public void a_deleted_person_is_made_inactive_not_removed()
    {
        var patient = V2ToFhir.Map(Build("A29"), V2MappingOptions.Default).Bundle.Entry.Select(e => e.Resource).OfType<Patient>().Single();

        Assert.False(patient.Active);
    }

    [Fact]
    public void an_allergy_update_adds_the_allergy_and_a_delete_marks_it_entered_in_error()
    {
        var added = V2ToFhir.Map(Build("A60"), V2MappingOptions.Default).Bundle.Entry.Select(e => e.Resource).OfType<AllergyIntolerance>().Single();
        var deleting = Hl7Message.Parse(Build("A60").Encode().Replace("|SV|^Rash|A", "|SV|^Rash|D", StringComparison.Ordinal));
        var deleted = V2ToFhir.Map(deleting, V2MappingOptions.Default).Bundle.Entry.Select(e => e.Resource).OfType<AllergyIntolerance>().Single();

        Assert.Equal("active", added.ClinicalStatus!.Coding[0].Code);
        Assert.Equal("Penicillin", added.Code!.Text ?? added.Code.Coding[0].Display);
        Assert.Equal("entered-in-error", deleted.VerificationStatus!.Coding[0].Code);
        Assert.Equal(added.Identifier[0].Value, deleted.Identifier[0].Value);
    }
}
