namespace CareHub.Server.SignIn;

/// <summary>
/// The OpenID Connect and SMART authorization server inside CareHub, bound from <c>CareHub:SignIn</c> (docs/sign-in.md).
/// Off unless <see cref="Enabled"/>; its state lives in the sign-in store beside the record, wherever
/// <c>CareHub:Storage</c> puts it.
/// </summary>
public sealed record SignInOptions
{
    public const string SectionName = "CareHub:SignIn";

    /// <summary>Maps the authorization server's endpoints and trusts the tokens it issues.</summary>
    public bool Enabled { get; init; }

    /// <summary>
    /// The server's issuer identifier (RFC 8414 section 2), the <c>iss</c> of its tokens: the absolute URL clients reach
    /// CareHub at, e.g. <c>https://carehub.example.nhs.uk/</c>. Discovery is served under it.
    /// </summary>
    public string Issuer { get; init; } = "";

    /// <summary>The <c>aud</c> of its access tokens: the FHIR base URL (SMART App Launch's <c>aud</c> parameter).</summary>
    public string Audience { get; init; } = "";

    /// <summary>
    /// Refuse plain http (OAuth 2.0 requires TLS, RFC 6749 section 3.1). Only a development setup on loopback turns it off.
    /// </summary>
    public bool RequireHttps { get; init; } = true;

    /// <summary>How long an access token is valid.</summary>
    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a refresh token is valid (each use issues a new one and retires the old).</summary>
    public TimeSpan RefreshTokenLifetime { get; init; } = TimeSpan.FromDays(14);

    /// <summary>How long an authorization code is valid (RFC 6749 section 4.1.2 recommends at most 10 minutes).</summary>
    public TimeSpan AuthorizationCodeLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long one signing key signs before a new one replaces it (checked when the server starts). The old key stays in
    /// the JWK Set until every token it signed has expired.
    /// </summary>
    public TimeSpan KeyRotation { get; init; } = TimeSpan.FromDays(90);

    /// <summary>
    /// How long the bearer scheme trusts its last look-up of whether an access token was revoked; a revocation made through
    /// another CareHub node is honoured within this time. Zero looks up on every request.
    /// </summary>
    public TimeSpan RevocationCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws <see cref="InvalidOperationException"/> naming every bad setting, so start-up fails fast.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        var problems = new List<string>();
        if (!Uri.TryCreate(Issuer, UriKind.Absolute, out var issuer) || (issuer.Scheme != Uri.UriSchemeHttps && issuer.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(issuer.Query) || !string.IsNullOrEmpty(issuer.Fragment))
        {
            problems.Add($"{SectionName}:Issuer must be an absolute http(s) URL without query or fragment (it is '{Issuer}').");
        }
        else if (RequireHttps && issuer.Scheme != Uri.UriSchemeHttps)
        {
            problems.Add($"{SectionName}:Issuer must be https while {SectionName}:RequireHttps is true.");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            problems.Add($"{SectionName}:Audience is required: the FHIR base URL that access tokens are for.");
        }

        Check(problems, nameof(AccessTokenLifetime), AccessTokenLifetime, TimeSpan.FromHours(24));
        Check(problems, nameof(RefreshTokenLifetime), RefreshTokenLifetime, TimeSpan.FromDays(365));
        Check(problems, nameof(AuthorizationCodeLifetime), AuthorizationCodeLifetime, TimeSpan.FromMinutes(10));
        Check(problems, nameof(KeyRotation), KeyRotation, TimeSpan.FromDays(3650));
        if (RevocationCheckInterval < TimeSpan.Zero || RevocationCheckInterval > TimeSpan.FromMinutes(5))
        {
            problems.Add($"{SectionName}:RevocationCheckInterval must be between 00:00:00 and 00:05:00 (it is {RevocationCheckInterval}).");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid sign-in settings: " + string.Join(" ", problems));
        }
    }

    /// <summary>The longest any token signed with a key may still be presented: how long a retired key stays published.</summary>
    public TimeSpan LongestTokenLifetime => new[] { AccessTokenLifetime, RefreshTokenLifetime, AuthorizationCodeLifetime }.Max();

    private static void Check(List<string> problems, string name, TimeSpan value, TimeSpan maximum)
    {
        if (value <= TimeSpan.Zero || value > maximum)
        {
            problems.Add($"{SectionName}:{name} must be more than zero and at most {maximum} (it is {value}).");
        }
    }
}
