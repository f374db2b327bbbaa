namespace CareHub.Hl7v2;

/// <summary>MSA-1 acknowledgment codes (HL7 table 0008).</summary>
public enum Hl7AckCode
{
    /// <summary>Original mode: application accept.</summary>
    AA,

    /// <summary>Original mode: application error.</summary>
    AE,

    /// <summary>Original mode: application reject.</summary>
    AR,

    /// <summary>Enhanced mode: commit accept.</summary>
    CA,

    /// <summary>Enhanced mode: commit error.</summary>
    CE,

    /// <summary>Enhanced mode: commit reject.</summary>
    CR,
}

/// <summary>The acknowledgment rules a message asks for (HL7 v2 chapter 2.9).</summary>
public enum Hl7AckMode
{
    /// <summary>MSH-15 and MSH-16 empty: one application acknowledgment, AA / AE / AR.</summary>
    Original,

    /// <summary>MSH-15 or MSH-16 set: an accept acknowledgment CA / CE / CR, then an application one.</summary>
    Enhanced,
}

/// <summary>What an ACK reports: the message was taken, it had errors, or it was refused.</summary>
public enum Hl7AckOutcome
{
    /// <summary>AA / CA.</summary>
    Accept,

    /// <summary>AE / CE.</summary>
    Error,

    /// <summary>AR / CR.</summary>
    Reject,
}

/// <summary>
/// Builds general acknowledgments (ACK) for received messages, in original or enhanced mode
/// (HL7 v2.5 chapter 2.9 and 2.14.1; MSA chapter 2.15.8; ERR chapter 2.15.5).
/// </summary>
public static class Hl7Acknowledgement
{
    /// <summary>The acknowledgment mode a message asks for.</summary>
    public static Hl7AckMode ModeOf(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.AcceptAcknowledgmentType.Length > 0 || message.ApplicationAcknowledgmentType.Length > 0
            ? Hl7AckMode.Enhanced
            : Hl7AckMode.Original;
    }

    /// <summary>The MSA-1 code for an outcome in a mode: AA/AE/AR in original mode, CA/CE/CR in enhanced mode.</summary>
    public static Hl7AckCode CodeFor(Hl7AckMode mode, Hl7AckOutcome outcome) => (mode, outcome) switch
    {
        (Hl7AckMode.Original, Hl7AckOutcome.Accept) => Hl7AckCode.AA,
        (Hl7AckMode.Original, Hl7AckOutcome.Error) => Hl7AckCode.AE,
        (Hl7AckMode.Original, _) => Hl7AckCode.AR,
        (_, Hl7AckOutcome.Accept) => Hl7AckCode.CA,
        (_, Hl7AckOutcome.Error) => Hl7AckCode.CE,
        _ => Hl7AckCode.CR,
    };

    /// <summary>
    /// Whether the sender asked for an accept acknowledgment with this outcome (MSH-15, HL7 table 0155:
    /// AL always, NE never, ER on error or reject, SU on success). Original mode always acknowledges.
    /// </summary>
    public static bool IsAcceptAckRequested(Hl7Message message, Hl7AckOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (ModeOf(message) == Hl7AckMode.Original)
        {
            return true;
        }

        return message.AcceptAcknowledgmentType switch
        {
            "NE" => false,
            "ER" => outcome != Hl7AckOutcome.Accept,
            "SU" => outcome == Hl7AckOutcome.Accept,
            _ => true,
        };
    }

    /// <summary>An accept: AA in original mode, CA in enhanced mode.</summary>
    public static Hl7Message Accept(Hl7Message message, Hl7AckOptions? options = null) =>
        Create(message, CodeFor(ModeOf(message), Hl7AckOutcome.Accept), [], options);

    /// <summary>
    /// An error ACK for the errors: AR / CR when the first error is a rejection code (200 to 203), else
    /// AE / CE, in the mode the message asks for.
    /// </summary>
    public static Hl7Message Error(Hl7Message message, IReadOnlyList<Hl7Error> errors, Hl7AckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0)
        {
            throw new ArgumentException("an error ACK needs at least one error", nameof(errors));
        }

        Hl7AckOutcome outcome = Hl7ErrorCodes.IsRejection(errors[0].Code) ? Hl7AckOutcome.Reject : Hl7AckOutcome.Error;
        return Create(message, CodeFor(ModeOf(message), outcome), errors, options);
    }

    /// <summary>An error ACK for one error.</summary>
    public static Hl7Message Error(Hl7Message message, Hl7Error error, Hl7AckOptions? options = null) => Error(message, [error], options);

    /// <summary>
    /// Builds an ACK: MSH with sending and receiving application and facility swapped, MSH-9 ACK (with the
    /// trigger event from v2.2 and the structure ACK from v2.3.1), the original's processing id, version and
    /// character set; MSA-1 <paramref name="code"/> and MSA-2 the original MSH-10; one ERR per error.
    /// </summary>
    public static Hl7Message Create(Hl7Message message, Hl7AckCode code, IReadOnlyList<Hl7Error>? errors = null, Hl7AckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        options ??= new Hl7AckOptions();
        errors ??= [];
        Hl7Delimiters d = message.Delimiters;
        Hl7Segment original = message.Header;
        // A blank MSH-12 (spaces included) still gets an ACK, in the version this library writes.
        string version = string.IsNullOrWhiteSpace(message.Version) ? "2.5.1" : message.Version;
        string trigger = message.TriggerEvent;

        string messageType = !Hl7Versions.IsAtLeast(version, 2, 2) ? "ACK"
            : !Hl7Versions.IsAtLeast(version, 2, 4) && version != "2.3.1" ? Hl7Composite.Join(d, d.Component, "ACK", trigger)
            : Hl7Composite.Join(d, d.Component, "ACK", trigger, "ACK");
        Hl7Message ack = Hl7Message.Create(messageType, version, options.ControlId, d, options.Timestamp);
        Hl7Segment msh = ack.Header;
        msh.SetRaw(3, options.SendingApplication ?? original.Field(5).Raw);
        msh.SetRaw(4, options.SendingFacility ?? original.Field(6).Raw);
        msh.SetRaw(5, original.Field(3).Raw);
        msh.SetRaw(6, original.Field(4).Raw);
        if (!original.Field(11).IsEmpty)
        {
            msh.SetRaw(11, original.Field(11).Raw);
        }

        msh.SetRaw(12, original.Field(12).IsEmpty ? version : original.Field(12).Raw);
        if (!original.Field(18).IsEmpty)
        {
            msh.SetRaw(18, original.Field(18).Raw);
        }

        Hl7Segment msa = ack.AddSegment("MSA");
        msa.Set(1, code.ToString());
        msa.SetRaw(2, original.Field(10).Raw);
        bool before25 = !Hl7Versions.IsAtLeast(version, 2, 5);
        string? text = options.TextMessage ?? (before25 && errors.Count > 0 ? errors[0].Diagnostic ?? Hl7ErrorCodes.Describe(errors[0].Code) : null);
        if (!string.IsNullOrEmpty(text))
        {
            msa.Set(3, text);
        }

        if (before25 && errors.Count > 0 && Hl7Versions.IsAtLeast(version, 2, 2))
        {
            // MSA-6 (error condition, table 0357) existed from v2.2 until ERR-3 replaced it in v2.5.
            msa.SetRaw(6, CodedError(d, d.Component, errors[0].Code));
        }

        foreach (Hl7Error error in errors)
        {
            AddErr(ack, error, before25);
        }

        return ack;
    }

    /// <summary>
    /// Builds an ACK for bytes that failed to parse, from their MSH alone: AR / CR when the failure is a
    /// rejection code (200 to 203), else AE / CE. Returns null when not even MSH can be read: then there is
    /// no control id to acknowledge, and the sender can only be told by closing or logging.
    /// </summary>
    public static Hl7Message? ForUnparseable(ReadOnlySpan<byte> raw, Hl7ParseException error, Hl7AckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        Hl7Message? header = ReadHeaderOnly(raw);
        if (header is null)
        {
            return null;
        }

        Hl7AckOutcome outcome = Hl7ErrorCodes.IsRejection(error.ErrorCode) ? Hl7AckOutcome.Reject : Hl7AckOutcome.Error;
        return Create(header, CodeFor(ModeOf(header), outcome), [error.ToError()], options);
    }

    /// <summary>Reads just the MSH segment of raw bytes, leniently; null when there is none or its delimiters are not legal.</summary>
    internal static Hl7Message? ReadHeaderOnly(ReadOnlySpan<byte> raw)
    {
        string text;
        try
        {
            text = Hl7CharacterSets.Decode(raw);
        }
        catch (Hl7ParseException)
        {
            // An unknown character set still leaves the ASCII header readable.
            text = System.Text.Encoding.Latin1.GetString(raw);
        }

        int start = text.IndexOf("MSH", StringComparison.Ordinal);
        while (start > 0 && text[start - 1] is not ('\r' or '\n' or '\uFEFF'))
        {
            start = text.IndexOf("MSH", start + 3, StringComparison.Ordinal);
        }

        if (start < 0)
        {
            return null;
        }

        int end = text.AsSpan(start).IndexOfAny('\r', '\n');
        string line = end < 0 ? text[start..] : text.Substring(start, end);
        try
        {
            return Hl7Message.FromSegments(Hl7Reader.Split(line.AsMemory()), new Hl7ParseOptions { RequireHeaderFields = false });
        }
        catch (Hl7ParseException)
        {
            return null;
        }
    }

    private static void AddErr(Hl7Message ack, Hl7Error error, bool before25)
    {
        Hl7Delimiters d = ack.Delimiters;
        Hl7Segment err = ack.AddSegment("ERR");
        if (before25)
        {
            // Before v2.5, ERR-1 (ELD) carried both: segment^sequence^field^code&text&HL70357.
            Hl7ErrorLocation l = error.Location ?? new Hl7ErrorLocation(string.Empty, 0);
            string eld = Hl7Composite.JoinEncoded(d.Component,
                Hl7Escaping.Escape(l.SegmentId, d),
                l.SegmentSequence > 0 && l.SegmentId.Length > 0 ? Hl7Message.Format(l.SegmentSequence) : string.Empty,
                l.Field > 0 ? Hl7Message.Format(l.Field) : string.Empty,
                CodedError(d, d.Subcomponent, error.Code));
            err.SetRaw(1, eld);
        }

        // From v2.5 (chapter 2.15.5): ERR-2 location, ERR-3 code, ERR-4 severity, ERR-7 diagnostics. Written for
        // older versions too: receivers ignore fields their version does not define, and newer ones find them.
        if (error.Location is { } location)
        {
            err.SetRaw(2, location.Encode(d));
        }

        err.SetRaw(3, CodedError(d, d.Component, error.Code));
        err.Set(4, error.Severity.ToString());
        if (!string.IsNullOrEmpty(error.Diagnostic))
        {
            err.Set(7, error.Diagnostic);
        }
    }

    private static string CodedError(Hl7Delimiters d, char separator, Hl7ErrorCode code) =>
        new Hl7CodedElement(Hl7Message.Format((int)code), Hl7ErrorCodes.Describe(code), Hl7ErrorCodes.TableName).Encode(d, separator);
}

/// <summary>Choices for building an ACK.</summary>
public sealed record Hl7AckOptions
{
    /// <summary>MSH-10 of the ACK; a new id when null.</summary>
    public string? ControlId { get; init; }

    /// <summary>MSH-7 of the ACK; now when null.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>MSA-3 text message. It is deprecated from v2.5 in favour of ERR, so it is only written when given.</summary>
    public string? TextMessage { get; init; }

    /// <summary>
    /// MSH-3 of the ACK as encoded text (HD); null takes the original's MSH-5, as a receiver answers as the
    /// application the sender addressed.
    /// </summary>
    public string? SendingApplication { get; init; }

    /// <summary>MSH-4 of the ACK as encoded text (HD); null takes the original's MSH-6.</summary>
    public string? SendingFacility { get; init; }
}
