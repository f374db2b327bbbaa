using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using CareHub.Governance;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace CareHub.Server.Security;

/// <summary>
/// The development token endpoint: OAuth 2.0 client credentials (RFC 6749 section 4.4) for configured
/// clients, and the JWK Set of its signing key. For local use, demos and tests only.
/// </summary>
public static class DevTokenApi
{
    private const string ClientCredentialsGrant = "client_credentials";

    /// <summary>A token request is a few hundred bytes; refuse large bodies before reading them.</summary>
    private const long MaximumBodyBytes = 16 * 1024;

    /// <summary>
    /// Maps <c>POST /auth/token</c> and <c>GET /auth/jwks</c> when <c>CareHub:Auth:DevTokens:Enabled</c> is
    /// true; otherwise maps nothing. Requires <see cref="AuthServiceCollectionExtensions.AddCareHubAuth"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapDevTokenApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<DevTokenIssuer>() is null)
        {
            return endpoints;
        }

        var group = endpoints.MapGroup("/auth");
        group.MapPost("/token", IssueTokenAsync).DisableAntiforgery();
        group.MapGet("/jwks", GetJwks);
        return endpoints;
    }

    private static IResult GetJwks(HttpContext context, DevTokenIssuer issuer)
    {
        context.Response.Headers.CacheControl = "public, max-age=300";
        return Results.Json(issuer.Jwks());
    }

    private static async Task<IResult> IssueTokenAsync(HttpContext context, DevTokenIssuer issuer)
    {
        // RFC 6749 section 5.1: token responses, good or bad, must not be cached.
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.Pragma = "no-cache";

        if (!context.Request.HasFormContentType)
        {
            return Error("invalid_request", "The request body must be application/x-www-form-urlencoded");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = MaximumBodyBytes;
        }

        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException)
        {
            return Error("invalid_request", "The request body could not be read as a form");
        }

        // RFC 6749 section 3.2: parameters must not be repeated.
        if (form.FirstOrDefault(p => p.Value.Count > 1) is { Key: not null } repeated)
        {
            return Error("invalid_request", $"The parameter '{Printable(repeated.Key)}' is repeated");
        }

        var grantType = Value(form, "grant_type");
        if (grantType is null)
        {
            return Error("invalid_request", "The grant_type parameter is required");
        }

        var (client, failure) = AuthenticateClient(context, form, issuer.Options);
        if (client is null)
        {
            return failure!;
        }

        // Each grant builds the subject it is for; a password grant for demo users fits beside this one.
        return grantType switch
        {
            ClientCredentialsGrant => ClientCredentials(client, form, issuer),
            _ => Error("unsupported_grant_type", "Only the client_credentials grant is supported"),
        };
    }

    private static IResult ClientCredentials(DevClient client, IFormCollection form, DevTokenIssuer issuer)
    {
        var allowed = ScopeSet.Parse(client.Scopes);
        var requested = ScopeSet.Parse(Value(form, "scope"));
        // RFC 6749 section 3.3: without a scope parameter, the client gets its default (here: all it may have).
        var granted = requested.Count == 0 ? allowed : requested;
        if (!granted.All(allowed.Covers))
        {
            return Error("invalid_scope", "The requested scope is more than this client may be granted");
        }

        var token = issuer.Issue(DevTokenSubject.ForClient(client), granted);
        return Results.Json(new TokenResponse(token.AccessToken, "Bearer", (long)token.ExpiresIn.TotalSeconds, token.Scopes.ToString()));
    }

    /// <summary>
    /// Client authentication by HTTP Basic or by client_id and client_secret in the form (RFC 6749 section
    /// 2.3.1), never both. Secrets are compared in constant time, and an unknown client costs the same
    /// comparison, so timing tells nothing about which client ids exist.
    /// </summary>
    private static (DevClient? Client, IResult? Failure) AuthenticateClient(HttpContext context, IFormCollection form, DevTokenOptions options)
    {
        var basic = ReadBasic(context.Request.Headers.Authorization, out var basicMalformed);
        var formId = Value(form, "client_id");
        var formSecret = Value(form, "client_secret");
        if (basicMalformed)
        {
            return (null, InvalidClient("The Basic credentials are malformed", basicUsed: true));
        }

        if (basic is not null && formSecret is not null)
        {
            return (null, Error("invalid_request", "Use one client authentication method, not both"));
        }

        var (clientId, secret) = basic ?? (formId, formSecret);
        if (clientId is null || secret is null)
        {
            return (null, InvalidClient("Client authentication is required", basicUsed: false));
        }

        if (basic is not null && formId is not null && !string.Equals(formId, clientId, StringComparison.Ordinal))
        {
            return (null, Error("invalid_request", "The client_id parameter does not match the authenticated client"));
        }

        var client = options.Clients.FirstOrDefault(c => string.Equals(c.ClientId, clientId, StringComparison.Ordinal));
        var matches = SecretsMatch(client?.Secret ?? "", secret);
        if (client is null || !matches)
        {
            return (null, InvalidClient("Client authentication failed", basic is not null));
        }

        return (client, null);
    }

    private static bool SecretsMatch(string expected, string presented) =>
        // Hashing first gives equal lengths, so FixedTimeEquals does not leak the secret's length either.
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)),
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)));

    /// <summary>The client id and secret of a Basic header (each form-urlencoded, RFC 6749 section 2.3.1), or null when none.</summary>
    private static (string? Id, string? Secret)? ReadBasic(StringValues headers, out bool malformed)
    {
        malformed = false;
        var value = headers.Count == 1 ? headers[0]?.Trim() : null;
        if (value is null || !value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            malformed = headers.Count > 1;
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                malformed = true;
                return null;
            }

            return (WebUtility.UrlDecode(decoded[..colon]), WebUtility.UrlDecode(decoded[(colon + 1)..]));
        }
        catch (FormatException)
        {
            malformed = true;
            return null;
        }
    }

    private static string? Value(IFormCollection form, string name) =>
        form.TryGetValue(name, out var values) && !string.IsNullOrWhiteSpace(values[0]) ? values[0] : null;

    private static string Printable(string text) =>
        new(text.Take(40).Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '?').ToArray());

    private static IResult Error(string error, string description) =>
        Results.Json(new ErrorResponse(error, description), statusCode: StatusCodes.Status400BadRequest);

    /// <summary>RFC 6749 section 5.2: invalid_client is a 401, with a Basic challenge when Basic was tried.</summary>
    private static IResult InvalidClient(string description, bool basicUsed) =>
        new InvalidClientResult(new ErrorResponse("invalid_client", description), basicUsed);

    private sealed record TokenResponse(
        [property: JsonPropertyName("access_token")] string AccessToken,
        [property: JsonPropertyName("token_type")] string TokenType,
        [property: JsonPropertyName("expires_in")] long ExpiresIn,
        [property: JsonPropertyName("scope")] string Scope);

    private sealed record ErrorResponse(
        [property: JsonPropertyName("error")] string Error,
        [property: JsonPropertyName("error_description")] string ErrorDescription);

    private sealed class InvalidClientResult(ErrorResponse body, bool basicUsed) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (basicUsed)
            {
                httpContext.Response.Headers.WWWAuthenticate = $"Basic realm=\"{BearerChallenge.Realm}\"";
            }

            return Results.Json(body, statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(httpContext);
        }
    }
}
