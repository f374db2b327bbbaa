namespace CareHub.Hl7v2;

/// <summary>
/// HL7 table 0357 (message error condition codes), used in ERR-3 (v2.5 and later) and in ERR-1.4 before.
/// </summary>
public enum Hl7ErrorCode
{
    /// <summary>Message accepted: success, no error.</summary>
    MessageAccepted = 0,

    /// <summary>Segment sequence error: segments out of order, or required segments missing.</summary>
    SegmentSequenceError = 100,

    /// <summary>Required field missing.</summary>
    RequiredFieldMissing = 101,

    /// <summary>Data type error: a field's content does not match its data type.</summary>
    DataTypeError = 102,

    /// <summary>Table value not found.</summary>
    TableValueNotFound = 103,

    /// <summary>Value too long (v2.7 and later).</summary>
    ValueTooLong = 104,

    /// <summary>Unsupported message type.</summary>
    UnsupportedMessageType = 200,

    /// <summary>Unsupported event code.</summary>
    UnsupportedEventCode = 201,

    /// <summary>Unsupported processing id.</summary>
    UnsupportedProcessingId = 202,

    /// <summary>Unsupported version id.</summary>
    UnsupportedVersionId = 203,

    /// <summary>Unknown key identifier: e.g. a transaction on a patient that does not exist.</summary>
    UnknownKeyIdentifier = 204,

    /// <summary>Duplicate key identifier.</summary>
    DuplicateKeyIdentifier = 205,

    /// <summary>Application record locked.</summary>
    ApplicationRecordLocked = 206,

    /// <summary>Application internal error.</summary>
    ApplicationInternalError = 207,
}

/// <summary>Text for the codes of HL7 table 0357.</summary>
public static class Hl7ErrorCodes
{
    /// <summary>The table's coding system name, as written in CWE.3.</summary>
    public const string TableName = "HL70357";

    /// <summary>The display text of a code, as printed in table 0357.</summary>
    public static string Describe(Hl7ErrorCode code) => code switch
    {
        Hl7ErrorCode.MessageAccepted => "Message accepted",
        Hl7ErrorCode.SegmentSequenceError => "Segment sequence error",
        Hl7ErrorCode.RequiredFieldMissing => "Required field missing",
        Hl7ErrorCode.DataTypeError => "Data type error",
        Hl7ErrorCode.TableValueNotFound => "Table value not found",
        Hl7ErrorCode.ValueTooLong => "Value too long",
        Hl7ErrorCode.UnsupportedMessageType => "Unsupported message type",
        Hl7ErrorCode.UnsupportedEventCode => "Unsupported event code",
        Hl7ErrorCode.UnsupportedProcessingId => "Unsupported processing id",
        Hl7ErrorCode.UnsupportedVersionId => "Unsupported version id",
        Hl7ErrorCode.UnknownKeyIdentifier => "Unknown key identifier",
        Hl7ErrorCode.DuplicateKeyIdentifier => "Duplicate key identifier",
        Hl7ErrorCode.ApplicationRecordLocked => "Application record locked",
        Hl7ErrorCode.ApplicationInternalError => "Application internal error",
        _ => "Unknown error",
    };

    /// <summary>
    /// True for the 2xx codes, which reject a message for reasons unrelated to its content; HL7 v2
    /// chapter 2.9.2 answers those with AR (original mode) or CR (enhanced mode), content errors with AE / CE.
    /// </summary>
    public static bool IsRejection(Hl7ErrorCode code) =>
        code is Hl7ErrorCode.UnsupportedMessageType or Hl7ErrorCode.UnsupportedEventCode
            or Hl7ErrorCode.UnsupportedProcessingId or Hl7ErrorCode.UnsupportedVersionId;
}
