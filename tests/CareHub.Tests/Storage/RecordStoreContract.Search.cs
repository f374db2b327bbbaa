using System.Globalization;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Search;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Storage;

/// <summary>
/// Search on both stores, end to end below the one door: real resources indexed by <see cref="IndexExtractor"/>, real
/// query strings parsed by <see cref="SearchRequest"/>, run by the store (FHIR R4 search.html).
/// </summary>
public abstract partial class RecordStoreContract
{
    private const string BaseUrl = "http://carehub.test/fhir";
    private int clockMinute = 100;

    /// <summary>Writes each resource as its next version, with its index rows, in one transaction.</summary>
    private async Task PutAsync(params Resource[] resources)
    {
        await using var session = await Store.BeginWriteAsync(Ct);
        foreach (var resource in resources)
        {
            var current = await session.ReadAsync(resource.TypeName, resource.Id!, Ct);
            var version = current is null ? 1 : current.Version + 1;
            var at = At(clockMinute++);
            resource.Meta ??= new Meta();
            resource.Meta.VersionId = version.ToString(CultureInfo.InvariantCulture);
            resource.Meta.LastUpdated = at;
            await session.WriteAsync(new VersionWrite(resource.TypeName, resource.Id!, version, at, "PUT", FhirSerialization.ToJson(resource), current?.Version ?? 0, IndexExtractor.Extract(resource)), Ct);
        }

        await session.CommitAsync(Ct);
    }

    private static SearchRequest Parse(string type, string query) =>
        SearchRequest.Parse([type], QueryString.Parse(query), strict: true, BaseUrl, TimeProvider.System);

    /// <summary>The ids a query string finds, in the order the store returns them.</summary>
    private async Task<string[]> FindAsync(string type, string query) =>
        Ids(await Store.SearchAsync(Parse(type, query).ToStoreQuery() with { Count = 100, Scope = QueryScope.Internal("test") }, Ct));

    private static Patient Patient(string id, string family, params string[] given)
    {
        var patient = new Patient { Id = id };
        patient.Name.Add(new HumanName { Family = family, Given = given });
        return patient;
    }

    private static Observation Observation(string id, string? subject = null, string? loinc = null, decimal? value = null, string? effective = null)
    {
        var observation = new Observation { Id = id, Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", loinc ?? "0000-0") };
        if (subject is not null)
        {
            observation.Subject = new ResourceReference(subject);
        }

        if (value is { } v)
        {
            observation.Value = new Quantity(v, "mm[Hg]") { Unit = "mmHg" };
        }

        if (effective is not null)
        {
            observation.Effective = new FhirDateTime(effective);
        }

        return observation;
    }

    // ---- string ----

    [Fact]
    public async Task string_search_matches_prefixes_of_any_name_part_ignoring_case_and_accents()
    {
        await PutAsync(Patient("a", "Smith", "Jo"), Patient("b", "Smythe", "Ann"), Patient("c", "Zoë", "Sméagol"), Patient("d", "Blacksmith"));

        Assert.Equal(["a"], await FindAsync("Patient", "name=smi"));
        Assert.Equal(["a", "b"], await FindAsync("Patient", "name=smi,smy"));
        Assert.Equal(["c"], await FindAsync("Patient", "name=ZOE"));
        Assert.Equal(["c"], await FindAsync("Patient", "given=smeag"));
        Assert.Equal(["a", "d"], await FindAsync("Patient", "family:contains=SMITH"));
        Assert.Equal(["a"], await FindAsync("Patient", "family:exact=Smith"));
        Assert.Empty(await FindAsync("Patient", "family:exact=smith"));
        Assert.Equal(["b"], await FindAsync("Patient", "name=s&given=ann"));
    }

    // ---- token ----

    [Fact]
    public async Task token_search_covers_codings_identifiers_booleans_text_not_and_of_type()
    {
        var mrn = new Identifier("urn:mrn", "123") { Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0203", "MR") };
        await PutAsync(
            new Patient { Id = "a", Active = true, Gender = AdministrativeGender.Female, Identifier = [mrn] },
            new Patient { Id = "b", Active = false, Gender = AdministrativeGender.Male, Identifier = [new Identifier(null, "123")] },
            new Patient { Id = "c" },
            new Observation { Id = "o1", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8480-6", "Systolic blood pressure", "Blood pressure systolic") },
            new Observation { Id = "o2", Status = ObservationStatus.Amended, Code = new CodeableConcept("http://snomed.info/sct", "8480-6") });

        Assert.Equal(["a"], await FindAsync("Patient", "active=true"));
        Assert.Equal(["a"], await FindAsync("Patient", "gender=female"));
        Assert.Equal(["a", "b"], await FindAsync("Patient", "identifier=123"));
        Assert.Equal(["b"], await FindAsync("Patient", "identifier=|123"));
        Assert.Equal(["a"], await FindAsync("Patient", "identifier=urn:mrn|"));
        Assert.Equal(["a"], await FindAsync("Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123"));
        // :not includes resources with no value at all (search.html#modifiers).
        Assert.Equal(["b", "c"], await FindAsync("Patient", "gender:not=female"));
        Assert.Equal(["o1"], await FindAsync("Observation", "code=http://loinc.org|8480-6"));
        Assert.Equal(["o1", "o2"], await FindAsync("Observation", "code=8480-6"));
        Assert.Equal(["o1"], await FindAsync("Observation", "code:text=systolic"));
        Assert.Equal(["o1"], await FindAsync("Observation", "code:text=pressure"));
        Assert.Equal(["o2"], await FindAsync("Observation", "status=amended"));
    }

    // ---- date ----

    [Fact]
    public async Task date_search_compares_implicit_ranges_with_every_prefix()
    {
        await PutAsync(
            new Patient { Id = "p1990", BirthDate = "1990" },
            new Patient { Id = "p0315", BirthDate = "1990-03-15" },
            new Patient { Id = "p0401", BirthDate = "1990-04-01" },
            new Patient { Id = "p1991", BirthDate = "1991-01-01" });

        Assert.Equal(["p0315", "p0401", "p1990"], await FindAsync("Patient", "birthdate=1990"));
        Assert.Equal(["p0315"], await FindAsync("Patient", "birthdate=1990-03"));
        Assert.Equal(["p0315"], await FindAsync("Patient", "birthdate=eq1990-03-15"));
        Assert.Equal(["p0401", "p1990", "p1991"], await FindAsync("Patient", "birthdate=ne1990-03-15"));
        Assert.Equal(["p1991"], await FindAsync("Patient", "birthdate=ne1990-03-15&birthdate=ne1990"));
        Assert.Equal(["p0401", "p1990", "p1991"], await FindAsync("Patient", "birthdate=gt1990-03-15"));
        Assert.Equal(["p0315", "p0401", "p1990", "p1991"], await FindAsync("Patient", "birthdate=ge1990-03-15"));
        Assert.Equal(["p0315", "p1990"], await FindAsync("Patient", "birthdate=lt1990-04-01"));
        Assert.Equal(["p1991"], await FindAsync("Patient", "birthdate=sa1990-12-31"));
        Assert.Equal(["p0315"], await FindAsync("Patient", "birthdate=eb1990-04-01"));
        Assert.Equal(["p0315", "p0401", "p1990"], await FindAsync("Patient", "birthdate=le1990-12-31"));
        // ap widens the range by a tenth of its distance from now: decades ago, that is years.
        Assert.Equal(["p0315", "p0401", "p1990", "p1991"], await FindAsync("Patient", "birthdate=ap1990-03-16"));
    }

    [Fact]
    public async Task date_search_understands_periods_and_instants()
    {
        await PutAsync(
            new Encounter { Id = "open", Status = Encounter.EncounterStatus.InProgress, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Period = new Period { Start = "2024-01-10" } },
            new Encounter { Id = "jan", Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Period = new Period { Start = "2024-01-02T10:00:00Z", End = "2024-01-02T11:00:00Z" } });

        Assert.Equal(["jan"], await FindAsync("Encounter", "date=2024-01-02"));
        Assert.Equal(["open"], await FindAsync("Encounter", "date=gt2030-01-01"));
        // An open period is not within January, but it overlaps it.
        Assert.Equal(["jan"], await FindAsync("Encounter", "date=2024-01"));
        Assert.Equal(["jan", "open"], await FindAsync("Encounter", "date=ap2024-01-15"));
        Assert.Empty(await FindAsync("Encounter", "date=2024-01-02T12:00:00Z"));
        Assert.Equal(["jan"], await FindAsync("Encounter", "date=ge2024-01-02T10:30:00Z&date=lt2024-01-05"));
    }

    // ---- number and quantity ----

    [Fact]
    public async Task number_search_uses_the_precision_of_the_value_searched()
    {
        RiskAssessment Risk(string id, decimal probability) => new()
        {
            Id = id,
            Status = ObservationStatus.Final,
            Subject = new ResourceReference("Patient/x"),
            Prediction = [new RiskAssessment.PredictionComponent { Probability = new FhirDecimal(probability) }],
        };
        await PutAsync(Risk("low", 0.1m), Risk("mid", 0.5m), Risk("mid2", 0.54m), Risk("high", 0.9m));

        Assert.Equal(["mid", "mid2"], await FindAsync("RiskAssessment", "probability=0.5"));
        Assert.Equal(["mid"], await FindAsync("RiskAssessment", "probability=0.50"));
        Assert.Equal(["high", "mid2"], await FindAsync("RiskAssessment", "probability=gt0.5"));
        Assert.Equal(["low", "mid"], await FindAsync("RiskAssessment", "probability=le0.5"));
        Assert.Equal(["high", "low", "mid2"], await FindAsync("RiskAssessment", "probability=ne0.50"));
        Assert.Equal(["mid", "mid2"], await FindAsync("RiskAssessment", "probability=ap0.52"));
        Assert.Equal(["high"], await FindAsync("RiskAssessment", "probability=9e-1"));
    }

    [Fact]
    public async Task quantity_search_matches_value_system_and_code_with_prefixes()
    {
        await PutAsync(Observation("a", value: 120m), Observation("b", value: 85.5m), Observation("c"));

        Assert.Equal(["a"], await FindAsync("Observation", "value-quantity=120|http://unitsofmeasure.org|mm[Hg]"));
        Assert.Equal(["a"], await FindAsync("Observation", "value-quantity=gt100||mmHg"));
        Assert.Equal(["b"], await FindAsync("Observation", "value-quantity=lt100"));
        Assert.Equal(["b"], await FindAsync("Observation", "value-quantity=85.5||mm[Hg]"));
        Assert.Empty(await FindAsync("Observation", "value-quantity=120|http://unitsofmeasure.org|kg"));
        Assert.Equal(["c"], await FindAsync("Observation", "value-quantity:missing=true"));
        Assert.Equal(["a", "b"], await FindAsync("Observation", "value-quantity:missing=false"));
    }

    // ---- reference ----

    [Fact]
    public async Task reference_search_takes_ids_types_absolute_urls_identifiers_and_type_modifiers()
    {
        var logical = new Observation { Id = "logical", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Subject = new ResourceReference { Identifier = new Identifier("https://fhir.nhs.uk/Id/nhs-number", "9000000009") } };
        await PutAsync(Observation("o1", "Patient/p1"), Observation("o2", "Group/p1"), Observation("o3", "Patient/p2/_history/3"), Observation("o4", "http://elsewhere.test/fhir/Patient/p1"), logical);

        Assert.Equal(["o1", "o2"], await FindAsync("Observation", "subject=p1"));
        Assert.Equal(["o1"], await FindAsync("Observation", "subject=Patient/p1"));
        Assert.Equal(["o1"], await FindAsync("Observation", "subject:Patient=p1"));
        Assert.Equal(["o1"], await FindAsync("Observation", $"subject={BaseUrl}/Patient/p1"));
        Assert.Equal(["o4"], await FindAsync("Observation", "subject=http://elsewhere.test/fhir/Patient/p1"));
        Assert.Equal(["o3"], await FindAsync("Observation", "subject=Patient/p2"));
        // "patient" is subject.where(resolve() is Patient): the Group subject is not a patient.
        Assert.Equal(["o1"], await FindAsync("Observation", "patient=p1"));
        Assert.Equal(["logical"], await FindAsync("Observation", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"));
        Assert.Equal(["logical", "o1", "o2", "o3", "o4"], await FindAsync("Observation", "subject:missing=false"));
    }

    // ---- uri ----

    [Fact]
    public async Task uri_search_matches_exactly_below_and_above()
    {
        await PutAsync(
            new ValueSet { Id = "a", Status = PublicationStatus.Active, Url = "http://acme.test/fhir/ValueSet/a" },
            new ValueSet { Id = "b", Status = PublicationStatus.Active, Url = "http://acme.test/fhir/ValueSet/b/sub" },
            new ValueSet { Id = "c", Status = PublicationStatus.Active, Url = "http://other.test/ValueSet/c" });

        Assert.Equal(["a"], await FindAsync("ValueSet", "url=http://acme.test/fhir/ValueSet/a"));
        Assert.Equal(["a", "b"], await FindAsync("ValueSet", "url:below=http://acme.test/fhir"));
        Assert.Equal(["b"], await FindAsync("ValueSet", "url:above=http://acme.test/fhir/ValueSet/b/sub/deeper"));
    }

    // ---- composite ----

    [Fact]
    public async Task composite_search_matches_components_of_the_same_value()
    {
        Observation BloodPressure(string id, decimal systolic, decimal diastolic) => new()
        {
            Id = id,
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "85354-9"),
            Component =
            [
                new Observation.ComponentComponent { Code = new CodeableConcept("http://loinc.org", "8480-6"), Value = new Quantity(systolic, "mm[Hg]") },
                new Observation.ComponentComponent { Code = new CodeableConcept("http://loinc.org", "8462-4"), Value = new Quantity(diastolic, "mm[Hg]") },
            ],
        };
        await PutAsync(BloodPressure("high", 150m, 95m), BloodPressure("normal", 115m, 75m), Observation("single", loinc: "8480-6", value: 150m));

        Assert.Equal(["high"], await FindAsync("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt140"));
        // Systolic 115 and diastolic 95 exist only on different resources' components: no match.
        Assert.Empty(await FindAsync("Observation", "component-code-value-quantity=http://loinc.org|8462-4$gt100"));
        Assert.Equal(["normal"], await FindAsync("Observation", "component-code-value-quantity=8462-4$lt80"));
        Assert.Equal(["single"], await FindAsync("Observation", "code-value-quantity=http://loinc.org|8480-6$150"));
        Assert.Equal(["high", "normal", "single"], await FindAsync("Observation", "combo-code-value-quantity=8480-6$ge115"));
    }

    // ---- common parameters ----

    [Fact]
    public async Task tags_profiles_security_labels_and_sources_are_searchable()
    {
        var tagged = new Patient { Id = "t", Meta = new Meta { Tag = [new Coding("urn:tags", "vip")], Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"], Security = [new Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")], Source = "urn:system:pas" } };
        await PutAsync(tagged, new Patient { Id = "u" });

        Assert.Equal(["t"], await FindAsync("Patient", "_tag=urn:tags|vip"));
        Assert.Equal(["t"], await FindAsync("Patient", "_profile=https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"));
        Assert.Equal(["t"], await FindAsync("Patient", "_security=R"));
        Assert.Equal(["t"], await FindAsync("Patient", "_source=urn:system:pas"));
        Assert.Equal(["u"], await FindAsync("Patient", "_tag:missing=true"));
        Assert.Equal(["t", "u"], await FindAsync("Patient", "_id=t,u,v"));
    }

    [Fact]
    public async Task list_search_finds_the_items_of_a_list()
    {
        await PutAsync(Patient("a", "A"), Patient("b", "B"), Patient("c", "C"),
            new List { Id = "l1", Status = List.ListStatus.Current, Mode = ListMode.Working, Entry = [new List.EntryComponent { Item = new ResourceReference("Patient/a") }, new List.EntryComponent { Item = new ResourceReference("Patient/c") }] });

        Assert.Equal(["a", "c"], await FindAsync("Patient", "_list=l1"));
        Assert.Empty(await FindAsync("Patient", "_list=l2"));
    }

    // ---- escaping ----

    [Fact]
    public async Task escaped_commas_pipes_and_dollars_are_part_of_the_value()
    {
        await PutAsync(
            new Patient { Id = "a", Identifier = [new Identifier("urn:x", "1,2")] },
            new Patient { Id = "b", Identifier = [new Identifier("urn:x", "1|2")] },
            new Patient { Id = "c", Identifier = [new Identifier("urn:x", "1")] });

        Assert.Equal(["a"], await FindAsync("Patient", "identifier=urn:x|1\\,2"));
        Assert.Equal(["b"], await FindAsync("Patient", "identifier=urn:x|1\\|2"));
        Assert.Equal(["a", "c"], await FindAsync("Patient", "identifier=urn:x|1\\,2,urn:x|1"));
    }

    // ---- chaining and reverse chaining ----

    [Fact]
    public async Task chained_parameters_follow_references_over_several_levels()
    {
        var acme = new Organization { Id = "acme", Name = "Acme Health" };
        var patient = Patient("p1", "Smith");
        patient.ManagingOrganization = new ResourceReference("Organization/acme");
        await PutAsync(acme, patient, Patient("p2", "Jones"), Observation("o1", "Patient/p1"), Observation("o2", "Patient/p2"), Observation("o3", "Group/g1"));

        Assert.Equal(["o1"], await FindAsync("Observation", "subject:Patient.name=smith"));
        Assert.Equal(["o1"], await FindAsync("Observation", "patient.family=smi"));
        Assert.Equal(["o1"], await FindAsync("Observation", "subject:Patient.organization.name=acme"));
        Assert.Equal(["o1"], await FindAsync("Observation", "subject:Patient.organization:Organization.name=acme"));
        Assert.Empty(await FindAsync("Observation", "subject:Patient.organization.name=other"));
    }

    [Fact]
    public async Task has_finds_resources_by_what_refers_to_them_nested()
    {
        await PutAsync(Patient("p1", "A"), Patient("p2", "B"), Patient("p3", "C"),
            Observation("o1", "Patient/p1", loinc: "1234-5"), Observation("o2", "Patient/p2", loinc: "9999-9"),
            new Provenance { Id = "prov", Recorded = DateTimeOffset.UnixEpoch, Target = [new ResourceReference("Observation/o2")], Agent = [new Provenance.AgentComponent { Who = new ResourceReference("Practitioner/dr") }] });

        Assert.Equal(["p1"], await FindAsync("Patient", "_has:Observation:patient:code=1234-5"));
        Assert.Equal(["p1", "p2"], await FindAsync("Patient", "_has:Observation:subject:status=final"));
        Assert.Equal(["p2"], await FindAsync("Patient", "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/dr"));
    }

    // ---- sorting and paging ----

    [Fact]
    public async Task sort_orders_by_several_keys_and_puts_missing_values_last()
    {
        await PutAsync(
            new Patient { Id = "a", BirthDate = "1980", Name = [new HumanName { Family = "Young" }] },
            new Patient { Id = "b", BirthDate = "1970", Name = [new HumanName { Family = "Young" }] },
            new Patient { Id = "c", BirthDate = "1990", Name = [new HumanName { Family = "Adams" }] },
            new Patient { Id = "d" });

        Assert.Equal(["b", "a", "c", "d"], await FindAsync("Patient", "_sort=birthdate"));
        Assert.Equal(["c", "a", "b", "d"], await FindAsync("Patient", "_sort=-birthdate"));
        Assert.Equal(["c", "a", "b", "d"], await FindAsync("Patient", "_sort=family,-birthdate"));
        Assert.Equal(["d", "c", "b", "a"], await FindAsync("Patient", "_sort=-_id"));
        Assert.Equal(["a", "b", "c", "d"], await FindAsync("Patient", "_sort=_lastUpdated"));
    }

    [Fact]
    public async Task a_query_parsed_from_a_request_is_refused_until_the_access_policy_governs_it()
    {
        await PutAsync(new Patient { Id = "p1" });
        var request = Parse("Patient", "_id=p1").ToStoreQuery();

        var search = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.SearchAsync(request, Ct));
        Assert.Contains("governed", search.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.FindIdsAsync(request, Ct));
        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => session.FindIdsAsync(request, Ct));
        }

        Assert.Equal(["p1"], Ids(await Store.SearchAsync(request with { Scope = QueryScope.Internal("test") }, Ct)));
    }

    [Fact]
    public async Task sorted_pages_stay_stable_when_resources_are_written_between_pages()
    {
        for (var i = 0; i < 9; i++)
        {
            await PutAsync(new Patient { Id = $"p{i}", BirthDate = $"19{50 + (i * 5)}" });
        }

        var query = Parse("Patient", "_sort=-birthdate&_count=3").ToStoreQuery() with { Scope = QueryScope.Internal("test") };
        var first = await Store.SearchAsync(query, Ct);
        Assert.Equal(["p8", "p7", "p6"], Ids(first));

        // Writes between pages: one sorting before the cursor, one after it, and an update moving one of the seen ones.
        await PutAsync(new Patient { Id = "early", BirthDate = "2020" }, new Patient { Id = "late", BirthDate = "1951" }, new Patient { Id = "p7", BirthDate = "1999" });

        var seen = Ids(first).ToList();
        var page = first;
        while (page.HasMore)
        {
            page = await Store.SearchAsync(query with { After = page.NextCursor }, Ct);
            seen.AddRange(Ids(page));
        }

        Assert.Equal(["p8", "p7", "p6", "p5", "p4", "p3", "p2", "p1", "late", "p0"], seen);
        var back = await Store.SearchAsync(query with { Before = page.PreviousCursor }, Ct);
        Assert.Equal(["p2", "p1", "late"], Ids(back));
    }

    // ---- scopes: several types, compartments, includes ----

    [Fact]
    public async Task several_types_are_searched_together_in_type_then_id_order()
    {
        await PutAsync(Patient("z", "A"), Observation("a", "Patient/z"), new Organization { Id = "m", Name = "Org" });

        var page = await Store.SearchAsync(new StoreQuery("Observation", [], 10) { Scope = QueryScope.Internal("test"), Types = ["Observation", "Patient"] }, Ct);
        Assert.Equal(["Observation/a", "Patient/z"], page.Resources.Select(r => $"{r.Type}/{r.Id}"));
        var tagged = Parse("Patient", "_id=z").Clauses;
        Assert.Equal(["z"], Ids(await Store.SearchAsync(new StoreQuery("Patient", tagged, 10) { Scope = QueryScope.Internal("test"), Types = ["Observation", "Patient"] }, Ct)));
    }

    [Fact]
    public async Task a_compartment_holds_the_patient_and_what_refers_to_it_through_its_parameters()
    {
        var condition = new Condition { Id = "c1", Subject = new ResourceReference("Patient/p1"), Asserter = new ResourceReference("Practitioner/x") };
        await PutAsync(Patient("p1", "A"), Patient("p2", "B"), Observation("o1", "Patient/p1"), Observation("o2", "Patient/p2"), condition,
            new Observation { Id = "o3", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Performer = [new ResourceReference("Patient/p1")] });

        var types = new[] { "Patient", "Observation", "Condition" };
        var clause = new CompartmentClause("Patient", "p1", PatientCompartment.Searchable(types));
        var page = await Store.SearchAsync(new StoreQuery("Patient", [clause], 10) { Scope = QueryScope.Internal("test"), Types = types }, Ct);

        Assert.Equal(["Condition/c1", "Observation/o1", "Observation/o3", "Patient/p1"], page.Resources.Select(r => $"{r.Type}/{r.Id}"));
    }

    [Fact]
    public async Task index_rows_follow_updates_and_deletions()
    {
        await PutAsync(Patient("p1", "Smith"));
        Assert.Equal(["p1"], await FindAsync("Patient", "family=smith"));

        await PutAsync(Patient("p1", "Jones"));
        Assert.Empty(await FindAsync("Patient", "family=smith"));
        Assert.Equal(["p1"], await FindAsync("Patient", "family=jones"));

        await CommitAsync(new VersionWrite("Patient", "p1", 3, At(500), "DELETE", null, 2, []));
        Assert.Empty(await FindAsync("Patient", "family=jones"));
        Assert.Equal(0, await ScalarSqlAsync("SELECT COUNT(*) FROM search_string WHERE id = 'p1'"));
    }

    [Fact]
    public async Task replacing_a_resources_index_rows_writes_no_version()
    {
        await CommitAsync(new VersionWrite("Patient", "p1", 1, At(1), "POST", FhirSerialization.ToJson(Patient("p1", "Smith")), 0, []));
        Assert.Empty(await FindAsync("Patient", "family=smith"));

        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            await session.ReplaceIndexAsync("Patient", "p1", IndexExtractor.Extract(Patient("p1", "Smith")), Ct);
            await session.ReplaceIndexAsync("Patient", "p1", IndexExtractor.Extract(Patient("p1", "Smith")), Ct);
            await session.CommitAsync(Ct);
        }

        Assert.Equal(["p1"], await FindAsync("Patient", "family=smith"));
        Assert.Equal(1, await ScalarSqlAsync("SELECT COUNT(*) FROM search_string WHERE id = 'p1' AND param = 'family'"));
        Assert.Equal(1, (await Store.ReadAsync("Patient", "p1", null, Ct))!.Version);
    }
}
