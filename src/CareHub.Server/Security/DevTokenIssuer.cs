using System.Security.Cryptography;
using CareHub.Governance;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Security;

/// <summary>
/// Signs development access tokens (RS256 JWTs, RFC 9068 profile) with one RSA key: loaded from
/// <see cref="DevTokenOptions.SigningKeyPath"/>, or generated at start-up and held only in memory, so
/// tokens from an earlier run stop validating after a restart.
/// </summary>
public sealed partial class DevTokenIssuer : IDisposable
{
    private const int KeyBits = 2048;

    private readonly DevTokenOptions options;
    private readonly RSA rsa;
    private readonly RsaSecurityKey signingKey;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false };

    public DevTokenIssuer(DevTokenOptions options, TimeProvider time, ILogger<DevTokenIssuer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.time = time;
        this.logger = logger;
        this.rsa = LoadOrCreateKey(options.SigningKeyPath);
        var keyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(this.rsa.ExportParameters(false))).ComputeJwkThumbprint());
        signingKey = new RsaSecurityKey(this.rsa) { KeyId = keyId };
        PublicKey = new RsaSecurityKey(this.rsa.ExportParameters(false)) { KeyId = keyId };
    }

    public string Issuer => this.options.Issuer;

    public string Audience => this.options.Audience;

    public DevTokenOptions Options => this.options;

    /// <summary>The public half of the signing key, which the validator trusts in-process.</summary>
    public RsaSecurityKey PublicKey { get; }

    /// <summary>Issues a token for <paramref name="subject"/> carrying <paramref name="scopes"/>.</summary>
    public IssuedToken Issue(DevTokenSubject subject, ScopeSet scopes)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(scopes);
        var now = this.time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [TokenClaims.Subject] = subject.Subject,
            [TokenClaims.ClientId] = subject.ClientId,
            [TokenClaims.PrincipalType] = TokenClaims.KindClaimValue(subject.Kind),
            [TokenClaims.Scope] = scopes.ToString(),
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
        };
        AddIfPresent(claims, TokenClaims.Name, subject.Name);
        AddIfPresent(claims, TokenClaims.Organisation, subject.Organisation);
        AddIfPresent(claims, TokenClaims.FhirUser, subject.FhirUser);
        AddIfPresent(claims, TokenClaims.Patient, subject.PatientId);
        AddIfPresent(claims, TokenClaims.Role, subject.Role);

        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = this.options.Issuer,
            Audience = this.options.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + this.options.Lifetime,
            Claims = claims,
            // RFC 9068 section 2.1: access tokens are typed "at+jwt".
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256),
        });
        LogIssued(this.logger, subject.ClientId, subject.Kind, scopes.ToString());
        return new IssuedToken(token, this.options.Lifetime, scopes);
    }

    /// <summary>The JWK Set (RFC 7517) publishing the public key.</summary>
    public object Jwks()
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(PublicKey);
        return new
        {
            keys = new[]
            {
                new { kty = jwk.Kty, use = "sig", alg = SecurityAlgorithms.RsaSha256, kid = PublicKey.KeyId, n = jwk.N, e = jwk.E },
            },
        };
    }

    public void Dispose() => this.rsa.Dispose();

    private static void AddIfPresent(Dictionary<string, object> claims, string name, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            claims[name] = value;
        }
    }

    private static RSA LoadOrCreateKey(string? path)
    {
        if (path is null)
        {
            return RSA.Create(KeyBits);
        }

        const string Setting = $"{AuthOptions.SectionName}:DevTokens:SigningKeyPath";
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(File.ReadAllText(path));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException)
        {
            rsa.Dispose();
            throw new InvalidOperationException($"{Setting} '{path}' does not hold a readable RSA private key in PEM ({e.GetType().Name}).", e);
        }

        if (rsa.KeySize < KeyBits)
        {
            var size = rsa.KeySize;
            rsa.Dispose();
            throw new InvalidOperationException($"{Setting} '{path}' holds a {size}-bit RSA key; at least {KeyBits} bits are required.");
        }

        try
        {
            // A public key alone cannot sign: find out now rather than at the first token request.
            rsa.ExportParameters(includePrivateParameters: true);
        }
        catch (CryptographicException e)
        {
            rsa.Dispose();
            throw new InvalidOperationException($"{Setting} '{path}' holds a public key; the private key is needed to sign tokens.", e);
        }

        return rsa;
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Issued a development token to client {ClientId} ({Kind}) with scopes {Scopes}")]
    private static partial void LogIssued(ILogger logger, string clientId, PrincipalKind kind, string scopes);
}

/// <summary>
/// Who a development token is for. Built from a <see cref="DevClient"/> for the client credentials grant;
/// a later grant (e.g. password, for demo users) builds it from its own user record.
/// </summary>
public sealed record DevTokenSubject(string Subject, string ClientId, PrincipalKind Kind)
{
    public string? Name { get; init; }

    public string? Organisation { get; init; }

    public string? FhirUser { get; init; }

    public string? PatientId { get; init; }

    public string? Role { get; init; }

    /// <summary>A client acting for itself: the subject is the client.</summary>
    public static DevTokenSubject ForClient(DevClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new DevTokenSubject(client.ClientId, client.ClientId, client.PrincipalKind)
        {
            Organisation = client.Organisation,
            FhirUser = client.FhirUser,
            PatientId = client.PatientId,
            Role = client.Role,
        };
    }
}

/// <summary>An issued access token and how long it lasts.</summary>
public sealed record IssuedToken(string AccessToken, TimeSpan ExpiresIn, ScopeSet Scopes);
