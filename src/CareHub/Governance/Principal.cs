using System.Text;

namespace CareHub.Governance;

/// <summary>What kind of caller a principal is; it decides which SMART scope context applies.</summary>
public enum PrincipalKind
{
    /// <summary>A backend system acting for itself (SMART Backend Services, client credentials).</summary>
    System,

    /// <summary>A person working in a care setting: clinician, care worker, administrator.</summary>
    User,

    /// <summary>A citizen looking at their own record.</summary>
    Patient,
}

/// <summary>
/// Who is calling, as established by authentication. Immutable; carries identifiers only. The
/// <see cref="Name"/> of a citizen is patient data, so <see cref="ToString"/> leaves it out.
/// </summary>
public sealed record Principal
{
    public required PrincipalKind Kind { get; init; }

    /// <summary>The subject (<c>sub</c>) as the issuer names it.</summary>
    public required string Subject { get; init; }

    /// <summary>The OAuth client the token was issued to (<c>client_id</c> or <c>azp</c>).</summary>
    public required string ClientId { get; init; }

    /// <summary>The token issuer (<c>iss</c>); subjects are only unique within it.</summary>
    public required string Issuer { get; init; }

    /// <summary>Display name of the person, if the token carries one. Never log it.</summary>
    public string? Name { get; init; }

    /// <summary>The FHIR resource for the user (SMART <c>fhirUser</c>), e.g. <c>Practitioner/123</c>.</summary>
    public string? FhirUser { get; init; }

    /// <summary>The ODS code of the organisation the caller acts for.</summary>
    public string? Organisation { get; init; }

    /// <summary>The job role code the caller acts in (e.g. an NHS national RBAC role code).</summary>
    public string? Role { get; init; }

    /// <summary>
    /// The patient in context (SMART <c>patient</c>): for a <see cref="PrincipalKind.Patient"/> the citizen
    /// themself; for a user, the patient of the launch, if any.
    /// </summary>
    public string? PatientId { get; init; }

    public ScopeSet Scopes { get; init; } = ScopeSet.Empty;

    /// <summary>A purpose of use the token asserts for every request (<c>purpose_of_use</c> claim), if any.</summary>
    public string? PurposeOfUse { get; init; }

    /// <summary>The break-glass reason the token carries (<c>break_glass_reason</c> claim). Free text: never log it.</summary>
    public string? BreakGlassReason { get; init; }

    /// <summary>
    /// The one scope context that applies to this caller: a system uses <c>system/</c> scopes, a user
    /// <c>user/</c> scopes and a citizen <c>patient/</c> scopes. A scope for another context is ignored
    /// rather than honoured, so a token cannot widen its reach by carrying, say, <c>system/*.cruds</c>
    /// for a signed-in user.
    /// </summary>
    public ScopeContext ScopeContext => Kind switch
    {
        PrincipalKind.System => ScopeContext.System,
        PrincipalKind.User => ScopeContext.User,
        PrincipalKind.Patient => ScopeContext.Patient,
        _ => throw new InvalidOperationException($"Unknown principal kind {Kind}."),
    };

    /// <summary>
    /// True when the caller's scopes grant the interaction on the resource type, in the caller's context.
    /// This is only the scope check: the access policy still decides which records (a patient scope means
    /// the patient's own compartment; a user scope what the user's role and relationships allow).
    /// </summary>
    public bool Allows(string resourceType, FhirInteraction interaction) =>
        Scopes.Allows(ScopeContext, resourceType, interaction);

    /// <summary>Identifiers only, fit for logs: never the name.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(Kind).Append(" sub=").Append(Subject).Append(" client=").Append(ClientId).Append(" iss=").Append(Issuer);
        Append(text, "fhirUser", FhirUser);
        Append(text, "org", Organisation);
        Append(text, "role", Role);
        Append(text, "patient", PatientId);
        return text.ToString();
    }

    private static void Append(StringBuilder text, string label, string? value)
    {
        if (value is not null)
        {
            text.Append(' ').Append(label).Append('=').Append(value);
        }
    }
}
