using CareHub.Fhir;
using CareHub.Search;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Search;

public sealed class IndexExtractorTests
{
    [Fact]
    public void member_walks_index_exactly_what_the_fhirpath_engine_indexes_on_the_synthea_data()
    {
        var folder = SharedData.Require("synthea");
        var resources = Directory.GetFiles(folder, "*.json")
            .Select(f => (Bundle)FhirSerialization.Parse(File.ReadAllText(f), FhirFormat.Json))
            .SelectMany(b => b.Entry.Select(e => e.Resource!))
            .ToList();
        Assert.True(resources.Count > 10_000, $"expected the Synthea bundles' resources, found {resources.Count}");

        var rows = 0;
        foreach (var resource in resources)
        {
            var fast = IndexExtractor.Extract(resource, memberPaths: true);
            var engine = IndexExtractor.Extract(resource, memberPaths: false);
            Assert.Equal(Describe(engine), Describe(fast));
            rows += fast.Count;
        }

        Assert.True(rows > resources.Count * 5, $"only {rows} index rows for {resources.Count} resources");
    }

    private static List<string> Describe(IEnumerable<IndexRow> rows) => rows.Select(r => r.ToString()).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void a_composite_whose_component_reads_percent_resource_is_indexed()
    {
        // R4 MolecularSequence-chromosome-variant-coordinate: "%resource.referenceSeq.chromosome" | start | end.
        var sequence = new MolecularSequence
        {
            Id = "seq",
            CoordinateSystem = 0,
            ReferenceSeq = new MolecularSequence.ReferenceSeqComponent { Chromosome = new CodeableConcept("http://terminology.hl7.org/CodeSystem/chromosome-human", "1") },
            Variant = [new MolecularSequence.VariantComponent { Start = 22125503, End = 22125504 }],
        };

        var rows = Describe(IndexExtractor.Extract(sequence, memberPaths: false)).Where(r => r.Contains("chromosome-variant-coordinate", StringComparison.Ordinal)).ToList();

        Assert.Equal(3, rows.Count);
        Assert.Contains(rows, r => r.Contains("chromosome-variant-coordinate$0", StringComparison.Ordinal) && r.Contains("chromosome-human", StringComparison.Ordinal));
    }

    [Fact]
    public void a_parameter_whose_expression_has_no_type_prefix_is_indexed()
    {
        // R4 InsurancePlan-name: "name | alias", relative to the resource (found by the differential test).
        var plan = new InsurancePlan { Id = "plan", Name = "Acme Gold", Alias = ["Gold Plan"] };

        var rows = Describe(IndexExtractor.Extract(plan)).Where(r => r.Contains("name", StringComparison.Ordinal)).ToList();

        Assert.Contains(rows, r => r.Contains("acme gold", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(rows, r => r.Contains("gold plan", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void an_observation_yields_rows_in_every_table_its_values_need()
    {
        var observation = new Observation
        {
            Id = "o1",
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8480-6", "Systolic blood pressure"),
            Subject = new ResourceReference("Patient/p1/_history/2"),
            Effective = new Period { Start = "2024-01-02", End = "2024-01-03T10:00:00Z" },
            Value = new Quantity(120.5m, "mm[Hg]"),
            Meta = new Meta { Profile = ["http://example.test/profile"] },
        };

        var rows = IndexExtractor.Extract(observation);

        // The concept's text rides on its coding's row, for :text.
        Assert.Contains(new TokenIndexRow("code", "http://loinc.org", "8480-6", "systolic blood pressure"), rows);
        Assert.Contains(new TokenIndexRow("status", null, "final"), rows);
        Assert.Contains(new ReferenceIndexRow("subject", "Patient", "p1", null), rows);
        Assert.Contains(new ReferenceIndexRow("patient", "Patient", "p1", null), rows);
        var start = new DateTimeOffset(2024, 1, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var end = new DateTimeOffset(2024, 1, 3, 10, 0, 1, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.Contains(new DateIndexRow("date", start, end), rows);
        var quantity = Assert.Single(rows.OfType<QuantityIndexRow>(), r => r.Param == "value-quantity");
        Assert.Equal(new QuantityIndexRow("value-quantity", "http://unitsofmeasure.org", "mm[Hg]", "mm[Hg]", 120.5, 120.45, 120.55),
            quantity with { CanonicalCode = null, CanonicalValue = null, CanonicalLow = null, CanonicalHigh = null });
        // UCUM: also in canonical units (mm[Hg] is 133.322387415 Pa, and Pa is 1000 g.m-1.s-2).
        Assert.Equal("g.m-1.s-2", quantity.CanonicalCode);
        Assert.Equal(120.5 * 133322.387415, quantity.CanonicalValue!.Value, 1e-3);
        Assert.Contains(new UriIndexRow("_profile", "http://example.test/profile"), rows);
        // The composite code-value-quantity ties its two components with one group.
        var code = Assert.Single(rows, r => r.Param == "code-value-quantity$0" && r is TokenIndexRow { System: not null });
        Assert.Contains(rows, r => r.Param == "code-value-quantity$1" && r.Group == code.Group && code.Group != 0);
        // A composite value needs every component: the code with no CodeableConcept value gives no code-value-concept.
        Assert.DoesNotContain(rows, r => r.Param.StartsWith("code-value-concept", StringComparison.Ordinal));
    }

    [Fact]
    public void a_reference_of_the_wrong_type_is_not_indexed_under_a_parameter_that_resolves_to_one_type()
    {
        var rows = IndexExtractor.Extract(new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("s", "c"), Subject = new ResourceReference("Group/g1") });

        Assert.Contains(new ReferenceIndexRow("subject", "Group", "g1", null), rows);
        Assert.DoesNotContain(rows, r => r.Param == "patient");
    }

    [Fact]
    public void names_and_addresses_are_indexed_by_their_parts_folded_for_case_and_accents()
    {
        var patient = new Patient
        {
            Name = [new HumanName { Family = "Ó Briain", Given = ["Seán"], Prefix = ["Dr"] }],
            Address = [new Address { Line = ["1 High Street"], City = "Łódź", PostalCode = "LS1 4AP" }],
        };

        var rows = IndexExtractor.Extract(patient).OfType<StringIndexRow>().ToList();

        Assert.Contains(new StringIndexRow("family", "o briain", "Ó Briain"), rows);
        Assert.Contains(new StringIndexRow("given", "sean", "Seán"), rows);
        Assert.Contains(new StringIndexRow("name", "dr", "Dr"), rows);
        Assert.Contains(new StringIndexRow("address-city", "lodz", "Łódź"), rows);
        Assert.Contains(new StringIndexRow("address", "1 high street", "1 High Street"), rows);
        Assert.Contains(new StringIndexRow("address-postalcode", "ls1 4ap", "LS1 4AP"), rows);
    }

    [Theory]
    [InlineData("100", 100, 99.5, 100.5)]
    [InlineData("100.00", 100, 99.995, 100.005)]
    [InlineData("1e2", 100, 50, 150)]
    [InlineData("-0.5", -0.5, -0.55, -0.45)]
    public void a_number_implies_the_range_of_its_precision(string text, double value, double low, double high)
    {
        var (v, l, h) = SearchValues.Number(text)!.Value;

        Assert.Equal(value, v, 9);
        Assert.Equal(low, l, 9);
        Assert.Equal(high, h, 9);
    }
}
