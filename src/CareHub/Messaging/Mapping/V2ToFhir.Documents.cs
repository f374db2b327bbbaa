using System.Text;
using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private static readonly HashSet<string> DocumentSegments = new(StringComparer.Ordinal) { "EVN", "PID", "PD1", "PV1", "PV2", "TXA", "OBX", "NTE", "SFT", "ORC", "OBR", "TQ1" };

    /// <summary>
    /// MDM^T02 (original document notification and content) to DocumentReference (IG segment-txa-to-documentreference):
    /// keyed by the unique document number TXA-12 (also its masterIdentifier); the report text (OBX of type TX, FT, ST)
    /// becomes one text/plain attachment and each ED / RP OBX an attachment of its own.
    /// </summary>
    private static void MapDocument(MappingContext context)
    {
        WritePatient(context, ownsDemographics: false);
        WriteEncounter(context, ownsVisit: false);
        var txa = context.Message.Segment("TXA") ?? throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("TXA"), "An MDM message needs a TXA segment.");
        var key = V2Identifiers.FromEi(txa[12], context.Sender, "document", context.Options)
            ?? throw V2MappingException.RequiredFieldMissing("TXA", 1, 12, "unique document number");
        var document = new DocumentReference
        {
            MasterIdentifier = (Identifier)key.DeepCopy(),
            Identifier = [key],
            Status = V2Types.Code(txa[19].Value)?.ToUpperInvariant() switch
            {
                "CA" => DocumentReferenceStatus.EnteredInError,
                "OB" => DocumentReferenceStatus.Superseded,
                _ => DocumentReferenceStatus.Current,
            },
            DocStatus = V2Types.Code(txa[17].Value)?.ToUpperInvariant() switch
            {
                "AU" or "LA" => CompositionStatus.Final,
                "DI" or "DO" or "IP" or "IN" or "PA" => CompositionStatus.Preliminary,
                _ => null,
            },
            Type = context.Concept(txa[2], "0270"),
            Subject = new ResourceReference(context.PatientUrl),
            Date = context.Instant(txa[4]) ?? context.Instant(txa[6]),
        };
        document.Author.AddRange(context.Practitioners(txa[5]));
        document.Author.AddRange(context.Practitioners(txa[9]));
        document.Authenticator = context.Practitioner(txa[22].Repetition(1));
        if (context.EncounterUrl is not null)
        {
            document.Context = new DocumentReference.ContextComponent { Encounter = [new ResourceReference(context.EncounterUrl)] };
        }

        var text = new StringBuilder();
        foreach (var obx in context.Message.SegmentsWithId("OBX"))
        {
            var valueType = V2Types.Code(obx[2].Value)?.ToUpperInvariant();
            var value = obx[5];
            switch (valueType)
            {
                case "TX" or "FT" or "ST":
                    if (Joined(context, value) is { } line)
                    {
                        text.Append(line).Append('\n');
                    }

                    break;
                case "ED":
                    document.Content.Add(new DocumentReference.ContentComponent { Attachment = EncapsulatedData(context, obx, value.Repetition(1)) });
                    break;
                case "RP" when ReferencePointer(value.Repetition(1)) is { } pointer:
                    document.Content.Add(new DocumentReference.ContentComponent { Attachment = pointer });
                    break;
                default:
                    context.Warn(obx, 2, $"OBX value type '{valueType}' is not document content; it is not mapped.");
                    break;
            }
        }

        if (text.Length > 0)
        {
            document.Content.Insert(0, new DocumentReference.ContentComponent
            {
                Attachment = new Attachment
                {
                    ContentType = "text/plain",
                    Data = Encoding.UTF8.GetBytes(text.ToString().TrimEnd('\n')),
                    Creation = context.DateTime(txa[4]),
                },
            });
        }

        if (document.Content.Count == 0)
        {
            throw V2MappingException.RequiredFieldMissing("OBX", 1, 5, "document content");
        }

        context.Builder.Put(document, key);
        foreach (var segment in Body(context))
        {
            if (!DocumentSegments.Contains(segment.Id))
            {
                context.Unmapped(segment);
            }
        }
    }
}
