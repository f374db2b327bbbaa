using System.Net;
using System.Text.Json;
using CareHub.Fhir;
using CareHub.Records.Patch;
using Hl7.Fhir.Model;
using static CareHub.Tests.Patch.PatchTestSupport;

namespace CareHub.Tests.Patch;

public class FhirPathPatchTests
{
    private static Parameters.ParameterComponent Part(string name, DataType value) => new() { Name = name, Value = value };

    private static Parameters.ParameterComponent Part(string name, params Parameters.ParameterComponent[] parts) =>
        new() { Name = name, Part = [.. parts] };

    private static Parameters.ParameterComponent Op(
        string type,
        string path,
        string? name = null,
        DataType? value = null,
        int? index = null,
        int? source = null,
        int? destination = null,
        Parameters.ParameterComponent? valuePart = null)
    {
        var op = new Parameters.ParameterComponent { Name = "operation" };
        op.Part.Add(Part("type", new Code(type)));
        op.Part.Add(Part("path", new FhirString(path)));
        if (name is not null)
        {
            op.Part.Add(Part("name", new FhirString(name)));
        }

        if (value is not null)
        {
            op.Part.Add(Part("value", value));
        }

        if (valuePart is not null)
        {
            op.Part.Add(valuePart);
        }

        if (index is not null)
        {
            op.Part.Add(Part("index", new Integer(index)));
        }

        if (source is not null)
        {
            op.Part.Add(Part("source", new Integer(source)));
        }

        if (destination is not null)
        {
            op.Part.Add(Part("destination", new Integer(destination)));
        }

        return op;
    }

    private static Parameters Patch(params Parameters.ParameterComponent[] operations) => new() { Parameter = [.. operations] };

    private static Patient Apply(Patient patient, params Parameters.ParameterComponent[] operations) =>
        Assert.IsType<Patient>(FhirPathPatch.Apply(patient, Patch(operations)));

    private static FhirException Fails(HttpStatusCode status, Resource resource, params Parameters.ParameterComponent[] operations) =>
        Throws(status, () => FhirPathPatch.Apply(resource, Patch(operations)));

    private static Parameters ParseParameters(string json) => JsonSerializer.Deserialize<Parameters>(json, FhirJson)!;

    // The examples of FHIR R4 fhirpatch.html, as JSON.

    [Fact]
    public void spec_example_add_sets_the_birth_date()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"add"},
              {"name":"path","valueString":"Patient"},
              {"name":"name","valueString":"birthDate"},
              {"name":"value","valueDate":"1930-01-01"}]}]}
            """);
        var patient = Patient();
        patient.BirthDate = null;

        var result = (Patient)FhirPathPatch.Apply(patient, patch);

        Assert.Equal("1930-01-01", result.BirthDate);
    }

    [Fact]
    public void spec_example_insert_puts_an_identifier_first()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"insert"},
              {"name":"path","valueString":"Patient.identifier"},
              {"name":"index","valueInteger":0},
              {"name":"value","valueIdentifier":{"system":"http://example.org","value":"value 3"}}]}]}
            """);

        var result = (Patient)FhirPathPatch.Apply(Patient(), patch);

        Assert.Equal(["http://example.org", "x", "https://fhir.nhs.uk/Id/nhs-number"], result.Identifier.Select(i => i.System));
    }

    [Fact]
    public void spec_example_delete_removes_the_birth_date()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"delete"},
              {"name":"path","valueString":"Patient.birthDate"}]}]}
            """);

        var result = (Patient)FhirPathPatch.Apply(Patient(), patch);

        Assert.Null(result.BirthDate);
    }

    [Fact]
    public void spec_example_replace_changes_the_birth_date()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"replace"},
              {"name":"path","valueString":"Patient.birthDate"},
              {"name":"value","valueDate":"1930-01-01"}]}]}
            """);

        var result = (Patient)FhirPathPatch.Apply(Patient(), patch);

        Assert.Equal("1930-01-01", result.BirthDate);
    }

    [Fact]
    public void spec_example_move_swaps_two_identifiers()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"move"},
              {"name":"path","valueString":"Patient.identifier"},
              {"name":"source","valueInteger":1},
              {"name":"destination","valueInteger":0}]}]}
            """);

        var result = (Patient)FhirPathPatch.Apply(Patient(), patch);

        Assert.Equal(["https://fhir.nhs.uk/Id/nhs-number", "x"], result.Identifier.Select(i => i.System));
    }

    [Fact]
    public void spec_example_add_builds_an_anonymous_element_from_parts()
    {
        var patch = ParseParameters("""
            {"resourceType":"Parameters","parameter":[{"name":"operation","part":[
              {"name":"type","valueCode":"add"},
              {"name":"path","valueString":"Patient"},
              {"name":"name","valueString":"contact"},
              {"name":"value","part":[{"name":"name","valueHumanName":{"text":"a name"}}]}]}]}
            """);

        var result = (Patient)FhirPathPatch.Apply(Patient(), patch);

        Assert.Equal("a name", Assert.Single(result.Contact).Name!.Text);
    }

    // add

    [Fact]
    public void add_appends_a_telecom()
    {
        var result = Apply(Patient(), Op("add", "Patient", "telecom",
            new ContactPoint(ContactPoint.ContactPointSystem.Email, null, "a@example.org")));

        Assert.Equal(2, result.Telecom.Count);
        Assert.Equal("a@example.org", result.Telecom[1].Value);
    }

    [Fact]
    public void add_to_a_nested_element_appends_there()
    {
        var result = Apply(Patient(), Op("add", "Patient.name[1]", "given", new FhirString("Dee")));

        Assert.Equal(["Cora", "Dee"], result.Name[1].Given);
        Assert.Equal(["Ann", "Beth"], result.Name[0].Given);
    }

    [Fact]
    public void add_of_a_singular_element_that_has_a_value_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "birthDate", new Date("1930-01-01")));

        Assert.Contains("already has a value", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void add_converts_a_plain_code_to_the_bound_code_type()
    {
        var result = Apply(Patient(), Op("add", "Patient", "gender", new Code("female")));

        Assert.Equal(AdministrativeGender.Female, result.Gender);
    }

    [Fact]
    public void add_of_a_code_outside_the_required_value_set_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "gender", new Code("martian")));
    }

    [Fact]
    public void add_of_a_choice_element_takes_any_of_its_types()
    {
        var result = Apply(Patient(), Op("add", "Patient", "deceased", new FhirDateTime("2020-01-01")));

        Assert.Equal("2020-01-01", Assert.IsType<FhirDateTime>(result.Deceased).Value);
    }

    [Fact]
    public void add_by_a_choice_elements_typed_name_needs_that_type()
    {
        var result = Apply(Patient(), Op("add", "Patient", "deceasedBoolean", new FhirBoolean(true)));
        Assert.True(Assert.IsType<FhirBoolean>(result.Deceased).Value);

        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "deceasedBoolean", new FhirDateTime("2020-01-01")));
    }

    [Fact]
    public void add_of_a_type_the_choice_does_not_allow_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "deceased", new FhirString("yes")));
    }

    [Fact]
    public void add_of_an_unknown_element_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "favouriteColour", new FhirString("blue")));

        Assert.Contains("'favouriteColour' is not an element of Patient", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void add_builds_nested_parts_with_repeats_and_choices()
    {
        var contact = Part("value",
            Part("relationship", new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0131", "N")),
            Part("name", new HumanName { Family = "Kin" }),
            Part("telecom", new ContactPoint(ContactPoint.ContactPointSystem.Phone, null, "0200")),
            Part("telecom", new ContactPoint(ContactPoint.ContactPointSystem.Email, null, "k@example.org")),
            Part("period", Part("start", new FhirDateTime("2020-01-01"))));

        var result = Apply(Patient(), Op("add", "Patient", "contact", valuePart: contact));

        var added = Assert.Single(result.Contact);
        Assert.Equal("Kin", added.Name!.Family);
        Assert.Equal(2, added.Telecom.Count);
        Assert.Equal("2020-01-01", added.Period!.Start);
    }

    [Fact]
    public void add_an_extension_from_parts()
    {
        var extension = Part("value",
            Part("url", new FhirUri("https://example.org/ext")),
            Part("value", new FhirString("note")));

        var result = Apply(Patient(), Op("add", "Patient", "extension", valuePart: extension));

        var added = Assert.Single(result.Extension);
        Assert.Equal("https://example.org/ext", added.Url);
        Assert.Equal("note", Assert.IsType<FhirString>(added.Value).Value);
    }

    [Fact]
    public void parts_naming_an_unknown_child_are_unprocessable()
    {
        var contact = Part("value", Part("nickname", new FhirString("K")));

        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "contact", valuePart: contact));

        Assert.Contains("'nickname' is not an element of Patient.contact", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void parts_giving_a_non_repeating_child_twice_are_unprocessable()
    {
        var contact = Part("value", Part("gender", new Code("male")), Part("gender", new Code("female")));

        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "contact", valuePart: contact));
    }

    [Fact]
    public void a_value_of_the_wrong_type_for_a_backbone_element_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient", "contact", new HumanName { Family = "Kin" }));
    }

    [Fact]
    public void add_where_the_path_matches_nothing_or_many_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient.contact", "gender", new Code("male")));
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("add", "Patient.name", "given", new FhirString("Dee")));
    }

    [Fact]
    public void add_an_extension_to_a_primitive_element()
    {
        var extension = Part("value",
            Part("url", new FhirUri("http://hl7.org/fhir/StructureDefinition/patient-birthTime")),
            Part("valueDateTime", new FhirDateTime("1970-01-01T08:30:00Z")));

        var result = Apply(Patient(), Op("add", "Patient.birthDate", "extension", valuePart: extension));

        Assert.Equal("1970-01-01", result.BirthDate);
        Assert.Equal("1970-01-01T08:30:00Z", Assert.IsType<FhirDateTime>(Assert.Single(result.BirthDateElement!.Extension).Value).Value);
    }

    [Fact]
    public void a_path_that_fails_to_evaluate_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("delete", "Patient.name.single()"));

        Assert.Contains("operation 0 (delete)", e.Message, StringComparison.Ordinal);
    }

    // insert

    [Fact]
    public void insert_puts_a_name_at_the_index()
    {
        var result = Apply(Patient(), Op("insert", "Patient.name", value: new HumanName { Family = "Middle" }, index: 1));

        Assert.Equal(["Able", "Middle", "Baker"], result.Name.Select(n => n.Family));
    }

    [Fact]
    public void insert_at_the_list_length_appends()
    {
        var result = Apply(Patient(), Op("insert", "Patient.name[0].given", value: new FhirString("Cat"), index: 2));

        Assert.Equal(["Ann", "Beth", "Cat"], result.Name[0].Given);
    }

    [Fact]
    public void insert_into_an_empty_list_at_zero_creates_it()
    {
        var result = Apply(Patient(), Op("insert", "Patient.address", value: new Address { City = "Leeds" }, index: 0));

        Assert.Equal("Leeds", Assert.Single(result.Address).City);
    }

    [Fact]
    public void insert_beyond_the_list_length_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("insert", "Patient.name", value: new HumanName { Family = "X" }, index: 3));

        Assert.Contains("index 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void insert_into_a_non_repeating_element_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("insert", "Patient.birthDate", value: new Date("1930"), index: 0));

        Assert.Contains("not a repeating element", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void insert_of_the_wrong_type_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("insert", "Patient.identifier", value: new HumanName(), index: 0));
    }

    // delete

    [Fact]
    public void delete_removes_the_identifier_a_where_clause_selects()
    {
        var result = Apply(Patient(), Op("delete", "Patient.identifier.where(system='x')"));

        Assert.Equal("https://fhir.nhs.uk/Id/nhs-number", Assert.Single(result.Identifier).System);
    }

    [Fact]
    public void delete_of_a_list_item_by_index()
    {
        var result = Apply(Patient(), Op("delete", "Patient.name[0].given[0]"));

        Assert.Equal(["Beth"], result.Name[0].Given);
    }

    [Fact]
    public void delete_of_nothing_is_a_no_op()
    {
        var patient = Patient();

        var result = Apply(patient, Op("delete", "Patient.identifier.where(system='nope')"));

        Assert.True(result.IsExactly(patient));
    }

    [Fact]
    public void delete_of_more_than_one_element_is_unprocessable_without_quoting_the_path()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("delete", "Patient.name.where(family.exists() or given = 'Secretname')"));

        Assert.Contains("2 matches", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Secretname", e.Message, StringComparison.Ordinal);
        Assert.Equal("Parameters.parameter[0]", e.Issues[0].Expression);
    }

    [Fact]
    public void delete_of_the_whole_resource_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("delete", "Patient"));
    }

    [Fact]
    public void delete_of_a_computed_value_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("delete", "Patient.identifier.count()"));

        Assert.Contains("not an element of the resource", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void delete_that_empties_an_element_drops_it()
    {
        var result = Apply(Patient(), Op("delete", "Patient.name[1].given"), Op("delete", "Patient.name[1].family"));

        Assert.Equal(["Able"], result.Name.Select(n => n.Family));
    }

    [Fact]
    public void delete_of_a_required_element_leaves_an_invalid_resource_and_is_unprocessable()
    {
        var observation = new Observation
        {
            Id = "obs-1",
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8302-2"),
        };

        var e = Fails(HttpStatusCode.UnprocessableEntity, observation, Op("delete", "Observation.status"));

        Assert.Contains("Observation.status", e.Message, StringComparison.Ordinal);
    }

    // replace

    [Fact]
    public void replace_changes_one_item_of_a_list()
    {
        var result = Apply(Patient(), Op("replace", "Patient.name[0].given[1]", value: new FhirString("Bea")));

        Assert.Equal(["Ann", "Bea"], result.Name[0].Given);
    }

    [Fact]
    public void replace_of_a_whole_complex_element()
    {
        var result = Apply(Patient(), Op("replace", "Patient.identifier.where(system='x')", value: new Identifier("z", "9")));

        Assert.Equal(["z", "https://fhir.nhs.uk/Id/nhs-number"], result.Identifier.Select(i => i.System));
    }

    [Fact]
    public void replace_of_a_choice_element_can_change_its_type()
    {
        var result = Apply(Patient(), Op("replace", "Patient.multipleBirth", value: new FhirBoolean(true)));

        Assert.True(Assert.IsType<FhirBoolean>(result.MultipleBirth).Value);
    }

    [Fact]
    public void replace_with_the_wrong_type_is_unprocessable()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("replace", "Patient.birthDate", value: new FhirString("1930-01-01")));

        Assert.Contains("Patient.birthDate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void replace_of_nothing_or_of_many_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("replace", "Patient.gender", value: new Code("male")));
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("replace", "Patient.identifier", value: new Identifier("z", "9")));
    }

    [Fact]
    public void replace_of_the_id_with_another_is_refused()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("replace", "Patient.id", value: new Id("pat-2")));

        Assert.Contains("id", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void replace_of_the_whole_resource_is_unprocessable()
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("replace", "Patient", value: new HumanName()));
    }

    // move

    [Fact]
    public void move_takes_an_item_out_and_puts_it_at_the_destination()
    {
        var patient = Patient();
        patient.Name.Add(new HumanName { Family = "Cole" });

        var result = Apply(patient, Op("move", "Patient.name", source: 0, destination: 2));

        Assert.Equal(["Baker", "Cole", "Able"], result.Name.Select(n => n.Family));
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(0, 2)]
    public void move_outside_the_list_is_unprocessable(int source, int destination)
    {
        Fails(HttpStatusCode.UnprocessableEntity, Patient(), Op("move", "Patient.identifier", source: source, destination: destination));
    }

    // several operations, and what must not change

    [Fact]
    public void operations_apply_in_order()
    {
        var result = Apply(Patient(),
            Op("insert", "Patient.telecom", value: new ContactPoint(ContactPoint.ContactPointSystem.Email, null, "a@example.org"), index: 0),
            Op("replace", "Patient.telecom[1].value", value: new FhirString("0300")),
            Op("move", "Patient.telecom", source: 1, destination: 0));

        Assert.Equal(["0300", "a@example.org"], result.Telecom.Select(t => t.Value));
    }

    [Fact]
    public void neither_the_resource_nor_the_patch_is_changed()
    {
        var patient = Patient();
        var value = new Identifier("new", "1");
        var patch = Patch(
            Op("add", "Patient", "identifier", value),
            Op("delete", "Patient.name[0]"),
            Op("replace", "Patient.birthDate", value: new Date("1999")),
            Op("move", "Patient.identifier", source: 0, destination: 1));
        var patientBefore = Json(patient);
        var patchBefore = Json(patch);

        var result = (Patient)FhirPathPatch.Apply(patient, patch);

        Assert.Equal(patientBefore, Json(patient));
        Assert.Equal(patchBefore, Json(patch));
        Assert.False(ReferenceEquals(value, result.Identifier.Single(i => i.System == "new")));
    }

    [Fact]
    public void a_failing_operation_leaves_the_input_unchanged()
    {
        var patient = Patient();
        var before = Json(patient);

        Fails(HttpStatusCode.UnprocessableEntity, patient,
            Op("delete", "Patient.birthDate"),
            Op("replace", "Patient.gender", value: new Code("male")));

        Assert.Equal(before, Json(patient));
    }

    [Fact]
    public void the_failing_operation_is_named()
    {
        var e = Fails(HttpStatusCode.UnprocessableEntity, Patient(),
            Op("delete", "Patient.birthDate"),
            Op("replace", "Patient.gender", value: new Code("male")));

        Assert.Contains("operation 1 (replace)", e.Message, StringComparison.Ordinal);
        Assert.Equal("Parameters.parameter[1]", e.Issues[0].Expression);
    }

    // malformed documents

    public static TheoryData<string, string> MalformedDocuments() => new()
    {
        { """{"name":"op","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"}]}""", "named 'operation'" },
        { """{"name":"operation","valueString":"delete"}""", "in parts" },
        { """{"name":"operation","part":[{"name":"path","valueString":"Patient.birthDate"}]}""", "'type' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"remove"},{"name":"path","valueString":"Patient.birthDate"}]}""", "'type' must be" },
        { """{"name":"operation","part":[{"name":"type","valueInteger":1},{"name":"path","valueString":"Patient.birthDate"}]}""", "'type' part must" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"delete"}]}""", "'path' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name.where("}]}""", "not a valid FHIRPath" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.nosuchfunction()"}]}""", "not a valid FHIRPath" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"},{"name":"path","valueString":"Patient.gender"}]}""", "more than once" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"},{"name":"colour","valueString":"red"}]}""", "parts must be named" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"value","valueDate":"1930"}]}""", "'name' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"birthDate"}]}""", "'value' part" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"}]}""", "'value' part" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"value","valueHumanName":{"text":"x"}}]}""", "'index' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":-1},{"name":"value","valueHumanName":{"text":"x"}}]}""", "non-negative integer" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name.first()"},{"name":"index","valueInteger":0},{"name":"value","valueHumanName":{"text":"x"}}]}""", "name of a list element" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"destination","valueInteger":0}]}""", "'source' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueInteger":0}]}""", "'destination' part is missing" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueString":"0"},{"name":"destination","valueInteger":1}]}""", "non-negative integer" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"contact"},{"name":"value","valueString":"x","part":[{"name":"gender","valueCode":"male"}]}]}""", "either a value[x] or parts" },
        { """{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"contact"},{"name":"value","part":[{"name":"name"}]}]}""", "value.name" },
    };

    [Theory]
    [MemberData(nameof(MalformedDocuments))]
    public void a_malformed_operation_is_a_bad_request_naming_it(string operation, string problem)
    {
        var patch = ParseParameters($$"""
            {"resourceType":"Parameters","parameter":[
              {"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.gender"}]},
              {{operation}}]}
            """);

        var e = Throws(HttpStatusCode.BadRequest, () => FhirPathPatch.Apply(Patient(), patch));

        Assert.Contains("operation 1 is malformed", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Equal("Parameters.parameter[1]", e.Issues[0].Expression);
    }

    [Fact]
    public void a_patch_with_no_operations_returns_an_equal_but_separate_resource()
    {
        var patient = Patient();

        var result = FhirPathPatch.Apply(patient, new Parameters());

        Assert.True(result.IsExactly(patient));
        Assert.False(ReferenceEquals(result, patient));
    }
}
