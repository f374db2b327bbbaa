namespace CareHub.Governance;

/// <summary>The policy decision for one interaction: allowed or not, and why (said to the client without leaking what was hidden).</summary>
public sealed record AccessDecision(bool Allowed, string Reason)
{
    public static AccessDecision Permit(string reason) => new(true, reason);

    public static AccessDecision Deny(string reason) => new(false, reason);
}

/// <summary>
/// The access policy the one door consults before every read and write. The baseline checks SMART scopes per resource
/// type and interaction; roles, relationships, consent and agreements plug in here.
/// </summary>
public interface IAccessPolicy
{
    AccessDecision Decide(Principal principal, FhirInteraction interaction, string resourceType);
}

/// <summary>SMART scopes only: the token must grant the interaction on the type, in the caller's context.</summary>
public sealed class ScopeAccessPolicy : IAccessPolicy
{
    public AccessDecision Decide(Principal principal, FhirInteraction interaction, string resourceType) =>
        principal.Allows(resourceType, interaction)
            ? AccessDecision.Permit("granted by scope")
            : AccessDecision.Deny($"The access token's scopes do not allow {interaction.ToString().ToLowerInvariant()} on {resourceType}.");
}
