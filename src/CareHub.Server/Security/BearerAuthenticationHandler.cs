using System.Security.Claims;
using System.Text.Encodings.Web;
using CareHub.Governance;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CareHub.Server.Security;

/// <summary>
/// The bearer token scheme (RFC 6750) as a standard ASP.NET Core authentication handler over
/// <see cref="BearerTokenValidator"/>, whose checks it runs unchanged. A request without a bearer token has no result
/// (another scheme may still authenticate it); a token that fails is a failure carrying the client-safe
/// <see cref="AuthFailure"/>, which the authorization result handler turns into the 401 and its challenge.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, BearerTokenValidator validator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var result = await validator.AuthenticateAsync(Context);
        if (result.Succeeded)
        {
            return AuthenticateResult.Success(new AuthenticationTicket(CareHubIdentity.User(result.Principal, SchemeName), SchemeName));
        }

        return result.Failure.Error is null ? AuthenticateResult.NoResult() : AuthenticateResult.Fail(new AuthFailureException(result.Failure));
    }
}

/// <summary>A failed authentication's reason, in words a client may see.</summary>
public sealed class AuthFailureException(AuthFailure failure) : Exception(failure.Description)
{
    public AuthFailure Failure { get; } = failure;
}

/// <summary>
/// The authenticated user of every face as ASP.NET Core sees it: an identity that carries CareHub's
/// <see cref="Principal"/>, built once by the scheme that authenticated the request. A later scheme (a browser session)
/// signs in with the same identity type, and every endpoint reads the caller through <see cref="CareHubPrincipal"/>.
/// </summary>
public sealed class CareHubIdentity : ClaimsIdentity
{
    private CareHubIdentity(Principal principal, string scheme)
        : base([new Claim(ClaimTypes.NameIdentifier, principal.Subject), new Claim("iss", principal.Issuer), new Claim("client_id", principal.ClientId)], scheme)
    {
        Principal = principal;
    }

    public Principal Principal { get; }

    /// <summary>The user ASP.NET Core sees for a CareHub principal authenticated by <paramref name="scheme"/>.</summary>
    public static ClaimsPrincipal User(Principal principal, string scheme)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return new ClaimsPrincipal(new CareHubIdentity(principal, scheme));
    }
}

/// <summary>The one accessor for the caller of a request.</summary>
public static class CareHubPrincipal
{
    /// <summary>The caller's principal, or null when the request is not authenticated.</summary>
    public static Principal? Find(ClaimsPrincipal? user) =>
        user?.Identities.OfType<CareHubIdentity>().FirstOrDefault(i => i.IsAuthenticated)?.Principal;

    /// <summary>
    /// The caller of a request that passed its endpoint's authorization policy. An endpoint without a policy that asks
    /// is a wiring fault, not a client's: it fails loudly rather than serving an anonymous caller.
    /// </summary>
    public static Principal Of(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return Find(http.User) ?? throw new InvalidOperationException($"{http.Request.Path} was reached without an authenticated principal: its endpoint needs an authorization policy.");
    }
}
