namespace CareHub.Governance;

/// <summary>
/// The one vocabulary for administering CareHub itself (rebuilding the index, running the message broker, linking
/// records in the master person index), used by every admin API and by the door's own checks (docs/governance.md,
/// "Administration").
/// </summary>
public static class Administration
{
    /// <summary>The scope that makes a backend system an administrator of every admin API; <c>system/*.cruds</c> implies it.</summary>
    public const string Scope = "carehub.admin";

    /// <summary>The access policy's role code for a user who administers CareHub (default-policy.json).</summary>
    public const string Role = "system-admin";

    private static readonly SmartScope Everything = SmartScope.Parse("system/*.cruds");

    /// <summary>True when the principal is a system holding <paramref name="scope"/>, or every interaction on every resource.</summary>
    public static bool SystemHolds(Principal principal, string scope)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.Kind == PrincipalKind.System && (principal.Scopes.Contains(scope) || principal.Scopes.Covers(Everything));
    }
}
