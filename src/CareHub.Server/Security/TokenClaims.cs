using CareHub.Governance;
using Microsoft.IdentityModel.JsonWebTokens;

namespace CareHub.Server.Security;

/// <summary>
/// Maps the claims of a validated access token to a <see cref="Principal"/>.
/// <para>The kind of caller is decided by the first rule that applies:</para>
/// <list type="number">
/// <item>a <c>principal_type</c> claim of <c>system</c>, <c>user</c> or <c>patient</c> (any other value is refused);</item>
/// <item>a <c>fhirUser</c> claim: <c>Patient/…</c> makes a patient, anything else (Practitioner, PractitionerRole, RelatedPerson, Person) a user;</item>
/// <item>a <c>patient</c> claim without <c>fhirUser</c>: a patient;</item>
/// <item>a <c>sub</c> that differs from the client id: a user acting through the client;</item>
/// <item>otherwise a system (client credentials, where <c>sub</c> is the client itself).</item>
/// </list>
/// Issuers that can say it should send <c>principal_type</c>: inference is a fallback for standard tokens.
/// </summary>
internal static class TokenClaims
{
    public const string PrincipalType = "principal_type";
    public const string Scope = "scope";
    public const string Scp = "scp";
    public const string ClientId = "client_id";
    public const string AuthorisedParty = "azp";
    public const string FhirUser = "fhirUser";
    public const string Patient = "patient";
    public const string Organisation = "organisation";
    public const string Org = "org";
    public const string Role = "role";
    public const string Name = "name";
    public const string Subject = "sub";

    private const string PatientPrefix = "Patient/";

    public static PrincipalKind? ParseKind(string? value) => value?.ToUpperInvariant() switch
    {
        "SYSTEM" => PrincipalKind.System,
        "USER" => PrincipalKind.User,
        "PATIENT" => PrincipalKind.Patient,
        _ => null,
    };

    public static string KindClaimValue(PrincipalKind kind) => kind switch
    {
        PrincipalKind.System => "system",
        PrincipalKind.User => "user",
        PrincipalKind.Patient => "patient",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown principal kind."),
    };

    /// <summary>The principal, or a client-safe reason why the token's claims do not describe one.</summary>
    public static (Principal? Principal, string? Problem) ToPrincipal(JsonWebToken token)
    {
        var claims = token.Claims.ToLookup(c => c.Type, c => c.Value, StringComparer.Ordinal);
        string? One(string type) => claims[type].Select(v => v.Trim()).FirstOrDefault(v => v.Length > 0);

        var sub = One(Subject);
        var clientId = One(ClientId) ?? One(AuthorisedParty) ?? sub;
        if (clientId is null)
        {
            return (null, "The access token does not identify its subject or client");
        }

        var fhirUser = One(FhirUser);
        var patientClaim = One(Patient);
        PrincipalKind kind;
        var declared = One(PrincipalType);
        if (declared is not null)
        {
            if (ParseKind(declared) is not { } parsed)
            {
                return (null, "The access token's principal_type claim is not recognised");
            }

            kind = parsed;
        }
        else if (fhirUser is not null)
        {
            kind = fhirUser.StartsWith(PatientPrefix, StringComparison.Ordinal) ? PrincipalKind.Patient : PrincipalKind.User;
        }
        else if (patientClaim is not null)
        {
            kind = PrincipalKind.Patient;
        }
        else
        {
            kind = sub is not null && !string.Equals(sub, clientId, StringComparison.Ordinal) ? PrincipalKind.User : PrincipalKind.System;
        }

        var patientId = patientClaim;
        if (kind == PrincipalKind.Patient)
        {
            var fhirUserPatient = fhirUser is not null && fhirUser.StartsWith(PatientPrefix, StringComparison.Ordinal)
                ? fhirUser[PatientPrefix.Length..]
                : null;
            if (patientId is not null && fhirUserPatient is not null && !string.Equals(patientId, fhirUserPatient, StringComparison.Ordinal))
            {
                return (null, "The access token's patient and fhirUser claims name different patients");
            }

            patientId ??= fhirUserPatient;
            if (string.IsNullOrEmpty(patientId))
            {
                return (null, "The access token is for a patient but does not say which patient");
            }
        }

        // scope is a space-separated string (RFC 8693 section 4.2, RFC 9068); some issuers send scp, as a string or an array.
        var scopes = ScopeSet.From(claims[Scope].Concat(claims[Scp])
            .SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));

        var principal = new Principal
        {
            Kind = kind,
            Subject = sub ?? clientId,
            ClientId = clientId,
            Issuer = token.Issuer,
            Name = One(Name),
            FhirUser = fhirUser,
            Organisation = One(Organisation) ?? One(Org),
            Role = One(Role),
            PatientId = patientId,
            Scopes = scopes,
            PurposeOfUse = One("purpose_of_use"),
            BreakGlassReason = One("break_glass_reason"),
        };
        return (principal, null);
    }
}
