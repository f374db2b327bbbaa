using System.Security.Cryptography;
using System.Text;
using CareHub.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.Security;

/// <summary>Keys, tokens and validators for the security tests: real keys, real signatures.</summary>
internal static class TestTokens
{
    public const string Issuer = "https://idp.example.nhs.uk";
    public const string Audience = "https://carehub.example/fhir";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    public static RsaSecurityKey NewRsaKey(string keyId) => new(RSA.Create(2048)) { KeyId = keyId };

    public static string PublicPem(RsaSecurityKey key) => key.Rsa.ExportSubjectPublicKeyInfoPem();

    public static Dictionary<string, object> SystemClaims() => new(StringComparer.Ordinal)
    {
        ["sub"] = "lab-system",
        ["client_id"] = "lab-system",
        ["scope"] = "system/Patient.rs system/Observation.cruds",
    };

    /// <summary>A token valid for ten minutes from now unless <paramref name="shape"/> says otherwise.</summary>
    public static string Create(
        SecurityKey key,
        Action<SecurityTokenDescriptor>? shape = null,
        Dictionary<string, object>? claims = null,
        string algorithm = SecurityAlgorithms.RsaSha256)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now.AddMinutes(-1),
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddMinutes(10),
            // A unique jti makes every token distinct, as real issuers do (validated tokens are remembered by their text).
            Claims = claims ?? new Dictionary<string, object>(SystemClaims(), StringComparer.Ordinal) { ["jti"] = Guid.NewGuid().ToString("N") },
            SigningCredentials = new SigningCredentials(key, algorithm),
        };
        shape?.Invoke(descriptor);
        return Handler.CreateToken(descriptor);
    }

    /// <summary>The same token with its payload re-encoded after <paramref name="edit"/>, keeping the old signature.</summary>
    public static string WithPayload(string token, Func<string, string> edit)
    {
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]));
        parts[1] = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(edit(payload)));
        return string.Join('.', parts);
    }

    /// <summary>An unsigned token (<c>alg: none</c>, RFC 7519 section 6) carrying a valid payload.</summary>
    public static string Unsigned(string signedToken)
    {
        var parts = signedToken.Split('.');
        var header = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes("""{"alg":"none","typ":"JWT"}"""));
        return $"{header}.{parts[1]}.";
    }

    public static AuthOptions OptionsTrusting(params string[] publicKeysPem) => new()
    {
        Issuers = [new TrustedIssuer { Issuer = Issuer, Audience = Audience, SigningKeysPem = [.. publicKeysPem] }],
    };

    public static BearerTokenValidator Validator(AuthOptions options, TimeProvider? time = null, DevTokenIssuer? devTokens = null)
    {
        options.Validate();
        return new BearerTokenValidator(options, time ?? TimeProvider.System, NullLogger<BearerTokenValidator>.Instance, devTokens);
    }
}

/// <summary>A clock the test moves by hand, for the JWK Set cache's refresh rules.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset now = start;

    public override DateTimeOffset GetUtcNow() => this.now;

    public void Advance(TimeSpan by) => this.now += by;
}
