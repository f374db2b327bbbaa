using System.Security.Cryptography;
using System.Text;
using CareHub.Hl7v2;
using CareHub.Identity;
using CareHub.Messaging.Mapping;

namespace CareHub.Messaging;

/// <summary>
/// The partition of a channel's queues that a message joins: its patient, read from PID's identifiers, so that each
/// patient's messages reach a destination in order while a message that fails holds up only its own patient. The key
/// is one identifier, chosen to be the same on every message the sender sends about the patient: the sender's own
/// record number (the first PID-3 of type MR), else its first other local identifier, else the NHS Number. A
/// placeholder NHS Number (<see cref="ChannelOptions.PlaceholderNhsNumbers"/>) is no identity and is left out. The key
/// is a hash, so queues and admin summaries never show the identifier itself; messages that name no patient share the
/// empty partition.
/// </summary>
public static class PatientPartition
{
    /// <summary>The partition of messages without a patient identifier.</summary>
    public const string None = "";

    /// <summary>The partition key of a message (an opaque hex string), or <see cref="None"/>.</summary>
    public static string Of(Hl7Message message, V2MappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Segment("PID") is null)
        {
            return None;
        }

        IReadOnlyList<Hl7.Fhir.Model.Identifier> identifiers;
        try
        {
            identifiers = V2ToFhir.PatientIdentifiers(message, options);
        }
        catch (Hl7ParseException)
        {
            return None;
        }

        var chosen = identifiers.FirstOrDefault(i => i.Type?.Coding.Any(c => c.Code == "MR") == true)
            ?? identifiers.FirstOrDefault(i => i.System != NhsNumber.IdentifierSystem)
            ?? identifiers.FirstOrDefault();
        if (chosen is null)
        {
            return None;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(chosen.System + "|" + chosen.Value));
        return Convert.ToHexStringLower(hash)[..24];
    }
}
