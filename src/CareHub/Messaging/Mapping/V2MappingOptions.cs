using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>How <see cref="V2ToFhir"/> turns HL7 v2 messages into FHIR transactions.</summary>
public sealed record V2MappingOptions
{
    /// <summary>The defaults: senders in England, cancelled admissions kept as cancelled encounters.</summary>
    public static V2MappingOptions Default { get; } = new();

    /// <summary>
    /// The zone of the sender's clock, used for HL7 date/times sent without an offset (HL7 v2 chapter 2A.22 says such
    /// a value is the sender's local time). FHIR dateTimes with a time need an offset. Default Europe/London.
    /// </summary>
    public TimeZoneInfo SenderTimeZone { get; init; } = LondonOrUtc();

    /// <summary>
    /// Base of the identifier systems CareHub makes for assigning authorities that are not OIDs or known NHS
    /// authorities, e.g. <c>{base}/good-health-hospital</c>. Identifiers under it are stable: the same authority
    /// always gives the same system, so repeated messages find the same resources. Must end with '/'.
    /// </summary>
    public Uri LocalIdentifierBase { get; init; } = new("https://fhir.carehub.local/Id/");

    /// <summary>Base of the code systems CareHub makes for coding system names it does not know (CWE.3), e.g. local "99ABC" tables. Must end with '/'.</summary>
    public Uri LocalCodeSystemBase { get; init; } = new("https://fhir.carehub.local/CodeSystem/");

    /// <summary>
    /// Assigning authorities (CX.4 namespace id) whose identifiers are NHS Numbers, compared ignoring case. The identifier
    /// type codes in <see cref="NhsNumberTypeCodes"/> are the other way an NHS Number is recognised.
    /// </summary>
    public IReadOnlySet<string> NhsNumberAuthorities { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "NHS", "NHSNBR", "NHS NUMBER" };

    /// <summary>Identifier type codes (CX.5, HL7 table 0203) that mark an NHS Number: NH is the table's "National Health Plan Identifier".</summary>
    public IReadOnlySet<string> NhsNumberTypeCodes { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "NH", "NHSNMBR" };

    /// <summary>
    /// NHS Numbers that feeds send when they do not know the patient's (a placeholder such as 9999999999, which passes the
    /// Modulus 11 check): treated as absent, never as an identity, so that they neither key nor match a patient.
    /// </summary>
    public IReadOnlySet<string> PlaceholderNhsNumbers { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "9999999999" };

    /// <summary>
    /// Whether a bare MSH-4 (or PD1-3) facility code shaped like an ODS code (3 to 6 letters and digits, e.g. RX1, A81001)
    /// is taken as one. True suits senders inside the NHS; a facility whose HD names an ISO OID is never read as ODS.
    /// </summary>
    public bool FacilityCodesAreOds { get; init; } = true;

    /// <summary>
    /// What an A11 (cancel admit / visit) makes of the encounter: <see cref="Encounter.EncounterStatus.Cancelled"/> ("ended
    /// before it began", FHIR R4 encounter-status) or <see cref="Encounter.EncounterStatus.EnteredInError"/> for senders
    /// that only cancel admissions recorded by mistake.
    /// </summary>
    public Encounter.EncounterStatus CancelledAdmissionStatus { get; init; } = Encounter.EncounterStatus.Cancelled;

    /// <summary>
    /// The <c>meta.source</c> of every record this feed writes (the ODS organisation URL of the sending organisation, see
    /// docs/governance.md, or the channel's own URI). Every conditional key is scoped to it, so a feed updates only its own
    /// source records and never another organisation's record with the same NHS Number; the MPI links them into one
    /// person. Null: derived from the sending facility (MSH-4, else MSH-3).
    /// </summary>
    public string? Source { get; init; }

    /// <summary>
    /// True only for a feed that a data sharing agreement makes authoritative for demographics: its Patient keys (NHS
    /// Number or MRN) find the patient's record whoever wrote it, and its demographics replace that record's. Default false.
    /// </summary>
    public bool DemographicsAuthority { get; init; }

    private static TimeZoneInfo LondonOrUtc() =>
        TimeZoneInfo.TryFindSystemTimeZoneById("Europe/London", out var zone) ? zone : TimeZoneInfo.Utc;
}
