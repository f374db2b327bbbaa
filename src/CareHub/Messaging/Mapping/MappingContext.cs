using System.Globalization;
using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>The state of one message's mapping: the bundle being built, the warnings, and the resources others refer to.</summary>
internal sealed class MappingContext
{
    private readonly Dictionary<Hl7Segment, int> occurrences = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> unmappedSegments = new(StringComparer.Ordinal);

    public MappingContext(Hl7Message message, V2MappingOptions options, string trigger)
    {
        Message = message;
        Options = options;
        Trigger = trigger;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var segment in message.Segments)
        {
            counts[segment.Id] = counts.GetValueOrDefault(segment.Id) + 1;
            occurrences[segment] = counts[segment.Id];
        }

        Sender = V2Types.Code(V2Types.Text(message.Header[4].Component(1)))
            ?? V2Types.Code(V2Types.Text(message.Header[4].Component(2)))
            ?? V2Types.Code(V2Types.Text(message.Header[3].Component(1)))
            ?? "unknown-sender";
        Builder = new TransactionBuilder(options.Source ?? SenderSource(Sender), options.DemographicsAuthority);
    }

    /// <summary>
    /// The source of a feed that named none (the mapper used on its own): the sending facility, so that its keys are
    /// still scoped to what that sender wrote. Channels always name their source (their organisation or themselves).
    /// </summary>
    public static string SenderSource(string sender) => "urn:carehub:hl7v2-sender:" + V2Identifiers.Slug(sender);

    public Hl7Message Message { get; }

    public V2MappingOptions Options { get; }

    /// <summary>The trigger event (MSH-9.2, else EVN-1), e.g. A01.</summary>
    public string Trigger { get; }

    /// <summary>The sender's name for identifiers it assigns without an authority: MSH-4, else MSH-3.</summary>
    public string Sender { get; }

    public TransactionBuilder Builder { get; }

    public List<V2MappingWarning> Warnings { get; } = [];

    /// <summary>The fullUrl of the patient the message is about (the last PID mapped).</summary>
    public string? PatientUrl { get; set; }

    /// <summary>The identifier the patient is keyed by (NHS Number or primary MRN), for derived keys of its records.</summary>
    public Identifier? PatientKey { get; set; }

    public string? EncounterUrl { get; set; }

    public Identifier? EncounterKey { get; set; }

    /// <summary>The Organization for MSH-4, once mapped.</summary>
    public ResourceReference? SenderOrganization { get; set; }

    public TimeZoneInfo Zone => Options.SenderTimeZone;

    public int OccurrenceOf(Hl7Segment segment) => occurrences.GetValueOrDefault(segment, 1);

    public Hl7ErrorLocation Location(Hl7Segment segment, int field = 0, int repetition = 0, int component = 0) =>
        new(segment.Id, OccurrenceOf(segment), field, repetition, component);

    public void Warn(Hl7Segment segment, int field, string message, Hl7ErrorCode code = Hl7ErrorCode.MessageAccepted) =>
        Warnings.Add(new V2MappingWarning(Location(segment, field), message, code));

    /// <summary>Notes, once per segment id, a segment this mapping does not carry into FHIR.</summary>
    public void Unmapped(Hl7Segment segment)
    {
        if (unmappedSegments.Add(segment.Id))
        {
            Warnings.Add(new V2MappingWarning(Location(segment), $"{segment.Id} segments are not mapped to FHIR by this transformer."));
        }
    }

    public string? DateTime(Hl7Element element) => V2Types.FhirDateTime(V2Types.DateTime(element), Zone);

    public DateTimeOffset? Instant(Hl7Element element) => V2Types.Instant(V2Types.DateTime(element), Zone);

    public CodeableConcept? Concept(Hl7Element element, string? defaultTable = null) => V2Codes.Concept(element, Options, defaultTable, Sender);

    public List<CodeableConcept> Concepts(Hl7Element field, string? defaultTable = null) => V2Codes.Concepts(field, Options, defaultTable, Sender);

    /// <summary>A derived identifier for records v2 gives no identifier of their own (see README.md beside this file).</summary>
    public Identifier DerivedKey(string kind, params string?[] parts) =>
        new(V2Identifiers.SenderSystem("carehub-derived", kind, Options), V2Identifiers.Derived([kind, .. parts]));

    public static string KeyText(Identifier? identifier) => identifier is null ? string.Empty : $"{identifier.System}|{identifier.Value}";

    /// <summary>
    /// An XCN (one repetition) as a reference: a Practitioner created if none has the identifier XCN.1 (system from
    /// XCN.9, else scoped to the sender), or a display-only reference when XCN.1 is empty.
    /// </summary>
    public ResourceReference? Practitioner(Hl7Element xcn)
    {
        var name = V2Types.PractitionerName(xcn);
        var id = V2Types.Code(V2Types.Text(xcn.Component(1)));
        var display = name is null ? null : Display(name);
        if (id is null)
        {
            return display is null ? null : new ResourceReference { Display = display };
        }

        var authority = Hl7HierarchicDesignator.FromSubcomponents(xcn.Component(9));
        var typeCode = V2Types.Code(xcn.Component(13).Value);
        var identifier = new Identifier(
            V2Identifiers.AuthoritySystem(authority.IsEmpty ? null : authority, Options) ?? V2Identifiers.SenderSystem(Sender, typeCode ?? "practitioner", Options),
            id);
        var practitioner = new Practitioner { Identifier = [identifier] };
        if (name is not null)
        {
            practitioner.Name.Add(name);
        }

        var url = Builder.CreateIfNoneExist(practitioner, identifier);
        return new ResourceReference(url, display);
    }

    /// <summary>Every repetition of an XCN field as references.</summary>
    public List<ResourceReference> Practitioners(Hl7Element field)
    {
        var list = new List<ResourceReference>();
        foreach (var repetition in field.Repetitions)
        {
            if (Practitioner(repetition) is { } reference)
            {
                list.Add(reference);
            }
        }

        return list;
    }

    /// <summary>
    /// An organisation named by an HD (MSH-4) or an XON (PD1-3), created if none has its identifier: an OID as
    /// <c>urn:ietf:rfc:3986|urn:oid:...</c> (IG datatype-hd-to-organization), an ODS code under the ODS system, else a
    /// local system. Null when there is nothing to identify it by.
    /// </summary>
    public ResourceReference? Organization(string? code, string? name, Hl7HierarchicDesignator? authority, string? universalId, string? universalIdType)
    {
        Identifier? identifier = null;
        if (universalId is not null && V2Identifiers.IsOid(universalId))
        {
            identifier = new Identifier("urn:ietf:rfc:3986", "urn:oid:" + universalId);
        }
        else if (code is not null)
        {
            var system = authority is null || authority.IsEmpty ? null : V2Identifiers.AuthoritySystem(authority, Options);
            if (system is null && (string.Equals(universalIdType, "ODS", StringComparison.OrdinalIgnoreCase) || (Options.FacilityCodesAreOds && V2Identifiers.LooksLikeOds(code))))
            {
                system = V2Identifiers.OdsSystem;
            }

            identifier = new Identifier(system ?? V2Identifiers.LocalSystem("organization", Options), code);
        }

        if (identifier is null)
        {
            return name is null ? null : new ResourceReference { Display = name };
        }

        var organization = new Organization { Identifier = [identifier], Name = name ?? (identifier.System == V2Identifiers.OdsSystem ? null : code) };
        var url = Builder.CreateIfNoneExist(organization, identifier);
        return new ResourceReference(url, organization.Name ?? code);
    }

    public static string Display(HumanName name) =>
        string.Join(' ', name.Prefix.Concat(name.Given).Append(name.Family).Where(p => !string.IsNullOrEmpty(p)));

    public static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
