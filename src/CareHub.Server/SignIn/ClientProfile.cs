using System.Collections.Immutable;
using System.Text.Json;
using CareHub.Governance;

namespace CareHub.Server.SignIn;

/// <summary>
/// What CareHub knows of a registered client beyond OpenIddict's own fields, kept as the application's <c>carehub</c>
/// property: the scopes it may be granted (SMART scopes are a grammar, so a client allowed <c>system/*.rs</c> may ask for
/// <c>system/Patient.r</c>), and for a backend system the organisation it acts for.
/// </summary>
public sealed record ClientProfile(string Scopes, string? Organisation)
{
    public const string PropertyName = "carehub";

    /// <summary>The scopes the client may be granted.</summary>
    public ScopeSet AllowedScopes => ScopeSet.Parse(Scopes);

    /// <summary>The profile stored with a client; a client registered without one may be granted nothing.</summary>
    public static ClientProfile Read(ImmutableDictionary<string, JsonElement> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return properties.TryGetValue(PropertyName, out var value) && value.ValueKind == JsonValueKind.Object
            ? value.Deserialize<ClientProfile>() ?? new ClientProfile("", null)
            : new ClientProfile("", null);
    }

    /// <summary>The profile as the property OpenIddict stores.</summary>
    public JsonElement ToProperty() => JsonSerializer.SerializeToElement(this);
}
