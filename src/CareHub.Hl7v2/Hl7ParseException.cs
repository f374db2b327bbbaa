namespace CareHub.Hl7v2;

/// <summary>
/// A message could not be parsed. Carries the HL7 table 0357 code and, where known, the location, so that
/// the failure can be answered with an AE/AR ACK (see <see cref="Hl7Acknowledgement.ForUnparseable(ReadOnlySpan{byte}, Hl7ParseException, Hl7AckOptions?)"/>).
/// </summary>
public sealed class Hl7ParseException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public Hl7ParseException(string message, Hl7ErrorCode errorCode, Hl7ErrorLocation? location = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        Location = location;
    }

    /// <summary>The HL7 table 0357 code that describes the failure.</summary>
    public Hl7ErrorCode ErrorCode { get; }

    /// <summary>Where the failure is, when it can be pinned to a segment or field.</summary>
    public Hl7ErrorLocation? Location { get; }

    /// <summary>The failure as an error to put in an ACK.</summary>
    public Hl7Error ToError() => new(ErrorCode, Location, Message);
}

/// <summary>One error to report in an ERR segment.</summary>
/// <param name="Code">HL7 table 0357 code (ERR-3).</param>
/// <param name="Location">Error location (ERR-2), when known.</param>
/// <param name="Diagnostic">Text for ERR-7 (diagnostic information) and MSA-3; never put patient data here.</param>
/// <param name="Severity">ERR-4, HL7 table 0516: E (error), W (warning), I (information), F (fatal).</param>
public sealed record Hl7Error(Hl7ErrorCode Code, Hl7ErrorLocation? Location = null, string? Diagnostic = null, char Severity = 'E');
