using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// HL7 v2 to FHIR R4, after the HL7 "V2 to FHIR" implementation guide's message and segment maps, for the messages a
/// care record takes in: the ADT events that change patient, visit, identifier or allergy state (the table in
/// V2ToFhir.Adt.cs), ORU^R01 and R30 to R32, MDM^T02 and SIU^S12. The result is
/// one <c>transaction</c> Bundle for the record's one door (RecordService.ProcessBundleAsync): patients and encounters by
/// conditional update on their identifiers, so a repeated message updates rather than duplicates; everything else
/// refers to them through the transaction's urn:uuid fullUrls. The rules beyond the IG (identifier systems, keys,
/// what ORU/MDM/SIU may change) are in README.md beside this file.
/// </summary>
public static partial class V2ToFhir
{
    /// <summary>The message types and events mapped, e.g. "ADT^A01".</summary>
    public static IReadOnlyList<string> Supported =>
        [.. AdtActions.Keys.Order(StringComparer.Ordinal).Select(e => "ADT^" + e), "ORU^R01", "ORU^R30", "ORU^R31", "ORU^R32", "MDM^T02", "SIU^S12"];

    /// <summary>Maps one message to a transaction Bundle.</summary>
    /// <exception cref="V2MappingException">
    /// The message type (200) or event (201) is not supported, or a field the mapping needs is empty (101).
    /// </exception>
    public static V2MappingResult Map(Hl7Message message, V2MappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.LocalIdentifierBase.AbsoluteUri.EndsWith('/') || !options.LocalCodeSystemBase.AbsoluteUri.EndsWith('/'))
        {
            throw new ArgumentException("LocalIdentifierBase and LocalCodeSystemBase must end with '/', so that names are appended to them.", nameof(options));
        }

        var type = message.MessageType.Trim().ToUpperInvariant();
        var trigger = message.TriggerEvent.Trim().ToUpperInvariant();
        if (trigger.Length == 0)
        {
            // Before v2.3.1 some senders leave MSH-9.2 empty and name the event only in EVN-1.
            trigger = message.Get("EVN-1").Trim().ToUpperInvariant();
        }

        var eventLocation = new Hl7ErrorLocation("MSH", 1, 9, 1, 2);
        var supported = type switch
        {
            "ADT" => AdtActions.ContainsKey(trigger),
            "ORU" => trigger is "R01" or "R30" or "R31" or "R32",
            "MDM" => trigger == "T02",
            "SIU" => trigger == "S12",
            _ => throw new V2MappingException(Hl7ErrorCode.UnsupportedMessageType, new Hl7ErrorLocation("MSH", 1, 9, 1, 1),
                $"Message type '{Printable(type)}' is not supported; supported are {string.Join(", ", Supported)}."),
        };
        if (!supported)
        {
            throw new V2MappingException(Hl7ErrorCode.UnsupportedEventCode, eventLocation,
                $"Event '{Printable(trigger)}' of message type {type} is not supported; supported are {string.Join(", ", Supported)}.");
        }

        var context = new MappingContext(message, options, trigger);
        MapSender(context);
        switch (type)
        {
            case "ADT":
                MapAdt(context);
                break;
            case "ORU":
                MapResults(context);
                break;
            case "MDM":
                MapDocument(context);
                break;
            default:
                MapSchedule(context);
                break;
        }

        AddProvenance(context, type);
        return new V2MappingResult(context.Builder.Bundle, context.Warnings);
    }

    private static string Printable(string text) => text.Length > 20 ? text[..20] : text;

    /// <summary>MSH-4 (sending facility) as the Organization that sent the message (IG segment-msh-to-messageheader, source).</summary>
    private static void MapSender(MappingContext context)
    {
        var msh4 = context.Message.Header[4];
        var code = V2Types.Code(V2Types.Text(msh4.Component(1)));
        var universal = V2Types.Code(V2Types.Text(msh4.Component(2)));
        var universalType = V2Types.Code(V2Types.Text(msh4.Component(3)));
        context.SenderOrganization = context.Organization(code, null, null, universal, universalType);
    }

    /// <summary>
    /// A Provenance for the message (IG segment-msh-to-provenance): what it wrote, when it was sent (MSH-7), who sent it
    /// (MSH-4), the event (HL7 table 0003) and the message control id (MSH-10) as the source entity.
    /// </summary>
    private static void AddProvenance(MappingContext context, string type)
    {
        var targets = context.Builder.Entries
            .Where(e => e.Resource is not (Organization or Practitioner))
            .Select(e => new ResourceReference(e.FullUrl))
            .ToList();
        if (targets.Count == 0)
        {
            return;
        }

        var header = context.Message.Header;
        var sender = context.SenderOrganization ?? new ResourceReference { Display = V2Types.Text(header[3].Component(1)) ?? context.Sender };
        var provenance = new Provenance
        {
            Target = targets,
            Recorded = context.Instant(header[7]) ?? DateTimeOffset.UtcNow,
            Activity = new CodeableConcept(V2Codes.V2TablePrefix + "0003", context.Trigger) { Text = $"{type}^{context.Trigger}" },
            Agent =
            [
                new Provenance.AgentComponent
                {
                    Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author"),
                    Who = sender,
                },
            ],
        };
        if (V2Types.Code(context.Message.ControlId) is { } controlId)
        {
            provenance.Entity.Add(new Provenance.EntityComponent
            {
                Role = Provenance.ProvenanceEntityRole.Source,
                What = new ResourceReference
                {
                    Identifier = new Identifier(V2Identifiers.SenderSystem(context.Sender, "message-control-id", context.Options), controlId),
                    Display = $"HL7 v2 {type}^{context.Trigger} message",
                },
            });
        }

        context.Builder.Create(provenance);
    }

    /// <summary>The segments in message order after MSH, for mappers that walk groups (OBR/OBX/NTE, PID/MRG).</summary>
    private static IEnumerable<Hl7Segment> Body(MappingContext context) => context.Message.Segments.Skip(1);
}
