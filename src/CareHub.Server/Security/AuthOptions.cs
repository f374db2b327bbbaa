using System.Net;
using CareHub.Governance;

namespace CareHub.Server.Security;

/// <summary>Authentication settings, bound from the <c>CareHub:Auth</c> configuration section.</summary>
public sealed record AuthOptions
{
    public const string SectionName = "CareHub:Auth";

    /// <summary>The token issuers whose access tokens CareHub accepts.</summary>
    public List<TrustedIssuer> Issuers { get; init; } = [];

    /// <summary>How far clocks may drift between an issuer and CareHub when checking <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The development token endpoint; off unless configured and enabled.</summary>
    public DevTokenOptions? DevTokens { get; init; }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming every bad setting, so start-up fails fast.</summary>
    /// <param name="signInEnabled">CareHub's own authorization server is on, so clients can authenticate without another issuer.</param>
    public void Validate(bool signInEnabled = false)
    {
        var problems = new List<string>();
        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(10))
        {
            problems.Add($"{SectionName}:ClockSkew must be between 00:00:00 and 00:10:00 (it is {ClockSkew}).");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Issuers.Count; i++)
        {
            var issuer = Issuers[i];
            issuer.Validate($"{SectionName}:Issuers:{i}", problems);
            if (!string.IsNullOrWhiteSpace(issuer.Issuer) && !names.Add(issuer.Issuer))
            {
                problems.Add($"{SectionName}:Issuers:{i}:Issuer '{issuer.Issuer}' is configured more than once.");
            }
        }

        var devEnabled = DevTokens is { Enabled: true };
        if (devEnabled)
        {
            DevTokens!.Validate($"{SectionName}:DevTokens", problems);
            if (names.Contains(DevTokens.Issuer))
            {
                problems.Add($"{SectionName}:DevTokens:Issuer '{DevTokens.Issuer}' is also configured under {SectionName}:Issuers; use another name.");
            }
        }

        if (Issuers.Count == 0 && !devEnabled && !signInEnabled)
        {
            problems.Add($"{SectionName}: no trusted issuer is configured, development tokens are disabled and CareHub:SignIn is off, so no client could authenticate. "
                + $"Configure {SectionName}:Issuers, set {SectionName}:DevTokens:Enabled to true, or set CareHub:SignIn:Enabled to true.");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid authentication settings: " + string.Join(" ", problems));
        }
    }
}

/// <summary>An issuer of access tokens that CareHub trusts, and how to check its signatures.</summary>
public sealed record TrustedIssuer
{
    /// <summary>The exact <c>iss</c> value of its tokens.</summary>
    public string Issuer { get; init; } = "";

    /// <summary>The <c>aud</c> value its tokens must carry for CareHub (usually the FHIR base URL).</summary>
    public string Audience { get; init; } = "";

    /// <summary>
    /// Where the issuer publishes its signing keys (RFC 7517 JWK Set). Must be https, except on a loopback
    /// address where plain http cannot be intercepted.
    /// </summary>
    public string? JwksUri { get; init; }

    /// <summary>RSA or EC public keys (PEM <c>PUBLIC KEY</c> / <c>RSA PUBLIC KEY</c>), for issuers without a JWK Set.</summary>
    public List<string> SigningKeysPem { get; init; } = [];

    /// <summary>A shared HMAC key (at least 256 bits), base64; for issuers that only sign with HS256/384/512.</summary>
    public string? SymmetricKeyBase64 { get; init; }

    internal void Validate(string path, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(Issuer))
        {
            problems.Add($"{path}:Issuer is required.");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            problems.Add($"{path}:Audience is required.");
        }

        if (JwksUri is null && SigningKeysPem.Count == 0 && SymmetricKeyBase64 is null)
        {
            problems.Add($"{path} has no way to check signatures: set JwksUri, SigningKeysPem or SymmetricKeyBase64.");
        }

        if (JwksUri is not null && !IsAcceptableJwksUri(JwksUri))
        {
            problems.Add($"{path}:JwksUri must be an absolute https URL (http only on a loopback address).");
        }

        for (var k = 0; k < SigningKeysPem.Count; k++)
        {
            try
            {
                SigningKeys.FromPublicKeyPem(SigningKeysPem[k]);
            }
            catch (FormatException e)
            {
                problems.Add($"{path}:SigningKeysPem:{k} is not usable: {e.Message}");
            }
        }

        if (SymmetricKeyBase64 is not null)
        {
            var bytes = TryDecodeBase64(SymmetricKeyBase64);
            if (bytes is null)
            {
                problems.Add($"{path}:SymmetricKeyBase64 is not valid base64.");
            }
            else if (bytes.Length < 32)
            {
                problems.Add($"{path}:SymmetricKeyBase64 must hold at least 32 bytes (256 bits); it holds {bytes.Length}.");
            }
        }
    }

    internal static byte[]? TryDecodeBase64(string text)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static bool IsAcceptableJwksUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps
            || (uri.Scheme == Uri.UriSchemeHttp && (uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var ip) && IPAddress.IsLoopback(ip)))));
}

/// <summary>
/// The development token endpoint: a minimal OAuth 2.0 token service for local use, demos and tests.
/// Never enable it in production: its clients and secrets live in configuration.
/// </summary>
public sealed record DevTokenOptions
{
    /// <summary>Maps <c>POST /auth/token</c> and <c>GET /auth/jwks</c>, and trusts the tokens they issue.</summary>
    public bool Enabled { get; init; }

    /// <summary>The <c>iss</c> of development tokens.</summary>
    public string Issuer { get; init; } = "carehub-dev";

    /// <summary>The <c>aud</c> of development tokens (usually the FHIR base URL).</summary>
    public string Audience { get; init; } = "";

    /// <summary>How long an issued token is valid.</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A PEM file holding the RSA private signing key; when unset a key is generated at start-up and kept in memory.</summary>
    public string? SigningKeyPath { get; init; }

    /// <summary>The clients that may ask for tokens.</summary>
    public List<DevClient> Clients { get; init; } = [];

    /// <summary>Users who may sign in with the OAuth2 password grant (RFC 6749 section 4.3) through a client: demo only.</summary>
    public List<DevUser> Users { get; init; } = [];

    /// <summary>
    /// When set, a citizen signs in as <c>citizen:&lt;NHS number&gt;</c> with this password and gets a token for the
    /// Patient carrying that NHS Number (demo only).
    /// </summary>
    public string? CitizenPassword { get; init; }

    /// <summary>The scopes a citizen's token carries.</summary>
    public string CitizenScopes { get; init; } = "patient/*.rs patient/Consent.cu";

    internal void Validate(string path, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(Issuer))
        {
            problems.Add($"{path}:Issuer is required.");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            problems.Add($"{path}:Audience is required when development tokens are enabled.");
        }

        if (Lifetime <= TimeSpan.Zero || Lifetime > TimeSpan.FromHours(24))
        {
            problems.Add($"{path}:Lifetime must be more than zero and at most 1.00:00:00 (it is {Lifetime}).");
        }

        if (SigningKeyPath is not null && !File.Exists(SigningKeyPath))
        {
            problems.Add($"{path}:SigningKeyPath '{SigningKeyPath}' does not exist.");
        }

        if (Clients.Count == 0)
        {
            problems.Add($"{path}:Clients is empty, so no client could get a token.");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Clients.Count; i++)
        {
            Clients[i].Validate($"{path}:Clients:{i}", problems);
            if (!string.IsNullOrWhiteSpace(Clients[i].ClientId) && !ids.Add(Clients[i].ClientId))
            {
                problems.Add($"{path}:Clients:{i}:ClientId '{Clients[i].ClientId}' is configured more than once.");
            }
        }
    }
}

/// <summary>A user of the development token endpoint's password grant (demo users such as gp.smith).</summary>
public sealed record DevUser
{
    public string UserName { get; init; } = "";

    public string Password { get; init; } = "";

    /// <summary>The job role code (the access policy's role), the token's <c>role</c> claim.</summary>
    public string Role { get; init; } = "";

    /// <summary>The ODS code of the user's organisation, the token's <c>organisation</c> claim.</summary>
    public string? Organisation { get; init; }

    /// <summary>The token's <c>fhirUser</c> claim, e.g. <c>Practitioner/gp-smith</c>.</summary>
    public string? FhirUser { get; init; }

    /// <summary>Display name for the token's <c>name</c> claim.</summary>
    public string? Name { get; init; }

    /// <summary>The scopes the user's token carries (the access policy narrows them by role).</summary>
    public string Scopes { get; init; } = "user/*.cruds";
}

/// <summary>A client of the development token endpoint.</summary>
public sealed record DevClient
{
    public string ClientId { get; init; } = "";

    public string Secret { get; init; } = "";

    /// <summary>The scopes the client may be granted, space-separated.</summary>
    public string Scopes { get; init; } = "";

    /// <summary>The ODS code put in the token's <c>organisation</c> claim.</summary>
    public string? Organisation { get; init; }

    /// <summary><c>system</c>, <c>user</c> or <c>patient</c>: the token's <c>principal_type</c>.</summary>
    public string Kind { get; init; } = "system";

    /// <summary>The token's <c>fhirUser</c> claim, e.g. <c>Practitioner/123</c>.</summary>
    public string? FhirUser { get; init; }

    /// <summary>The token's <c>patient</c> claim; required for a <c>patient</c> client.</summary>
    public string? PatientId { get; init; }

    /// <summary>The token's <c>role</c> claim (job role code).</summary>
    public string? Role { get; init; }

    internal PrincipalKind PrincipalKind => TokenClaims.ParseKind(Kind)
        ?? throw new InvalidOperationException($"Development client '{ClientId}' has an unknown kind.");

    internal void Validate(string path, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(ClientId))
        {
            problems.Add($"{path}:ClientId is required.");
        }

        if (string.IsNullOrEmpty(Secret))
        {
            problems.Add($"{path}:Secret is required.");
        }

        if (ScopeSet.Parse(Scopes).Count == 0)
        {
            problems.Add($"{path}:Scopes is empty, so the client could be granted nothing.");
        }

        var kind = TokenClaims.ParseKind(Kind);
        if (kind is null)
        {
            problems.Add($"{path}:Kind must be system, user or patient (it is '{Kind}').");
        }
        else if (kind == PrincipalKind.Patient && string.IsNullOrWhiteSpace(PatientId))
        {
            problems.Add($"{path}:PatientId is required for a patient client.");
        }
    }
}
