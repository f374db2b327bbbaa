using CareHub.Hl7v2;
using CareHub.Messaging;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Messaging;

/// <summary>Channel configuration checks, filters, backoff and the ADT^A08 built from a Patient.</summary>
public sealed class ChannelRulesTests
{
    private static readonly string[] Transformers = ["pass-through", "v2-to-fhir"];

    private static ChannelOptions Valid() => new()
    {
        Name = "adt-in",
        Source = new SourceOptions { Type = "mllp", Port = 2575, Unauthenticated = true },
        Transformer = "v2-to-fhir",
        Destinations = [new DestinationOptions { Type = "record" }],
    };

    [Fact]
    public void a_valid_channel_passes() => Valid().Validate("CareHub:Channels:0", Transformers);

    public static TheoryData<string, string> Broken => new()
    {
        { "name", "CareHub:Channels:0:Name" },
        { "source", "CareHub:Channels:0:Source:Type 'smtp'" },
        { "port", "CareHub:Channels:0:Source:Port" },
        { "transformer", "CareHub:Channels:0:Transformer 'xslt'" },
        { "no-destination", "CareHub:Channels:0:Destinations is empty" },
        { "mllp-destination", "CareHub:Channels:0:Destinations:0: an mllp destination needs Host and Port" },
        { "http-destination", "CareHub:Channels:0:Destinations:0:Url" },
        { "duplicate-destination", "CareHub:Channels:0:Destinations:1:Name 'record' is used twice" },
        { "condition", "CareHub:Channels:0:Filters:Conditions:0 'PV1=I' is not a condition" },
        { "attempts", "CareHub:Channels:0:Destinations:0:MaxAttempts" },
        { "folder", "CareHub:Channels:0:Source:Path is empty" },
        { "open-to-the-network", "CareHub:Channels:0:Source: an MLLP listener on '0.0.0.0' is reachable from other machines but authenticates no sender" },
        { "unlabelled-loopback", "CareHub:Channels:0:Source: the MLLP listener authenticates no sender" },
        { "bad-range", "CareHub:Channels:0:Source:AllowedAddresses:0 '10.1.2.300/8'" },
        { "client-certificates-without-tls", "client certificates (ClientCertificateThumbprints, ClientCertificateAuthority) need TLS" },
        { "bad-sender", "CareHub:Channels:0:Source:Senders:0 'RX1' is not a sender" },
        { "reserved", "CareHub:Channels:0:Source:ReservedConnections" },
        { "network-listener-without-senders", "CareHub:Channels:0:Source:Senders is empty: an MLLP listener reachable from other machines" },
        { "agreement-without-organisation", "CareHub:Channels:0:DemographicsAgreement 'dsa-1' needs" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void a_broken_channel_is_refused_naming_the_setting(string problem, string expected)
    {
        var channel = problem switch
        {
            "name" => Valid() with { Name = "adt in!" },
            "source" => Valid() with { Source = new SourceOptions { Type = "smtp" } },
            "port" => Valid() with { Source = new SourceOptions { Type = "mllp" } },
            "transformer" => Valid() with { Transformer = "xslt" },
            "no-destination" => Valid() with { Destinations = [] },
            "mllp-destination" => Valid() with { Destinations = [new DestinationOptions { Type = "mllp", Host = "pas.local" }] },
            "http-destination" => Valid() with { Destinations = [new DestinationOptions { Type = "http", Url = "ftp://x" }] },
            "duplicate-destination" => Valid() with { Destinations = [new DestinationOptions { Type = "record" }, new DestinationOptions { Type = "record" }] },
            "condition" => Valid() with { Filters = new FilterOptions { Conditions = ["PV1=I"] } },
            "attempts" => Valid() with { Destinations = [new DestinationOptions { Type = "record", MaxAttempts = 0 }] },
            "folder" => Valid() with { Source = new SourceOptions { Type = "folder" } },
            "open-to-the-network" => Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575, Host = "0.0.0.0", Unauthenticated = true } },
            "unlabelled-loopback" => Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575 } },
            "bad-range" => Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575, AllowedAddresses = ["10.1.2.300/8"] } },
            "client-certificates-without-tls" => Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575, ClientCertificateThumbprints = [new string('a', 64)] } },
            "bad-sender" => Valid() with { Source = Valid().Source with { Senders = ["RX1"] } },
            "reserved" => Valid() with { Source = Valid().Source with { MaxConnections = 4, ReservedConnections = 4 } },
            "network-listener-without-senders" => Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575, Host = "0.0.0.0", AllowedAddresses = ["10.1.2.3"] } },
            "agreement-without-organisation" => Valid() with { DemographicsAgreement = "dsa-1" },
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var e = Assert.Throws<InvalidOperationException>(() => channel.Validate("CareHub:Channels:0", Transformers));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void a_network_listener_that_authenticates_senders_by_address_passes() =>
        (Valid() with { Source = new SourceOptions { Type = "mllp", Port = 2575, Host = "0.0.0.0", AllowedAddresses = ["10.1.2.3", "10.2.0.0/16"], Senders = ["PAS^RX1"] } })
            .Validate("CareHub:Channels:0", Transformers);

    [Fact]
    public void an_eighth_of_the_connections_are_reserved_for_known_senders_unless_configured()
    {
        Assert.Equal(8, new SourceOptions().EffectiveReservedConnections);
        Assert.Equal(0, new SourceOptions { MaxConnections = 4 }.EffectiveReservedConnections);
        (Valid() with { Source = Valid().Source with { MaxConnections = 4 } }).Validate("CareHub:Channels:0", Transformers);
    }

    [Fact]
    public void an_idle_mllp_connection_is_closed_after_a_minute_by_default() =>
        Assert.Equal(TimeSpan.FromSeconds(60), new SourceOptions().IdleTimeout);

    [Theory]
    [InlineData("10.1.2.3", "10.1.2.3", true)]
    [InlineData("10.1.2.3", "10.1.2.4", false)]
    [InlineData("10.1.0.0/16", "10.1.200.7", true)]
    [InlineData("10.1.0.0/16", "::ffff:10.1.200.7", true)]
    [InlineData("10.1.0.0/16", "10.2.0.1", false)]
    [InlineData("2001:db8::/32", "2001:db8::1", true)]
    public void allowed_addresses_match_single_addresses_and_cidr_ranges(string range, string address, bool matches)
    {
        Assert.True(AddressRange.TryParse(range, out var parsed));
        Assert.Equal(matches, parsed.Contains(System.Net.IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("PAS^RAL", true)]
    [InlineData("*^RAL", true)]
    [InlineData("PAS^RX1", false)]
    [InlineData("LAB^RAL", false)]
    public void a_message_is_taken_only_from_a_configured_sender(string sender, bool taken) =>
        Assert.Equal(taken, new SenderRule([sender]).Refusal(Inpatient) is null);

    [Fact]
    public void backoff_doubles_from_the_first_delay_up_to_the_cap()
    {
        var d = new DestinationOptions { Type = "record", RetryDelay = TimeSpan.FromSeconds(1), MaxRetryDelay = TimeSpan.FromSeconds(10) };

        Assert.Equal([1, 2, 4, 8, 10, 10], new[] { 1, 2, 3, 4, 5, 40 }.Select(n => d.Backoff(n).TotalSeconds));
    }

    private static readonly Hl7Message Inpatient = Hl7Message.Parse("MSH|^~\\&|PAS|RAL|||20240301||ADT^A01^ADT_A01|1|P|2.5.1\rPID|1||123^^^RAL^MR||X^Y||19800101|F\rPV1|1|I\r");

    [Theory]
    [InlineData("ADT", true)]
    [InlineData("ADT^A01", true)]
    [InlineData("ADT^*", true)]
    [InlineData("*^A01", true)]
    [InlineData("ADT^A08", false)]
    [InlineData("ORU", false)]
    public void message_type_filters_match_type_and_trigger(string pattern, bool matches) =>
        Assert.Equal(matches, new MessageFilter(new FilterOptions { MessageTypes = [pattern] }).Matches(Inpatient));

    [Theory]
    [InlineData("PV1-2=I", true)]
    [InlineData("PV1-2=O", false)]
    [InlineData("PV1-2!=O", true)]
    [InlineData("PID-8=F", true)]
    [InlineData("PID-3.4=RAL", true)]
    [InlineData("EVN-1", false)]
    [InlineData("PID-5", true)]
    public void path_conditions_compare_the_value_at_the_path(string condition, bool matches) =>
        Assert.Equal(matches, new MessageFilter(new FilterOptions { Conditions = [condition] }).Matches(Inpatient));

    [Fact]
    public void every_filter_given_must_hold()
    {
        var filter = new MessageFilter(new FilterOptions { MessageTypes = ["ADT"], SendingFacilities = ["RXX"], Conditions = ["PV1-2=I"] });

        Assert.False(filter.Matches(Inpatient));
    }

    [Fact]
    public void a_patient_becomes_an_ADT_A08_with_its_nhs_number_name_birth_date_sex_and_address()
    {
        var patient = new Patient
        {
            Id = "p1",
            Identifier = [new Identifier("https://fhir.nhs.uk/Id/nhs-number", "9434765919"), new Identifier("urn:oid:1.2.3", "H1^2")],
            Name = [new HumanName { Family = "Test", Given = ["Jo", "Ann"], Prefix = ["Ms"] }],
            BirthDate = "1975-06-07",
            Gender = AdministrativeGender.Male,
            Address = [new Address { Line = ["1 High St"], City = "York", PostalCode = "YO1 1AA" }],
        };

        var adt = PatientAdt.Build(patient, "CAREHUB", "RXX", new DateTimeOffset(2024, 3, 1, 9, 0, 0, TimeSpan.Zero));
        var reparsed = Hl7Message.Parse(adt.Encode());

        Assert.Equal(("ADT", "A08", "ADT_A01", "2.5.1"), (reparsed.MessageType, reparsed.TriggerEvent, reparsed.MessageStructure, reparsed.Version));
        Assert.Equal(("9434765919", "NHS", "NH"), (reparsed.Get("PID-3[1].1"), reparsed.Get("PID-3[1].4"), reparsed.Get("PID-3[1].5")));
        Assert.Equal(("H1^2", "MR"), (reparsed.Get("PID-3[2].1"), reparsed.Get("PID-3[2].5")));
        Assert.Equal(("Test", "Jo", "Ann", "Ms"), (reparsed.Get("PID-5.1"), reparsed.Get("PID-5.2"), reparsed.Get("PID-5.3"), reparsed.Get("PID-5.5")));
        Assert.Equal(("19750607", "M"), (reparsed.Get("PID-7"), reparsed.Get("PID-8")));
        Assert.Equal(("1 High St", "York", "YO1 1AA"), (reparsed.Get("PID-11.1"), reparsed.Get("PID-11.3"), reparsed.Get("PID-11.5")));
        Assert.Equal("N", reparsed.Get("PV1-2"));
    }
}
