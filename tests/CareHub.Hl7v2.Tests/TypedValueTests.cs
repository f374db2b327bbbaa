namespace CareHub.Hl7v2.Tests;

public class TypedValueTests
{
    [Theory]
    [InlineData("2024", Hl7DateTimePrecision.Year)]
    [InlineData("202402", Hl7DateTimePrecision.Month)]
    [InlineData("20240229", Hl7DateTimePrecision.Day)]
    [InlineData("2024022913", Hl7DateTimePrecision.Hour)]
    [InlineData("202402291314", Hl7DateTimePrecision.Minute)]
    [InlineData("20240229131415", Hl7DateTimePrecision.Second)]
    [InlineData("20240229131415.1", Hl7DateTimePrecision.FractionOfSecond)]
    [InlineData("20240229131415.1234+0530", Hl7DateTimePrecision.FractionOfSecond)]
    [InlineData("198908181126+0215", Hl7DateTimePrecision.Minute)]
    [InlineData("20240229-0800", Hl7DateTimePrecision.Day)]
    public void date_times_keep_their_precision_and_write_back_exactly(string text, Hl7DateTimePrecision precision)
    {
        Hl7DateTime value = Hl7DateTime.Parse(text);

        Assert.Equal(precision, value.Precision);
        Assert.Equal(text, value.ToString());
    }

    [Fact]
    public void date_times_convert_to_date_time_offset_with_the_sent_offset()
    {
        DateTimeOffset dto = Hl7DateTime.Parse("20240229131415.25+0530").ToDateTimeOffset();

        Assert.Equal(new DateTimeOffset(2024, 2, 29, 13, 14, 15, 250, TimeSpan.FromMinutes(330)), dto);
        Assert.Equal(TimeSpan.FromMinutes(330), dto.Offset);
    }

    [Fact]
    public void a_date_time_without_offset_takes_the_assumed_one_and_fills_missing_parts_with_the_earliest()
    {
        Hl7DateTime value = Hl7DateTime.Parse("202402");

        Assert.Null(value.Offset);
        Assert.Equal(new DateTimeOffset(2024, 2, 1, 0, 0, 0, TimeSpan.Zero), value.ToDateTimeOffset(TimeSpan.Zero));
    }

    [Theory]
    [InlineData("")]
    [InlineData("20241")]
    [InlineData("20240230")]
    [InlineData("2024022925")]
    [InlineData("20240229131415.12345")]
    [InlineData("202402291314.5")]
    [InlineData("20240229+05")]
    [InlineData("2024AB")]
    public void invalid_date_times_are_refused(string text)
    {
        Assert.False(Hl7DateTime.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Hl7DateTime.Parse(text));
    }

    [Fact]
    public void a_date_time_is_built_from_a_date_time_offset_at_a_precision()
    {
        var at = new DateTimeOffset(2024, 12, 31, 23, 59, 58, 123, TimeSpan.FromHours(-5));

        Assert.Equal("20241231-0500", Hl7DateTime.FromDateTimeOffset(at, Hl7DateTimePrecision.Day).ToString());
        Assert.Equal("20241231235958.1230-0500", Hl7DateTime.FromDateTimeOffset(at, Hl7DateTimePrecision.FractionOfSecond).ToString());
        Assert.Equal("202412312359", Hl7DateTime.FromDateTimeOffset(at, Hl7DateTimePrecision.Minute, includeOffset: false).ToString());
    }

    [Fact]
    public void reads_a_ts_field_with_its_degree_of_precision_component()
    {
        Hl7Message m = Hl7Message.Parse("MSH|^~\\&|A|B|C|D|20240101120000^S||ADT^A01|1|P|2.3\r");

        Hl7DateTime? value = Hl7DateTime.From(m.Element("MSH-7"));

        Assert.Equal(Hl7DateTimePrecision.Second, value?.Precision);
        Assert.Null(Hl7DateTime.From(m.Element("MSH-8")));
    }

    [Fact]
    public void reads_person_names()
    {
        Hl7Message m = Hl7Message.Parse(ParsingTests.Adt);

        Hl7PersonName name = Hl7PersonName.From(m.Element("PID-5"));

        Assert.Equal(new Hl7PersonName("DOE", "JANE", "Q", "", "MRS"), name);
        Assert.DoesNotContain("DOE", name.ToString(), StringComparison.Ordinal);
        Assert.Equal("DOE^JANE^Q^^MRS", name.Encode(m.Delimiters));
    }

    [Fact]
    public void reads_a_family_name_with_its_surname_subcomponent()
    {
        Hl7Message m = Hl7Message.Parse("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.8\rPID|1||1||EVERYMAN&&&&Aniston^ADAM^A^III^Dr.^MD^L~Josh^^stanley\r");

        IReadOnlyList<Hl7PersonName> names = Hl7PersonName.All(m.Element("PID-5"));

        Assert.Equal(2, names.Count);
        Assert.Equal("EVERYMAN", names[0].FamilyName);
        Assert.Equal("L", names[0].NameTypeCode);
        Assert.Equal("stanley", names[1].MiddleNames);
    }

    [Fact]
    public void reads_identifiers_with_assigning_authority_and_type()
    {
        Hl7Message m = Hl7Message.Parse(
            "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.8\rPID|1||PATID1234^5^M11^test1&2.16.1&HCD^MR^GOOD HEALTH HOSPITAL~9434765919^^^NHS^NH\r");

        IReadOnlyList<Hl7Identifier> ids = Hl7Identifier.All(m.Element("PID-3"));
        Hl7Identifier? nhs = Hl7Identifier.FindByType(m.Element("PID-3"), "NH");

        Assert.Equal(2, ids.Count);
        Assert.Equal("PATID1234", ids[0].Id);
        Assert.Equal("5", ids[0].CheckDigit);
        Assert.Equal("M11", ids[0].CheckDigitScheme);
        Assert.Equal(new Hl7HierarchicDesignator("test1", "2.16.1", "HCD"), ids[0].AssigningAuthority);
        Assert.Equal("MR", ids[0].IdentifierTypeCode);
        Assert.Equal("GOOD HEALTH HOSPITAL", ids[0].AssigningFacility?.NamespaceId);
        Assert.Equal("9434765919", nhs?.Id);
        Assert.Equal("PATID1234^5^M11^test1&2.16.1&HCD^MR^GOOD HEALTH HOSPITAL", ids[0].Encode(m.Delimiters));
        Assert.DoesNotContain("9434765919", nhs!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void reads_coded_elements()
    {
        Hl7Message m = Hl7Message.Parse(ParsingTests.Adt);

        Hl7CodedElement code = Hl7CodedElement.From(m.Element("OBX[2]-3"));

        Assert.Equal(new Hl7CodedElement("8310-5", "Body temperature", "LN"), code);
        Assert.Equal("8310-5^Body temperature^LN", code.Encode(m.Delimiters));
        Assert.Equal("A^B \\T\\ C^L^^^^^^orig", new Hl7CodedElement("A", "B & C", "L", OriginalText: "orig").Encode(m.Delimiters));
    }

    [Fact]
    public void typed_values_can_be_written_into_a_message()
    {
        Hl7Message m = Hl7Message.Create("ADT^A01", controlId: "1");
        Hl7Delimiters d = m.Delimiters;

        m.SetRaw("PID-3", new Hl7Identifier("9434765919", new Hl7HierarchicDesignator("NHS"), "NH").Encode(d));
        m.SetRaw("PID-5", new Hl7PersonName("Smith", "Ann", NameTypeCode: "L").Encode(d));

        Assert.Equal("NHS", Hl7Identifier.From(m.Element("PID-3")).AssigningAuthority?.NamespaceId);
        Assert.Equal("L", Hl7PersonName.From(m.Element("PID-5")).NameTypeCode);
    }
}
