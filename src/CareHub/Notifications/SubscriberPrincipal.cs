using System.Text.Json;
using CareHub.Governance;

namespace CareHub.Notifications;

/// <summary>
/// The principal a subscription is judged as: who created or last updated the Subscription, kept with its delivery state
/// (kind, subject, issuer, client, user, role, organisation, patient in context, scopes). A purpose of use and a
/// break-glass reason are not kept: an emergency is one request's reason, never a standing subscription's. The name is
/// not kept either (it may be patient data and no decision uses it).
/// </summary>
public static class SubscriberPrincipal
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The snapshot of <paramref name="principal"/> as stored.</summary>
    public static string Serialize(Principal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return JsonSerializer.Serialize(new Snapshot(principal.Kind.ToString(), principal.Subject, principal.ClientId, principal.Issuer, principal.FhirUser,
            principal.Organisation, principal.Role, principal.PatientId, string.Join(' ', principal.Scopes.Select(s => s.ToString()))), Json);
    }

    /// <summary>The principal a stored snapshot describes.</summary>
    public static Principal Deserialize(string snapshot)
    {
        var s = JsonSerializer.Deserialize<Snapshot>(snapshot, Json) ?? throw new InvalidOperationException("A subscription's stored principal is empty.");
        return new Principal
        {
            Kind = Enum.Parse<PrincipalKind>(s.Kind),
            Subject = s.Subject,
            ClientId = s.ClientId,
            Issuer = s.Issuer,
            FhirUser = s.FhirUser,
            Organisation = s.Organisation,
            Role = s.Role,
            PatientId = s.PatientId,
            Scopes = ScopeSet.Parse(s.Scopes),
        };
    }

    private sealed record Snapshot(string Kind, string Subject, string ClientId, string Issuer, string? FhirUser, string? Organisation, string? Role, string? PatientId,
        string Scopes);
}
