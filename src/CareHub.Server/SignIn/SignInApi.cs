using System.Security.Claims;
using CareHub.Governance;
using CareHub.Server.Security;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace CareHub.Server.SignIn;

/// <summary>
/// The authorization server's own endpoints beside the ones OpenIddict answers by itself (discovery, JWK Set,
/// introspection, revocation): the token endpoint's decision once OpenIddict has authenticated the client and checked the
/// request, and the SMART configuration document (SMART App Launch 2.x, "Conformance").
/// </summary>
public static class SignInApi
{
    /// <summary>Maps the endpoints when <c>CareHub:SignIn:Enabled</c>; otherwise maps nothing.</summary>
    public static IEndpointRouteBuilder MapSignInApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<SignInOptions>() is not { Enabled: true })
        {
            return endpoints;
        }

        // The token endpoint is how a client authenticates in the first place (RFC 6749 section 3.2), and SMART's
        // configuration is read before a client has any token (SMART App Launch, "Conformance"), so neither takes a token.
        var group = endpoints.MapGroup("").AllowAnonymous();
        group.MapPost(SignInServices.TokenPath, ExchangeAsync).DisableAntiforgery();
        group.MapGet("/.well-known/smart-configuration", SmartConfiguration);
        group.MapGet("/fhir/.well-known/smart-configuration", SmartConfiguration);
        return endpoints;
    }

    /// <summary>
    /// SMART's discovery document: where to authenticate and what the server supports. Only capabilities that work are
    /// listed; the launch and sign-in capabilities join as they are built (docs/sign-in.md).
    /// </summary>
    private static IResult SmartConfiguration(SignInOptions options)
    {
        var issuer = options.Issuer.TrimEnd('/');
        return Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = options.Issuer,
            ["jwks_uri"] = issuer + SignInServices.JwksPath,
            ["token_endpoint"] = issuer + SignInServices.TokenPath,
            ["introspection_endpoint"] = issuer + SignInServices.IntrospectPath,
            ["revocation_endpoint"] = issuer + SignInServices.RevokePath,
            ["grant_types_supported"] = new[] { GrantTypes.ClientCredentials },
            ["token_endpoint_auth_methods_supported"] = new[] { ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.PrivateKeyJwt },
            // SMART Backend Services: clients sign assertions with RS384 or ES384.
            ["token_endpoint_auth_signing_alg_values_supported"] = new[] { "RS384", "ES384" },
            ["scopes_supported"] = new[] { "system/*.cruds", "system/*.rs" },
            ["response_types_supported"] = Array.Empty<string>(),
            ["capabilities"] = new[] { "client-confidential-symmetric", "client-confidential-asymmetric", "permission-v2" },
        });
    }

    /// <summary>
    /// Issues the token once OpenIddict has authenticated the client (secret or signed assertion) and validated the
    /// request: the scopes granted are those asked for, each covered by the client's registration, or all it may have
    /// when it asks for none (RFC 6749 section 3.3).
    /// </summary>
    private static async Task<IResult> ExchangeAsync(HttpContext http, IOpenIddictApplicationManager applications, SignInOptions options)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");
        if (!request.IsClientCredentialsGrantType())
        {
            return Refuse(Errors.UnsupportedGrantType, "This server issues tokens by the client_credentials grant.");
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!, http.RequestAborted)
            ?? throw new InvalidOperationException("OpenIddict authenticated a client that the registry does not hold.");
        var profile = ClientProfile.Read(await applications.GetPropertiesAsync(application, http.RequestAborted));
        var allowed = profile.AllowedScopes;
        var requested = ScopeSet.From(request.GetScopes());
        var granted = requested.Count == 0 ? allowed : requested;
        if (granted.Count == 0 || !granted.All(allowed.Covers))
        {
            return Refuse(Errors.InvalidScope, "The requested scope is more than this client may be granted.");
        }

        if (granted.Any(s => s.Context is not (null or ScopeContext.System)))
        {
            return Refuse(Errors.InvalidScope, "A client acting for itself may be granted system/ scopes only.");
        }

        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, request.ClientId);
        identity.SetClaim(TokenClaims.ClientId, request.ClientId);
        identity.SetClaim(TokenClaims.PrincipalType, TokenClaims.KindClaimValue(PrincipalKind.System));
        if (profile.Organisation is { Length: > 0 } organisation)
        {
            identity.SetClaim(TokenClaims.Organisation, organisation);
        }

        identity.SetScopes(granted.Select(s => s.Value));
        identity.SetResources(options.Audience);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>An OAuth error from the token endpoint (RFC 6749 section 5.2), answered by OpenIddict in the protocol's shape.</summary>
    private static IResult Refuse(string error, string description) =>
        Results.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
