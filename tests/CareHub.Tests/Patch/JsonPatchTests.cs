using System.Net;
using CareHub.Records.Patch;
using Hl7.Fhir.Model;
using static CareHub.Tests.Patch.PatchTestSupport;

namespace CareHub.Tests.Patch;

public class JsonPatchTests
{
    private static Patient Apply(Patient patient, string patch) => Assert.IsType<Patient>(JsonPatch.Apply(patient, patch));

    [Fact]
    public void add_sets_a_missing_member()
    {
        var result = Apply(Patient(), """[{"op":"add","path":"/gender","value":"female"}]""");

        Assert.Equal(AdministrativeGender.Female, result.Gender);
    }

    [Fact]
    public void add_replaces_an_existing_member_as_rfc_6902_says()
    {
        var result = Apply(Patient(), """[{"op":"add","path":"/birthDate","value":"1980-02-03"}]""");

        Assert.Equal("1980-02-03", result.BirthDate);
    }

    [Fact]
    public void add_inserts_into_an_array_at_the_index()
    {
        var result = Apply(Patient(), """[{"op":"add","path":"/name/0/given/1","value":"Zoe"}]""");

        Assert.Equal(["Ann", "Zoe", "Beth"], result.Name[0].Given);
    }

    [Fact]
    public void add_with_dash_appends_to_an_array()
    {
        var result = Apply(Patient(), """[{"op":"add","path":"/telecom/-","value":{"system":"email","value":"a@example.org"}}]""");

        Assert.Equal(2, result.Telecom.Count);
        Assert.Equal(ContactPoint.ContactPointSystem.Email, result.Telecom[1].System);
    }

    [Fact]
    public void add_at_the_array_length_appends()
    {
        var result = Apply(Patient(), """[{"op":"add","path":"/identifier/2","value":{"system":"y","value":"3"}}]""");

        Assert.Equal("y", result.Identifier[2].System);
    }

    [Fact]
    public void add_beyond_the_array_length_is_unprocessable()
    {
        var e = Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"add","path":"/identifier/3","value":{"system":"y"}}]"""));

        Assert.Contains("operation 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void add_under_a_missing_parent_is_unprocessable()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"add","path":"/maritalStatus/text","value":"x"}]"""));
    }

    [Fact]
    public void remove_deletes_a_member_and_an_array_item()
    {
        var result = Apply(Patient(), """
            [{"op":"remove","path":"/birthDate"},
             {"op":"remove","path":"/identifier/0"}]
            """);

        Assert.Null(result.BirthDate);
        Assert.Equal("9434765919", Assert.Single(result.Identifier).Value);
    }

    [Theory]
    [InlineData("/gender")]
    [InlineData("/identifier/2")]
    [InlineData("/name/0/suffix/0")]
    public void remove_of_a_missing_location_is_unprocessable(string path)
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), $$"""[{"op":"remove","path":"{{path}}"}]"""));
    }

    [Fact]
    public void replace_changes_an_existing_value()
    {
        var result = Apply(Patient(), """[{"op":"replace","path":"/name/1/family","value":"Carter"}]""");

        Assert.Equal("Carter", result.Name[1].Family);
        Assert.Equal("Able", result.Name[0].Family);
    }

    [Fact]
    public void replace_of_a_missing_member_is_unprocessable()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"replace","path":"/gender","value":"male"}]"""));
    }

    [Fact]
    public void replace_of_the_whole_document_keeps_identity_rules()
    {
        var result = Apply(Patient(), """[{"op":"replace","path":"","value":{"resourceType":"Patient","id":"pat-1","active":true}}]""");

        Assert.True(result.Active);
        Assert.Empty(result.Name);
    }

    [Fact]
    public void move_reorders_an_array()
    {
        var result = Apply(Patient(), """[{"op":"move","from":"/name/1","path":"/name/0"}]""");

        Assert.Equal(["Baker", "Able"], result.Name.Select(n => n.Family));
    }

    [Fact]
    public void move_between_members_removes_the_source()
    {
        var result = Apply(Patient(), """[{"op":"move","from":"/name/1/given","path":"/name/0/prefix"}]""");

        Assert.Equal(["Cora"], result.Name[0].Prefix);
        Assert.Empty(result.Name[1].Given);
    }

    [Fact]
    public void move_from_a_missing_location_is_unprocessable()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"move","from":"/address","path":"/contact"}]"""));
    }

    [Fact]
    public void move_into_its_own_child_is_unprocessable()
    {
        var e = Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"move","from":"/name/0","path":"/name/0/given/0"}]"""));

        Assert.Contains("own children", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void copy_duplicates_a_value()
    {
        var result = Apply(Patient(), """[{"op":"copy","from":"/name/0","path":"/name/-"}]""");

        Assert.Equal(3, result.Name.Count);
        Assert.True(result.Name[2].IsExactly(result.Name[0]));
        Assert.False(ReferenceEquals(result.Name[2], result.Name[0]));
    }

    [Fact]
    public void copy_from_a_missing_location_is_unprocessable()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"copy","from":"/address/0","path":"/address/-"}]"""));
    }

    [Fact]
    public void a_passing_test_lets_later_operations_apply()
    {
        var result = Apply(Patient(), """
            [{"op":"test","path":"/birthDate","value":"1970-01-01"},
             {"op":"replace","path":"/birthDate","value":"1971-01-01"}]
            """);

        Assert.Equal("1971-01-01", result.BirthDate);
    }

    [Fact]
    public void a_failing_test_fails_the_whole_patch_naming_the_operation()
    {
        var patient = Patient();
        var e = Throws(HttpStatusCode.UnprocessableEntity, () => JsonPatch.Apply(patient, """
            [{"op":"replace","path":"/birthDate","value":"1971-01-01"},
             {"op":"test","path":"/name/0/family","value":"Other"}]
            """));

        Assert.Contains("operation 1 (test '/name/0/family')", e.Message, StringComparison.Ordinal);
        Assert.Equal("1970-01-01", patient.BirthDate);
    }

    [Fact]
    public void test_of_a_missing_location_fails()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"test","path":"/gender","value":"male"}]"""));
    }

    [Theory]
    [InlineData("/multipleBirthInteger", "2")]
    [InlineData("/multipleBirthInteger", "2.0")]
    [InlineData("/multipleBirthInteger", "20e-1")]
    [InlineData("/identifier/0", """{"value":"111","system":"x"}""")]
    [InlineData("/name/0/given", """["Ann","Beth"]""")]
    public void test_compares_json_structurally_and_numbers_by_value(string path, string value)
    {
        var result = JsonPatch.Apply(Patient(), $$"""[{"op":"test","path":"{{path}}","value":{{value}}}]""");

        Assert.True(result.IsExactly(Patient()));
    }

    [Theory]
    [InlineData("/multipleBirthInteger", "\"2\"")]
    [InlineData("/multipleBirthInteger", "3")]
    [InlineData("/identifier/0", """{"system":"x"}""")]
    [InlineData("/identifier/0", """{"value":"111","system":"x","use":"usual"}""")]
    [InlineData("/name/0/given", """["Beth","Ann"]""")]
    [InlineData("/name/0/given", """["Ann"]""")]
    [InlineData("/birthDate", "null")]
    public void test_fails_on_any_structural_difference(string path, string value)
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), $$"""[{"op":"test","path":"{{path}}","value":{{value}}}]"""));
    }

    [Fact]
    public void pointer_escapes_tilde_one_and_tilde_zero_are_unescaped_in_that_order()
    {
        // FHIR JSON has no member names with '/' or '~', so the test builds some, probes them, and removes them again.
        var result = JsonPatch.Apply(Patient(), """
            [{"op":"add","path":"/scratch","value":{"a/b":1,"c~d":2,"~1":3}},
             {"op":"test","path":"/scratch/a~1b","value":1},
             {"op":"test","path":"/scratch/c~0d","value":2},
             {"op":"test","path":"/scratch/~01","value":3},
             {"op":"remove","path":"/scratch"}]
            """);

        Assert.True(result.IsExactly(Patient()));
    }

    [Fact]
    public void an_array_index_with_a_leading_zero_is_unprocessable()
    {
        Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"replace","path":"/name/01/family","value":"X"}]"""));
    }

    [Theory]
    [InlineData("""[{"op":"replace","path":"/id","value":"other"}]""")]
    [InlineData("""[{"op":"remove","path":"/id"}]""")]
    [InlineData("""[{"op":"replace","path":"/resourceType","value":"Practitioner"}]""")]
    [InlineData("""[{"op":"replace","path":"","value":{"resourceType":"Patient","id":"pat-2"}}]""")]
    public void changing_id_or_resource_type_is_refused(string patch)
    {
        var e = Throws(HttpStatusCode.UnprocessableEntity, () => JsonPatch.Apply(Patient(), patch));

        Assert.Contains("operation 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void replacing_id_with_the_same_value_is_allowed()
    {
        var result = JsonPatch.Apply(Patient(), """[{"op":"replace","path":"/id","value":"pat-1"}]""");

        Assert.Equal("pat-1", result.Id);
    }

    [Fact]
    public void a_result_with_an_invalid_value_is_unprocessable_naming_the_element_but_not_the_value()
    {
        var e = Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(Patient(), """[{"op":"replace","path":"/birthDate","value":"Secretvalue"}]"""));

        Assert.Equal("Patient.birthDate", e.Issues[0].Expression);
        Assert.Contains("Patient.birthDate", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Secretvalue", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"op":"add","path":"/favouriteColour","value":"blue"}]""", "Patient.favouriteColour")]
    [InlineData("""[{"op":"replace","path":"/multipleBirthInteger","value":"two"}]""", "Patient.multipleBirth")]
    [InlineData("""[{"op":"add","path":"/gender","value":"martian"}]""", "Patient.gender")]
    [InlineData("""[{"op":"replace","path":"/name","value":"Ann"}]""", "Patient.name")]
    public void a_result_that_is_not_a_valid_resource_is_unprocessable(string patch, string? element)
    {
        var e = Throws(HttpStatusCode.UnprocessableEntity, () => JsonPatch.Apply(Patient(), patch));

        if (element is not null)
        {
            Assert.Contains(element, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void removing_a_required_element_is_unprocessable()
    {
        var observation = new Observation
        {
            Id = "obs-1",
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8302-2"),
        };

        var e = Throws(HttpStatusCode.UnprocessableEntity,
            () => JsonPatch.Apply(observation, """[{"op":"remove","path":"/status"}]"""));

        Assert.Contains("Observation.status", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"op":"remove","path":"/birthDate"}""", "array")]
    [InlineData("""[{"op":"remove","path":"/gender"}, 5]""", "operation 1")]
    [InlineData("""[{"path":"/birthDate"}]""", "'op'")]
    [InlineData("""[{"op":"delete","path":"/birthDate"}]""", "'op'")]
    [InlineData("""[{"op":7,"path":"/birthDate"}]""", "'op'")]
    [InlineData("""[{"op":"remove"}]""", "'path'")]
    [InlineData("""[{"op":"remove","path":"birthDate"}]""", "'path'")]
    [InlineData("""[{"op":"remove","path":"/a~2b"}]""", "'~'")]
    [InlineData("""[{"op":"remove","path":"/a~"}]""", "'~'")]
    [InlineData("""[{"op":"add","path":"/gender"}]""", "'value'")]
    [InlineData("""[{"op":"replace","path":"/gender"}]""", "'value'")]
    [InlineData("""[{"op":"test","path":"/gender"}]""", "'value'")]
    [InlineData("""[{"op":"move","path":"/name/0"}]""", "'from'")]
    [InlineData("""[{"op":"copy","path":"/name/0","from":3}]""", "'from'")]
    public void a_malformed_document_is_a_bad_request_naming_the_problem(string patch, string named)
    {
        var e = Throws(HttpStatusCode.BadRequest, () => JsonPatch.Apply(Patient(), patch));

        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"op":"remove","op":"add","path":"/birthDate","value":"1980"}]""")]
    [InlineData("""[{"op":"add","path":"/scratch","value":{"a":1,"a":2}}]""")]
    public void a_document_with_duplicate_member_names_is_a_bad_request(string patch)
    {
        Throws(HttpStatusCode.BadRequest, () => JsonPatch.Apply(Patient(), patch));
    }

    [Fact]
    public void a_malformed_later_operation_is_reported_before_anything_is_applied()
    {
        var e = Throws(HttpStatusCode.BadRequest, () => JsonPatch.Apply(Patient(), """
            [{"op":"remove","path":"/gender"},
             {"op":"jump","path":"/birthDate"}]
            """));

        Assert.Contains("operation 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void unknown_members_of_an_operation_are_ignored()
    {
        var result = Apply(Patient(), """[{"op":"remove","path":"/birthDate","value":"ignored","comment":"x"}]""");

        Assert.Null(result.BirthDate);
    }

    [Fact]
    public void an_empty_patch_returns_an_equal_but_separate_resource()
    {
        var patient = Patient();

        var result = JsonPatch.Apply(patient, "[]");

        Assert.True(result.IsExactly(patient));
        Assert.False(ReferenceEquals(result, patient));
    }

    [Fact]
    public void the_input_resource_is_unchanged_by_a_successful_patch()
    {
        var patient = Patient();
        var before = Json(patient);

        Apply(patient, """
            [{"op":"replace","path":"/birthDate","value":"1999-09-09"},
             {"op":"remove","path":"/name/0/given/0"},
             {"op":"move","from":"/identifier/1","path":"/identifier/0"},
             {"op":"add","path":"/active","value":true}]
            """);

        Assert.Equal(before, Json(patient));
    }

    [Fact]
    public void every_resource_of_a_synthea_bundle_survives_an_empty_patch_unchanged()
    {
        var folder = SharedData() is { } data ? Path.Combine(data, "synthea") : null;
        if (folder is null || !Directory.Exists(folder))
        {
            Assert.Skip("shared/data/synthea is not on this machine; it holds the real-shaped resources this test round-trips.");
        }

        var file = Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).First(f => !Path.GetFileName(f).StartsWith("hospital", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("practitioner", StringComparison.Ordinal));
        var bundle = System.Text.Json.JsonSerializer.Deserialize<Bundle>(File.ReadAllText(file), FhirJson)!;
        var resources = bundle.Entry.Select(e => e.Resource).OfType<Resource>().ToList();
        Assert.NotEmpty(resources);

        foreach (var resource in resources)
        {
            Assert.True(JsonPatch.Apply(resource, "[]").IsExactly(resource), resource.TypeName + "/" + resource.Id);
            Assert.True(FhirPathPatch.Apply(resource, new Parameters()).IsExactly(resource), resource.TypeName + "/" + resource.Id);
        }
    }
}
