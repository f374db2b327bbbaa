using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Security;

/// <summary>
/// Validates OAuth 2.0 bearer access tokens (JWT, RFC 7519 / RFC 9068) from the trusted issuers and turns
/// them into a <see cref="CareHub.Governance.Principal"/>. It checks the signature (against the issuer's
/// configured keys or its JWK Set), the issuer, the audience, and the lifetime (<c>exp</c> required,
/// <c>nbf</c> honoured, within the configured clock skew). Unsigned (<c>alg: none</c>) and encrypted tokens
/// are refused. Failure reasons are written for the client and never include the token.
/// </summary>
public sealed partial class BearerTokenValidator : IDisposable
{
    /// <summary>Real access tokens are a few kilobytes; refuse anything far larger before parsing it.</summary>
    public const int MaximumTokenLength = 16 * 1024;

    private static readonly string[] AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private static readonly string[] SymmetricAlgorithms =
    [
        SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512,
    ];

    private readonly Dictionary<string, IssuerTrust> issuers = new(StringComparer.Ordinal);
    private readonly JsonWebTokenHandler handler = new() { MaximumTokenSizeInBytes = MaximumTokenLength };
    private readonly HttpClient jwksClient;
    private readonly TimeSpan clockSkew;
    private readonly ILogger logger;
    private readonly SignIn.SignInTokenStatus? signInStatus;

    /// <param name="options">Validated settings (see <see cref="AuthOptions.Validate"/>).</param>
    /// <param name="time">The clock of the JWK Set cache. Token lifetimes are checked by IdentityModel against the system clock.</param>
    /// <param name="logger">Where failures and key fetches are logged (never tokens).</param>
    /// <param name="devTokens">When development tokens are enabled: its issuer is trusted with its in-memory key.</param>
    /// <param name="jwksHandler">The HTTP handler for JWK Set requests; a pooled one when null.</param>
    /// <param name="signIn">When CareHub's own authorization server is on: its issuer is trusted with the keys of its store.</param>
    public BearerTokenValidator(
        AuthOptions options,
        TimeProvider time,
        ILogger<BearerTokenValidator> logger,
        DevTokenIssuer? devTokens = null,
        HttpMessageHandler? jwksHandler = null,
        (SignIn.SignInOptions Options, SignIn.SignInKeys Keys, SignIn.SignInTokenStatus Status)? signIn = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        clockSkew = options.ClockSkew;
        this.logger = logger;
        jwksClient = new HttpClient(jwksHandler ?? new SocketsHttpHandler
        {
            // Re-resolve DNS now and then: the issuer's key endpoint may move.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // A key endpoint that redirects elsewhere is not trusted blindly.
            AllowAutoRedirect = false,
        })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };

        foreach (var issuer in options.Issuers)
        {
            var keys = new List<SecurityKey>();
            keys.AddRange(issuer.SigningKeysPem.Select(SigningKeys.FromPublicKeyPem));
            var algorithms = new List<string>(AsymmetricAlgorithms);
            if (issuer.SymmetricKeyBase64 is not null)
            {
                keys.Add(new SymmetricSecurityKey(Convert.FromBase64String(issuer.SymmetricKeyBase64)));
                algorithms.AddRange(SymmetricAlgorithms);
            }

            var jwks = issuer.JwksUri is null ? null : new JwksCache(new Uri(issuer.JwksUri), jwksClient, time, logger);
            this.issuers.Add(issuer.Issuer, new IssuerTrust(issuer.Issuer, issuer.Audience, keys, jwks, algorithms));
        }

        if (devTokens is not null)
        {
            this.issuers.Add(devTokens.Issuer, new IssuerTrust(devTokens.Issuer, devTokens.Audience, [devTokens.PublicKey], null, [SecurityAlgorithms.RsaSha256]));
        }

        if (signIn is { } server)
        {
            // The keys are read at each validation: the store holds every key whose tokens may still be valid.
            this.issuers.Add(server.Options.Issuer, new IssuerTrust(server.Options.Issuer, server.Options.Audience, [], null, [SecurityAlgorithms.RsaSha256])
            {
                LocalKeys = server.Keys,
            });
            signInStatus = server.Status;
        }
    }

    /// <summary>
    /// Authenticates a request from its <c>Authorization: Bearer</c> header (RFC 6750 section 2.1; the scheme
    /// is case-insensitive). Tokens in the query string or form body (RFC 6750 sections 2.2 and 2.3) are
    /// deliberately not read: URLs end up in logs.
    /// </summary>
    public Task<AuthResult> AuthenticateAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Request.Headers.Authorization;
        if (headers.Count == 0 || string.IsNullOrWhiteSpace(headers[0]))
        {
            return Task.FromResult(AuthResult.Fail(AuthFailure.Missing));
        }

        if (headers.Count > 1)
        {
            return Task.FromResult(AuthResult.Fail(AuthFailure.InvalidRequest("The request has more than one Authorization header")));
        }

        var value = headers[0]!.Trim();
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space < 0 ? value : value[..space];
        if (!string.Equals(scheme, "Bearer", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 6750 section 3.1: another scheme counts as no authentication information.
            return Task.FromResult(AuthResult.Fail(AuthFailure.Missing));
        }

        var token = space < 0 ? "" : value[(space + 1)..].Trim();
        if (token.Length == 0)
        {
            return Task.FromResult(AuthResult.Fail(AuthFailure.InvalidRequest("The Authorization header has no bearer token")));
        }

        return ValidateAsync(token, context.RequestAborted);
    }

    /// <summary>Validates one access token.</summary>
    public async Task<AuthResult> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length > MaximumTokenLength)
        {
            return Fail(null, "The access token is too large");
        }

        // A token that passed every check stays good until it expires: checking its signature again on every request
        // costs more than serving a read. The cache is keyed by the whole token, so a changed byte is a different token.
        if (validated.TryGetValue(token, out var cached))
        {
            if (DateTime.UtcNow < cached.Expires)
            {
                return await StillActiveAsync(cached.SignInTokenId, cancellationToken)
                    ? AuthResult.Success(cached.Principal)
                    : Fail(null, "The access token has been revoked");
            }

            validated.TryRemove(token, out _);
        }

        // A JWE in compact form has five parts (RFC 7516 section 7.1), a JWS three. Reading a JWE's header asks the
        // handler to decrypt it, which fails in ways a malformed JWS does not, so it is refused by its shape first.
        if (token.AsSpan().Count('.') == 4)
        {
            return Fail(null, "Encrypted access tokens (JWE) are not accepted; send a signed JWT");
        }

        JsonWebToken jwt;
        try
        {
            jwt = this.handler.ReadJsonWebToken(token);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException or FormatException or System.Text.Json.JsonException)
        {
            return Fail(null, "The access token is not a well-formed JWT");
        }

        if (jwt.IsEncrypted)
        {
            return Fail(null, "Encrypted access tokens are not accepted");
        }

        if (string.IsNullOrEmpty(jwt.Issuer) || !this.issuers.TryGetValue(jwt.Issuer, out var trust))
        {
            return Fail(jwt.Issuer, "The token issuer is not trusted");
        }

        IReadOnlyList<SecurityKey> keys = trust.LocalKeys is { } local ? local.VerificationKeys : trust.StaticKeys;
        if (trust.Jwks is not null)
        {
            var published = await trust.Jwks.GetKeysAsync(string.IsNullOrEmpty(jwt.Kid) ? null : jwt.Kid, cancellationToken);
            keys = [.. trust.StaticKeys, .. published];
        }

        if (keys.Count == 0)
        {
            return Fail(trust.Issuer, "The token issuer's signing keys are not available; try again later");
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = trust.Issuer,
            ValidAudience = trust.Audience,
            IssuerSigningKeys = keys,
            ValidAlgorithms = trust.Algorithms,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = clockSkew,
        };

        var result = await this.handler.ValidateTokenAsync(token, parameters);
        if (!result.IsValid)
        {
            return Fail(trust.Issuer, Describe(result.Exception), result.Exception?.GetType().Name);
        }

        var (principal, problem) = TokenClaims.ToPrincipal((JsonWebToken)result.SecurityToken);
        if (principal is null)
        {
            return Fail(trust.Issuer, problem!);
        }

        // A token of CareHub's own authorization server names its row in the sign-in store (OpenIddict's token id claim),
        // where revocation marks it.
        var signInTokenId = trust.LocalKeys is null ? null : ((JsonWebToken)result.SecurityToken).TryGetPayloadValue<string>(SignInTokenIdClaim, out var id) ? id : null;
        if (trust.LocalKeys is not null && signInTokenId is null)
        {
            return Fail(trust.Issuer, "The access token does not name its grant");
        }

        if (!await StillActiveAsync(signInTokenId, cancellationToken))
        {
            return Fail(trust.Issuer, "The access token has been revoked");
        }

        var expires = result.SecurityToken.ValidTo;
        if (expires > DateTime.UtcNow)
        {
            if (validated.Count >= MaximumCachedTokens)
            {
                validated.Clear();
            }

            validated[token] = new ValidatedToken(principal, expires, signInTokenId);
        }

        return AuthResult.Success(principal);
    }

    private const int MaximumCachedTokens = 10_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ValidatedToken> validated = new(StringComparer.Ordinal);

    /// <summary>OpenIddict's private claim naming a token's row in its store.</summary>
    private const string SignInTokenIdClaim = "oi_tkn_id";

    private sealed record ValidatedToken(CareHub.Governance.Principal Principal, DateTime Expires, string? SignInTokenId);

    private ValueTask<bool> StillActiveAsync(string? signInTokenId, CancellationToken cancellationToken) =>
        signInTokenId is null || signInStatus is null ? ValueTask.FromResult(true) : signInStatus.IsActiveAsync(signInTokenId, cancellationToken);

    public void Dispose()
    {
        foreach (var trust in this.issuers.Values)
        {
            trust.Jwks?.Dispose();
        }

        jwksClient.Dispose();
    }

    /// <summary>The JWK Set fetches made for an issuer so far (for tests and diagnostics); zero without a JWK Set.</summary>
    internal int JwksFetchCount(string issuer) => this.issuers.TryGetValue(issuer, out var trust) ? trust.Jwks?.FetchCount ?? 0 : 0;

    private static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "The access token has expired",
        SecurityTokenNotYetValidException => "The access token is not yet valid",
        SecurityTokenNoExpirationException => "The access token has no expiry time",
        SecurityTokenInvalidLifetimeException => "The access token's validity period is not valid",
        SecurityTokenInvalidAudienceException => "The access token is not intended for this server",
        SecurityTokenInvalidIssuerException => "The token issuer is not trusted",
        SecurityTokenInvalidSignatureException or SecurityTokenInvalidAlgorithmException => "The token's signature is not valid",
        SecurityTokenMalformedException or ArgumentException => "The access token is not a well-formed JWT",
        _ => "The access token is not valid",
    };

    private AuthResult Fail(string? issuer, string reason, string? detail = null)
    {
        LogRejected(this.logger, Truncate(issuer), reason, detail);
        return AuthResult.Fail(AuthFailure.InvalidToken(reason));
    }

    /// <summary>The issuer comes from an unverified token: keep log lines short whatever it holds.</summary>
    private static string? Truncate(string? value) => value is { Length: > 200 } ? value[..200] : value;

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Rejected an access token from issuer {Issuer}: {Reason} ({Detail})")]
    private static partial void LogRejected(ILogger logger, string? issuer, string reason, string? detail);

    private sealed record IssuerTrust(string Issuer, string Audience, IReadOnlyList<SecurityKey> StaticKeys, JwksCache? Jwks, IReadOnlyList<string> Algorithms)
    {
        /// <summary>CareHub's own authorization server's keys, read from its store.</summary>
        public SignIn.SignInKeys? LocalKeys { get; init; }
    }
}
