using CareHub.Governance;

namespace CareHub.Records;

/// <summary>
/// Who asks, through which face, and where the record lives for them. <see cref="BaseUrl"/> is the FHIR base the
/// client used (no trailing slash), for full URLs and links.
/// </summary>
public sealed record RequestContext(Principal Principal, string BaseUrl, string CorrelationId, string? RemoteAddress = null)
{
    /// <summary>What the client asked to get back from writes (FHIR R4 http.html, "Prefer").</summary>
    public ReturnPreference Return { get; init; } = ReturnPreference.Representation;

    /// <summary>Prefer: handling=strict makes unknown search parameters an error.</summary>
    public bool StrictHandling { get; init; }

    /// <summary>Why the caller asks (treatment by default; ETREAT with a reason is break-glass), for the policy and the audit.</summary>
    public AccessPurpose Purpose { get; init; } = AccessPurpose.Default;

    /// <summary>
    /// Why a user records a relationship with a patient their organisation had none with (an Encounter, episode, care team
    /// or referral of their own): without it such a write is refused; with it the write is audited as self-claimed.
    /// </summary>
    public string? RelationshipReason { get; init; }
    /// <summary>How much a search in this request may ask for (its own criteria, conditions and Bundle entries alike).</summary>
    public CareHub.Search.SearchLimits SearchLimits { get; init; } = CareHub.Search.SearchLimits.Default;
}

public enum ReturnPreference
{
    Minimal,
    Representation,
    OperationOutcome,
}
