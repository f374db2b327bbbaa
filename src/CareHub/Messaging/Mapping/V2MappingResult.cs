using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// The FHIR <c>transaction</c> Bundle a message maps to, and what was left out or guessed on the way. Warnings never
/// contain patient data; a channel may send them back as ERR segments of severity W.
/// </summary>
public sealed record V2MappingResult(Bundle Bundle, IReadOnlyList<V2MappingWarning> Warnings);

/// <summary>Something in the message that was not mapped, or mapped by a fallback rule.</summary>
public sealed record V2MappingWarning(Hl7ErrorLocation Location, string Message, Hl7ErrorCode Code = Hl7ErrorCode.MessageAccepted)
{
    /// <summary>The warning as an ERR entry (severity W) for an acknowledgement.</summary>
    public Hl7Error ToError() => new(Code, Location, Message, 'W');

    /// <inheritdoc/>
    public override string ToString() => $"{Location}: {Message}";
}
