using CareHub.Hl7v2;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// A message that cannot be mapped: an unsupported message type or event (HL7 table 0357 codes 200, 201), or a field
/// the mapping cannot do without (101). <see cref="ToError"/> gives the ERR entry for the AR / AE acknowledgement
/// (HL7 v2 chapter 2.9.2: 2xx codes reject, content errors are errors). The text never contains patient data.
/// </summary>
public sealed class V2MappingException : Exception
{
    public V2MappingException(Hl7ErrorCode code, Hl7ErrorLocation location, string message)
        : base(message)
    {
        Code = code;
        Location = location;
    }

    /// <summary>The HL7 table 0357 code.</summary>
    public Hl7ErrorCode Code { get; }

    /// <summary>Where in the message the problem is (ERR-2).</summary>
    public Hl7ErrorLocation Location { get; }

    /// <summary>True when the message is rejected for its type rather than its content (answer AR / CR, not AE / CE).</summary>
    public bool IsRejection => Hl7ErrorCodes.IsRejection(Code);

    /// <summary>The ERR entry for an acknowledgement.</summary>
    public Hl7Error ToError() => new(Code, Location, Message);

    internal static V2MappingException RequiredFieldMissing(string segment, int occurrence, int field, string what) =>
        new(Hl7ErrorCode.RequiredFieldMissing, new Hl7ErrorLocation(segment, occurrence, field),
            $"{segment}-{field.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({what}) is required for this mapping and is empty.");
}
