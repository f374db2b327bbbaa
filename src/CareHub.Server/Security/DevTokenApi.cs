using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using CareHub.Governance;
using CareHub.Storage;
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
    private const string PasswordGrant = "password";
    private const string CitizenPrefix = "citizen:";

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

        // The token endpoint is how a client authenticates in the first place (RFC 6749 section 3.2), so it takes none.
        var group = endpoints.MapGroup("/auth").AllowAnonymous();
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

        // Each grant builds the subject it is for.
        return grantType switch
        {
            ClientCredentialsGrant => ClientCredentials(client, form, issuer),
            PasswordGrant when issuer.Options.Users.Count > 0 || issuer.Options.CitizenPassword is not null => await PasswordAsync(client, form, issuer, context.RequestServices.GetService<IRecordLookups>(), context.RequestAborted),
            _ => Error("unsupported_grant_type", "This endpoint supports the client_credentials grant" + (issuer.Options.Users.Count > 0 ? " and the password grant" : string.Empty)),
        };
    }

    /// <summary>
    /// The resource owner password grant (RFC 6749 section 4.3) for demo users and citizens, through an authenticated
    /// client. Development only: real deployments sign users in at their identity provider (NHS CIS2, NHS login).
    /// </summary>
    private static async Task<IResult> PasswordAsync(DevClient client, IFormCollection form, DevTokenIssuer issuer, IRecordLookups? store, CancellationToken cancellationToken)
    {
        var userName = Value(form, "username");
        var password = Value(form, "password");
        if (userName is null || password is null)
        {
            return Error("invalid_request", "The password grant needs username and password");
        }

        var options = issuer.Options;
        if (userName.StartsWith(CitizenPrefix, StringComparison.Ordinal) && options.CitizenPassword is { } citizenPassword && store is not null)
        {
            if (!SecretsMatch(citizenPassword, password) || !CareHub.Identity.NhsNumber.TryParse(userName[CitizenPrefix.Length..], out var nhsNumber))
            {
                return Error("invalid_grant", "The user name or password is not right");
            }

            var page = await store.SearchAsync(new StoreQuery("Patient", [new TokenClause("identifier", [new TokenMatch(CareHub.Identity.NhsNumber.IdentifierSystem, nhsNumber.Value, AnySystem: false)])], 1) { Scope = QueryScope.Internal("the development login's citizen look-up") }, cancellationToken);
            if (page.Resources.Count == 0)
            {
                // The same answer as a wrong password: a login must not tell whether an NHS Number is in the record.
                return Error("invalid_grant", "The user name or password is not right");
            }

            var patientId = page.Resources[0].Id;
            var citizen = new DevTokenSubject("citizen-" + patientId, client.ClientId, PrincipalKind.Patient) { PatientId = patientId, FhirUser = "Patient/" + patientId };
            return TokenFor(issuer, citizen, ScopeSet.Parse(options.CitizenScopes));
        }

        var user = options.Users.FirstOrDefault(u => string.Equals(u.UserName, userName, StringComparison.Ordinal));
        // Compare a password even for an unknown user, so timing does not tell which user names exist.
        var matches = SecretsMatch(user?.Password ?? string.Empty, password);
        if (user is null || !matches)
        {
            return Error("invalid_grant", "The user name or password is not right");
        }

        var subject = new DevTokenSubject(user.UserName, client.ClientId, PrincipalKind.User)
        {
            Name = user.Name,
            Organisation = user.Organisation,
            FhirUser = user.FhirUser,
            Role = user.Role,
        };
        return TokenFor(issuer, subject, ScopeSet.Parse(user.Scopes));
    }

    private static IResult TokenFor(DevTokenIssuer issuer, DevTokenSubject subject, ScopeSet scopes)
    {
        var token = issuer.Issue(subject, scopes);
        return Results.Json(new TokenResponse(token.AccessToken, "Bearer", (long)token.ExpiresIn.TotalSeconds, token.Scopes.ToString()));
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
