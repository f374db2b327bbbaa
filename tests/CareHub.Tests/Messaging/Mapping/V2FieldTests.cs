using CareHub.Hl7v2;
using CareHub.Identity;
using CareHub.Messaging.Mapping;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging.Mapping;

/// <summary>Field-level maps: dates with their precision and offsets, names, identifiers and OBX value types.</summary>
public sealed class V2FieldTests
{
    private static readonly TimeZoneInfo London = V2MappingOptions.Default.SenderTimeZone;

    private static Hl7Element Field(string segment, int field) => Hl7Message.Parse("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5.1\r" + segment).Segments[1][field];

    // ---- dates ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("2024", "2024")]
    [InlineData("202403", "2024-03")]
    [InlineData("20240305", "2024-03-05")]
    [InlineData("2024030510", "2024-03-05T10:00:00+00:00")]
    [InlineData("202403051030", "2024-03-05T10:30:00+00:00")]
    [InlineData("20240705103015", "2024-07-05T10:30:15+01:00")]
    [InlineData("20240305103015.1234-0500", "2024-03-05T10:30:15.1234-05:00")]
    [InlineData("202403051030+0215", "2024-03-05T10:30:00+02:15")]
    public void a_date_time_keeps_its_precision_and_takes_the_senders_offset_when_none_is_sent(string hl7, string fhir)
    {
        Assert.Equal(fhir, V2Types.FhirDateTime(Hl7DateTime.Parse(hl7), London));
        Assert.True(FhirDateTime.IsValidValue(fhir));
    }

    [Fact]
    public void a_birth_date_drops_the_time_and_an_instant_needs_at_least_the_minute()
    {
        Assert.Equal("1980-02-14", V2Types.FhirDate(Hl7DateTime.Parse("198002140930")));
        Assert.Null(V2Types.Instant(Hl7DateTime.Parse("19800214"), London));
        Assert.Equal(new DateTimeOffset(1980, 2, 14, 9, 30, 0, TimeSpan.Zero), V2Types.Instant(Hl7DateTime.Parse("198002140930"), London));
    }

    [Fact]
    public void a_birth_time_goes_into_the_birth_time_extension()
    {
        var result = V2ToFhir.Map(V2Messages.Adt("A04").Also(m => m.Set("PID-7", "198002140930")), V2MappingOptions.Default);

        var patient = result.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().Single();
        Assert.Equal("1980-02-14", patient.BirthDate);
        var birthTime = Assert.Single(patient.BirthDateElement!.Extension);
        Assert.Equal("1980-02-14T09:30:00+00:00", Assert.IsType<FhirDateTime>(birthTime.Value).Value);
    }

    // ---- names ---------------------------------------------------------------------------------------------------

    [Fact]
    public void a_person_name_maps_family_given_prefix_suffix_and_use()
    {
        var name = V2Types.Name(Field("PID|1||X||SMITH&&&&Aniston^JANE^ANN^JR^MRS^MBE^L", 5).Repetition(1));

        Assert.NotNull(name);
        Assert.Equal("SMITH", name.Family);
        Assert.Equal(["JANE", "ANN"], name.Given);
        Assert.Equal(["MRS"], name.Prefix);
        Assert.Equal(["JR", "MBE"], name.Suffix);
        Assert.Equal(HumanName.NameUse.Official, name.Use);
    }

    [Theory]
    [InlineData("L", HumanName.NameUse.Official)]
    [InlineData("D", HumanName.NameUse.Usual)]
    [InlineData("M", HumanName.NameUse.Maiden)]
    [InlineData("N", HumanName.NameUse.Nickname)]
    [InlineData("B", HumanName.NameUse.Old)]
    public void a_name_type_maps_to_a_name_use(string code, HumanName.NameUse use) => Assert.Equal(use, V2Types.NameUse(code));

    [Fact]
    public void an_empty_name_maps_to_nothing() => Assert.Null(V2Types.Name(Field("PID|1||X||^^^^MR", 5)));

    // ---- identifiers ---------------------------------------------------------------------------------------------

    private static Identifier? Cx(string cx, out bool isNhs) =>
        V2Identifiers.FromCx(Hl7Identifier.From(Field("PID|1||" + cx, 3)), "RX1", "patient-id", V2MappingOptions.Default, out isNhs);

    [Theory]
    [InlineData("{0}^^^NHS^NH")]
    [InlineData("{0}^^^^NH")]
    [InlineData("{0}^^^NHS")]
    [InlineData("{0}^^^NHSNBR^NHSNMBR")]
    public void an_nhs_number_by_type_or_authority_maps_to_the_nhs_system(string cx)
    {
        var identifier = Cx(string.Format(System.Globalization.CultureInfo.InvariantCulture, cx, V2Messages.NhsNumber), out var isNhs);

        Assert.True(isNhs);
        Assert.Equal(NhsNumber.IdentifierSystem, identifier!.System);
        Assert.Equal(V2Messages.NhsNumber, identifier.Value);
    }

    [Fact]
    public void an_nhs_number_with_spaces_is_standardised()
    {
        var spaced = NhsNumber.Parse(V2Messages.NhsNumber).ToDisplayString();

        var identifier = Cx(spaced + "^^^NHS^NH", out var isNhs);

        Assert.True(isNhs);
        Assert.Equal(V2Messages.NhsNumber, identifier!.Value);
    }

    [Fact]
    public void a_number_failing_the_nhs_check_digit_is_not_put_under_the_nhs_system()
    {
        var bad = V2Messages.NhsNumber[..9] + (char)('0' + ((V2Messages.NhsNumber[9] - '0' + 1) % 10));

        var identifier = Cx(bad + "^^^NHS^NH", out var isNhs);

        Assert.False(isNhs);
        Assert.NotEqual(NhsNumber.IdentifierSystem, identifier!.System);
        Assert.Equal("https://fhir.carehub.local/Id/nhs", identifier.System);
    }

    [Theory]
    [InlineData("H123^^^RX1&2.16.840.1.113883.2.1.3.2&ISO^MR", "urn:oid:2.16.840.1.113883.2.1.3.2")]
    [InlineData("H123^^^GOOD HEALTH HOSPITAL^MR", "https://fhir.carehub.local/Id/good-health-hospital")]
    [InlineData("H123^^^^MR", "https://fhir.carehub.local/Id/rx1/mr")]
    [InlineData("H123", "https://fhir.carehub.local/Id/rx1/patient-id")]
    [InlineData("H123^^^&a3a6b7f2-8f4e-4a51-9d2c-2a2f1f0c9d11&UUID", "urn:uuid:a3a6b7f2-8f4e-4a51-9d2c-2a2f1f0c9d11")]
    public void a_local_identifier_keeps_its_authority_as_the_system(string cx, string system)
    {
        var identifier = Cx(cx, out var isNhs);

        Assert.False(isNhs);
        Assert.Equal(system, identifier!.System);
        Assert.Equal("H123", identifier.Value);
    }

    [Fact]
    public void an_ods_sending_facility_becomes_an_organization_created_by_its_ods_code()
    {
        var result = V2ToFhir.Map(V2Messages.Adt("A01"), V2MappingOptions.Default);

        var entry = Assert.Single(result.Bundle.Entry, e => e.Resource is Organization);
        var organization = (Organization)entry.Resource!;
        Assert.Equal("https://fhir.nhs.uk/Id/ods-organization-code", Assert.Single(organization.Identifier).System);
        Assert.Equal("RX1", organization.Identifier[0].Value);
        Assert.Equal(Bundle.HTTPVerb.POST, entry.Request!.Method);
        Assert.Equal("identifier=" + Uri.EscapeDataString("https://fhir.nhs.uk/Id/ods-organization-code|RX1"), entry.Request!.IfNoneExist);
    }

    [Fact]
    public void the_patient_and_encounter_are_written_by_conditional_update_on_nhs_number_or_mrn_and_visit_number_within_the_feeds_own_records()
    {
        var source = "https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/RX1";
        var result = V2ToFhir.Map(V2Messages.Adt("A01"), V2MappingOptions.Default with { Source = source });

        var patient = Assert.Single(result.Bundle.Entry, e => e.Resource is Patient);
        Assert.Equal(Bundle.HTTPVerb.PUT, patient.Request!.Method);
        Assert.Equal(
            "Patient?identifier=" + Uri.EscapeDataString($"https://fhir.nhs.uk/Id/nhs-number|{V2Messages.NhsNumber},https://fhir.carehub.local/Id/rx1|H123456")
            + "&_source=" + Uri.EscapeDataString(source),
            patient.Request!.Url);
        Assert.Equal(source, patient.Resource!.Meta!.Source);
        var encounter = Assert.Single(result.Bundle.Entry, e => e.Resource is Encounter);
        Assert.Equal("Encounter?identifier=" + Uri.EscapeDataString("https://fhir.carehub.local/Id/rx1|V0001") + "&_source=" + Uri.EscapeDataString(source), encounter.Request!.Url);
        Assert.Equal(patient.FullUrl, ((Encounter)encounter.Resource!).Subject!.Reference);
        Assert.StartsWith("urn:uuid:", patient.FullUrl, StringComparison.Ordinal);
    }

    [Fact]
    public void without_a_configured_source_the_keys_are_scoped_to_the_sending_facility()
    {
        var result = V2ToFhir.Map(V2Messages.Adt("A01"), V2MappingOptions.Default);

        var patient = Assert.Single(result.Bundle.Entry, e => e.Resource is Patient);
        Assert.EndsWith("&_source=" + Uri.EscapeDataString("urn:carehub:hl7v2-sender:rx1"), patient.Request!.Url, StringComparison.Ordinal);
    }

    [Fact]
    public void search_special_characters_in_an_identifier_are_escaped_in_the_conditional_url()
    {
        var criteria = TransactionBuilder.Criteria("Patient", [new Identifier("urn:x", "a,b|c")]);

        Assert.Equal("Patient?identifier=" + Uri.EscapeDataString("urn:x|a\\,b\\|c"), criteria);
    }

    // ---- codes ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("718-7^Haemoglobin^LN", "http://loinc.org")]
    [InlineData("27268008^Salmonella^SCT", "http://snomed.info/sct")]
    [InlineData("M^Married^HL70002", "http://terminology.hl7.org/CodeSystem/v2-0002")]
    [InlineData("HB^Haemoglobin^L", "https://fhir.carehub.local/CodeSystem/rx1/l")]
    [InlineData("HB^Haemoglobin^99LAB", "https://fhir.carehub.local/CodeSystem/rx1/99lab")]
    [InlineData("HB^Haemoglobin^WINPATH", "https://fhir.carehub.local/CodeSystem/winpath")]
    public void a_coding_system_name_maps_to_a_system_uri(string cwe, string system)
    {
        var concept = V2Codes.Concept(Field("OBX|1|CWE|" + cwe, 3), V2MappingOptions.Default, sender: "RX1");

        Assert.Equal(system, Assert.Single(concept!.Coding).System);
    }

    // ---- OBX value types -----------------------------------------------------------------------------------------

    private static Observation Obx(string obx)
    {
        var result = V2ToFhir.Map(V2Messages.Oru(obx), V2MappingOptions.Default);
        V2Samples.AssertStructurallyValid(result.Bundle);
        return result.Bundle.Entry.Select(e => e.Resource).OfType<Observation>().Single();
    }

    [Fact]
    public void a_numeric_result_with_ucum_units_is_a_ucum_quantity()
    {
        var observation = Obx("OBX|1|NM|718-7^Haemoglobin^LN||135|g/L^grams per litre^UCUM|115-165|L|||F|||20250301093000");

        var quantity = Assert.IsType<Quantity>(observation.Value);
        Assert.Equal(135m, quantity.Value);
        Assert.Equal("http://unitsofmeasure.org", quantity.System);
        Assert.Equal("g/L", quantity.Code);
        Assert.Equal("grams per litre", quantity.Unit);
        Assert.Equal(ObservationStatus.Final, observation.Status);
        Assert.Equal("http://loinc.org", observation.Code!.Coding[0].System);
        Assert.Equal("2025-03-01T09:30:00+00:00", Assert.IsType<FhirDateTime>(observation.Effective).Value);
        var range = Assert.Single(observation.ReferenceRange);
        Assert.Equal(115m, range.Low!.Value);
        Assert.Equal(165m, range.High!.Value);
        Assert.Equal("115-165", range.Text);
        var interpretation = Assert.Single(Assert.Single(observation.Interpretation).Coding);
        Assert.Equal("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", interpretation.System);
        Assert.Equal("L", interpretation.Code);
    }

    [Fact]
    public void a_numeric_result_with_units_not_declared_ucum_keeps_the_unit_as_text_only()
    {
        var quantity = Assert.IsType<Quantity>(Obx("OBX|1|NM|8867-4^Heart rate^LN||72|beats/min^^ISO+||||F").Value);

        Assert.Equal("beats/min", quantity.Unit);
        Assert.Null(quantity.System);
        Assert.Null(quantity.Code);
    }

    [Fact]
    public void text_results_map_to_strings_with_repetitions_and_formatted_line_breaks_as_new_lines()
    {
        Assert.Equal("Sample haemolysed", Assert.IsType<FhirString>(Obx("OBX|1|ST|X1^Comment^L||Sample haemolysed||||||F").Value).Value);
        Assert.Equal("line one\nline two", Assert.IsType<FhirString>(Obx("OBX|1|TX|X1^Comment^L||line one~line two||||||F").Value).Value);
        Assert.Equal("first\nsecond", Assert.IsType<FhirString>(Obx("OBX|1|FT|X1^Comment^L||first\\.br\\second||||||F").Value).Value);
    }

    [Fact]
    public void a_coded_result_is_a_codeable_concept()
    {
        var concept = Assert.IsType<CodeableConcept>(Obx("OBX|1|CWE|625-4^Culture^LN||27268008^Salmonella^SCT^^^^^^Salmonella species||||||P").Value);

        Assert.Equal("http://snomed.info/sct", concept.Coding[0].System);
        Assert.Equal("27268008", concept.Coding[0].Code);
        Assert.Equal("Salmonella species", concept.Text);
    }

    [Fact]
    public void date_and_time_results_keep_their_precision()
    {
        Assert.Equal("2025-02-28", Assert.IsType<FhirDateTime>(Obx("OBX|1|DT|X2^Date^L||20250228||||||F").Value).Value);
        Assert.Equal("2025-02-28T14:05:00+00:00", Assert.IsType<FhirDateTime>(Obx("OBX|1|TS|X2^When^L||202502281405||||||F").Value).Value);
        Assert.Equal("14:05:00", Assert.IsType<Time>(Obx("OBX|1|TM|X2^Time^L||1405||||||F").Value).Value);
    }

    [Fact]
    public void structured_numerics_map_to_quantity_with_comparator_range_or_ratio()
    {
        var less = Assert.IsType<Quantity>(Obx("OBX|1|SN|X3^eGFR^L||>^90|mL/min/{1.73_m2}^^UCUM||||F").Value);
        Assert.Equal(Quantity.QuantityComparator.GreaterThan, less.Comparator);
        Assert.Equal(90m, less.Value);

        var range = Assert.IsType<Hl7.Fhir.Model.Range>(Obx("OBX|1|SN|X3^Count^L||^10^-^20|/HPF^^UCUM||||F").Value);
        Assert.Equal(10m, range.Low!.Value);
        Assert.Equal(20m, range.High!.Value);

        var ratio = Assert.IsType<Ratio>(Obx("OBX|1|SN|X3^Titre^L||^1^:^128||||||F").Value);
        Assert.Equal(1m, ratio.Numerator!.Value);
        Assert.Equal(128m, ratio.Denominator!.Value);
    }

    [Theory]
    [InlineData("F", ObservationStatus.Final)]
    [InlineData("P", ObservationStatus.Preliminary)]
    [InlineData("C", ObservationStatus.Corrected)]
    [InlineData("W", ObservationStatus.EnteredInError)]
    [InlineData("X", ObservationStatus.Cancelled)]
    [InlineData("", ObservationStatus.Unknown)]
    public void the_result_status_maps_from_table_0085(string code, ObservationStatus status) =>
        Assert.Equal(status, Obx($"OBX|1|NM|718-7^Haemoglobin^LN||135|g/L^^UCUM|||||{code}").Status);

    [Fact]
    public void a_non_numeric_nm_value_is_kept_as_text_with_a_warning()
    {
        var result = V2ToFhir.Map(V2Messages.Oru("OBX|1|NM|718-7^Haemoglobin^LN||<5|g/L^^UCUM|||||F"), V2MappingOptions.Default);

        var observation = result.Bundle.Entry.Select(e => e.Resource).OfType<Observation>().Single();
        Assert.Equal("<5", Assert.IsType<FhirString>(observation.Value).Value);
        Assert.Contains(result.Warnings, w => w.Location.SegmentId == "OBX" && w.Code == Hl7ErrorCode.DataTypeError);
    }

    [Fact]
    public void an_encapsulated_pdf_becomes_the_reports_presented_form()
    {
        var result = V2ToFhir.Map(V2Messages.Oru("OBX|1|ED|PDF^Report^L||^application^pdf^Base64^JVBERi0xLjQK||||||F"), V2MappingOptions.Default);

        var report = result.Bundle.Entry.Select(e => e.Resource).OfType<DiagnosticReport>().Single();
        var form = Assert.Single(report.PresentedForm);
        Assert.Equal("application/pdf", form.ContentType);
        Assert.Equal("%PDF-1.4\n"u8.ToArray(), form.Data);
        Assert.Empty(result.Bundle.Entry.Select(e => e.Resource).OfType<Observation>());
    }
}

/// <summary>Small fluent helper for building test variations of a message.</summary>
internal static class HelperExtensions
{
    public static T Also<T>(this T value, Action<T> change)
    {
        change(value);
        return value;
    }
}
