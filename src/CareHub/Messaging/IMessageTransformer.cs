using CareHub.Hl7v2;

namespace CareHub.Messaging;

/// <summary>
/// Turns an accepted HL7 v2 message into what a channel's destinations receive. Registered by name (the channel's
/// <c>Transformer</c> setting); the host registers <c>pass-through</c> and <c>v2-to-fhir</c> (the HL7 v2 to FHIR mapper).
/// </summary>
public interface IMessageTransformer
{
    /// <summary>The name channels use to choose it.</summary>
    string Name { get; }

    /// <summary>Transforms the message.</summary>
    /// <exception cref="MessageTransformException">The message cannot be transformed; its HL7 table 0357 code goes into the ACK.</exception>
    TransformedContent Transform(Hl7Message message);

    /// <summary>Transforms a message received on <paramref name="channel"/>; transformers that write records use the channel's source.</summary>
    TransformedContent Transform(Hl7Message message, ChannelOptions channel) => Transform(message);
}

/// <summary>A transformed message: its text and media type (e.g. a FHIR transaction Bundle as application/fhir+json).</summary>
public sealed record TransformedContent(string Content, string ContentType, IReadOnlyList<string> Warnings)
{
    public const string Hl7v2 = "x-application/hl7-v2+er7";

    public const string FhirJson = "application/fhir+json";
}

/// <summary>
/// A message that a transformer will not take: unsupported type or event, or content it cannot map. The code is one of
/// HL7 table 0357 and decides between AR (2xx rejection codes) and AE in the ACK (HL7 v2 chapter 2.9.2).
/// </summary>
public sealed class MessageTransformException(Hl7ErrorCode code, string message, Hl7ErrorLocation? location = null, Exception? inner = null)
    : Exception(message, inner)
{
    public Hl7ErrorCode Code { get; } = code;

    public Hl7ErrorLocation? Location { get; } = location;
}

/// <summary>Sends the message on as received (re-encoded with segments ended by CR).</summary>
public sealed class PassThroughTransformer : IMessageTransformer
{
    public string Name => "pass-through";

    public TransformedContent Transform(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new TransformedContent(message.Encode(), TransformedContent.Hl7v2, []);
    }
}

/// <summary>
/// The HL7 v2 to FHIR mapper as a channel transformer: the message becomes a FHIR transaction Bundle for the record; a
/// message the mapper will not take is refused with its HL7 table 0357 code and location (AR or AE in the ACK).
/// </summary>
public sealed class V2ToFhirTransformer(Mapping.V2MappingOptions options) : IMessageTransformer
{
    public V2ToFhirTransformer()
        : this(Mapping.V2MappingOptions.Default)
    {
    }

    public string Name => "v2-to-fhir";

    public TransformedContent Transform(Hl7Message message) => Map(message, options);

    /// <summary>
    /// The records are the channel's own source records (see <see cref="Mapping.V2MappingOptions.Source"/>), and the
    /// channel's placeholder NHS Numbers are no identity.
    /// </summary>
    public TransformedContent Transform(Hl7Message message, ChannelOptions channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return Map(message, options with
        {
            Source = channel.SourceUri,
            DemographicsAuthority = channel.DemographicsAgreement is not null,
            PlaceholderNhsNumbers = channel.EffectivePlaceholderNhsNumbers,
        });
    }

    private static TransformedContent Map(Hl7Message message, Mapping.V2MappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            var result = Mapping.V2ToFhir.Map(message, options);
            return new TransformedContent(Fhir.FhirSerialization.ToJson(result.Bundle), TransformedContent.FhirJson, result.Warnings.Select(w => w.ToString()).ToList());
        }
        catch (Mapping.V2MappingException e)
        {
            throw new MessageTransformException(e.Code, e.Message, e.Location, e);
        }
    }
}
