using System.Security.Cryptography;
using CareHub.Server.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Server.Tests.Security;

public class AuthOptionsTests
{
    private static AuthOptions Bind(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build()
            .GetSection(AuthOptions.SectionName).Get<AuthOptions>()!;

    private static string ProblemWith(AuthOptions options) =>
        Assert.Throws<InvalidOperationException>(() => options.Validate()).Message;

    private static TrustedIssuer GoodIssuer() => new()
    {
        Issuer = TestTokens.Issuer,
        Audience = TestTokens.Audience,
        JwksUri = "https://idp.example.nhs.uk/.well-known/jwks.json",
    };

    [Fact]
    public void binds_from_the_carehub_auth_section()
    {
        var options = Bind(new()
        {
            ["CareHub:Auth:ClockSkew"] = "00:00:30",
            ["CareHub:Auth:Issuers:0:Issuer"] = TestTokens.Issuer,
            ["CareHub:Auth:Issuers:0:Audience"] = TestTokens.Audience,
            ["CareHub:Auth:Issuers:0:SigningKeysPem:0"] = "pem-1",
            ["CareHub:Auth:DevTokens:Enabled"] = "true",
            ["CareHub:Auth:DevTokens:Lifetime"] = "00:15:00",
            ["CareHub:Auth:DevTokens:Clients:0:ClientId"] = "a",
        });

        Assert.Equal(TimeSpan.FromSeconds(30), options.ClockSkew);
        var issuer = Assert.Single(options.Issuers);
        Assert.Equal(TestTokens.Audience, issuer.Audience);
        Assert.Equal(["pem-1"], issuer.SigningKeysPem);
        Assert.True(options.DevTokens!.Enabled);
        Assert.Equal("carehub-dev", options.DevTokens.Issuer);
        Assert.Equal(TimeSpan.FromMinutes(15), options.DevTokens.Lifetime);
        Assert.Equal("system", Assert.Single(options.DevTokens.Clients).Kind);
    }

    [Fact]
    public void defaults_are_two_minutes_of_skew_and_one_hour_dev_tokens()
    {
        Assert.Equal(TimeSpan.FromMinutes(2), new AuthOptions().ClockSkew);
        Assert.Equal(TimeSpan.FromHours(1), new DevTokenOptions().Lifetime);
    }

    [Fact]
    public void a_good_configuration_validates() =>
        new AuthOptions { Issuers = [GoodIssuer()] }.Validate();

    [Fact]
    public void no_issuer_and_no_dev_tokens_is_refused() =>
        Assert.Contains("no trusted issuer is configured", ProblemWith(new AuthOptions()), StringComparison.Ordinal);

    [Fact]
    public void names_a_missing_audience() =>
        Assert.Contains("CareHub:Auth:Issuers:0:Audience is required", ProblemWith(new AuthOptions { Issuers = [GoodIssuer() with { Audience = "" }] }), StringComparison.Ordinal);

    [Fact]
    public void names_an_issuer_without_keys() =>
        Assert.Contains("CareHub:Auth:Issuers:0 has no way to check signatures", ProblemWith(new AuthOptions { Issuers = [GoodIssuer() with { JwksUri = null }] }), StringComparison.Ordinal);

    [Theory]
    [InlineData("http://idp.example.nhs.uk/jwks")]
    [InlineData("/jwks")]
    public void refuses_a_jwks_uri_that_is_not_https(string uri) =>
        Assert.Contains("CareHub:Auth:Issuers:0:JwksUri must be an absolute https URL", ProblemWith(new AuthOptions { Issuers = [GoodIssuer() with { JwksUri = uri }] }), StringComparison.Ordinal);

    [Fact]
    public void allows_a_plain_http_jwks_uri_on_loopback() =>
        new AuthOptions { Issuers = [GoodIssuer() with { JwksUri = "http://127.0.0.1:5001/jwks" }] }.Validate();

    [Fact]
    public void names_a_pem_that_is_not_a_public_key()
    {
        using var rsa = RSA.Create(2048);
        var options = new AuthOptions { Issuers = [GoodIssuer() with { SigningKeysPem = ["not pem", rsa.ExportPkcs8PrivateKeyPem()] }] };

        var problem = ProblemWith(options);

        Assert.Contains("CareHub:Auth:Issuers:0:SigningKeysPem:0 is not usable", problem, StringComparison.Ordinal);
        Assert.Contains("CareHub:Auth:Issuers:0:SigningKeysPem:1 is not usable: it is a private key", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void refuses_a_short_rsa_key()
    {
        using var rsa = RSA.Create(1024);

        Assert.Contains("at least 2048", ProblemWith(new AuthOptions { Issuers = [GoodIssuer() with { SigningKeysPem = [rsa.ExportSubjectPublicKeyInfoPem()] }] }), StringComparison.Ordinal);
    }

    [Fact]
    public void refuses_a_short_symmetric_key() =>
        Assert.Contains("SymmetricKeyBase64 must hold at least 32 bytes", ProblemWith(new AuthOptions { Issuers = [GoodIssuer() with { SymmetricKeyBase64 = Convert.ToBase64String(new byte[16]) }] }), StringComparison.Ordinal);

    [Fact]
    public void refuses_the_same_issuer_twice() =>
        Assert.Contains("is configured more than once", ProblemWith(new AuthOptions { Issuers = [GoodIssuer(), GoodIssuer()] }), StringComparison.Ordinal);

    [Fact]
    public void refuses_a_negative_clock_skew() =>
        Assert.Contains("CareHub:Auth:ClockSkew", ProblemWith(new AuthOptions { Issuers = [GoodIssuer()], ClockSkew = TimeSpan.FromMinutes(-1) }), StringComparison.Ordinal);

    [Fact]
    public void names_every_bad_dev_token_setting()
    {
        var options = new AuthOptions
        {
            DevTokens = new DevTokenOptions
            {
                Enabled = true,
                Clients =
                [
                    new DevClient { ClientId = "a", Secret = "s", Scopes = "patient/*.rs", Kind = "patient" },
                    new DevClient { ClientId = "b", Secret = "", Scopes = "", Kind = "robot" },
                ],
            },
        };

        var problem = ProblemWith(options);

        Assert.Contains("CareHub:Auth:DevTokens:Audience is required", problem, StringComparison.Ordinal);
        Assert.Contains("CareHub:Auth:DevTokens:Clients:0:PatientId is required for a patient client", problem, StringComparison.Ordinal);
        Assert.Contains("CareHub:Auth:DevTokens:Clients:1:Secret is required", problem, StringComparison.Ordinal);
        Assert.Contains("CareHub:Auth:DevTokens:Clients:1:Scopes is empty", problem, StringComparison.Ordinal);
        Assert.Contains("CareHub:Auth:DevTokens:Clients:1:Kind must be system, user or patient", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void dev_token_settings_are_ignored_while_disabled() =>
        new AuthOptions { Issuers = [GoodIssuer()], DevTokens = new DevTokenOptions { Enabled = false } }.Validate();

    [Fact]
    public void add_carehub_auth_fails_fast_on_a_bad_setting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CareHub:Auth:Issuers:0:Issuer"] = TestTokens.Issuer,
            ["CareHub:Auth:Issuers:0:JwksUri"] = "https://idp.example.nhs.uk/jwks",
        }).Build();

        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddCareHubAuth(configuration));

        Assert.Contains("CareHub:Auth:Issuers:0:Audience is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void a_missing_signing_key_file_is_named() =>
        Assert.Contains("CareHub:Auth:DevTokens:SigningKeyPath", ProblemWith(new AuthOptions
        {
            DevTokens = new DevTokenOptions
            {
                Enabled = true,
                Audience = "a",
                SigningKeyPath = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".pem"),
                Clients = [new DevClient { ClientId = "c", Secret = "s", Scopes = "system/*.rs" }],
            },
        }), StringComparison.Ordinal);
}

public sealed class DevSigningKeyFileTests : IDisposable
{
    private readonly string path = Path.Combine(Path.GetTempPath(), $"carehub-dev-key-{Guid.NewGuid():N}.pem");

    public void Dispose() => File.Delete(path);

    private DevTokenOptions Options() => new()
    {
        Enabled = true,
        Audience = TestTokens.Audience,
        SigningKeyPath = path,
        Clients = [new DevClient { ClientId = "c", Secret = "s", Scopes = "system/*.rs" }],
    };

    [Fact]
    public async Task signs_with_the_configured_key_file()
    {
        using var rsa = RSA.Create(2048);
        File.WriteAllText(path, rsa.ExportPkcs8PrivateKeyPem());
        using var issuer = new DevTokenIssuer(Options(), TimeProvider.System, NullLogger<DevTokenIssuer>.Instance);
        var token = issuer.Issue(DevTokenSubject.ForClient(Options().Clients[0]), CareHub.Governance.ScopeSet.Parse("system/*.rs"));
        using var validator = TestTokens.Validator(new AuthOptions
        {
            Issuers = [new TrustedIssuer { Issuer = "carehub-dev", Audience = TestTokens.Audience, SigningKeysPem = [rsa.ExportSubjectPublicKeyInfoPem()] }],
        });

        var result = await validator.ValidateAsync(token.AccessToken, TestContext.Current.CancellationToken);

        Assert.True(result.Succeeded, result.Failure?.Description);
    }

    [Fact]
    public void a_key_file_holding_only_a_public_key_is_refused()
    {
        using var rsa = RSA.Create(2048);
        File.WriteAllText(path, rsa.ExportSubjectPublicKeyInfoPem());

        var error = Assert.Throws<InvalidOperationException>(() => new DevTokenIssuer(Options(), TimeProvider.System, NullLogger<DevTokenIssuer>.Instance));

        Assert.Contains("CareHub:Auth:DevTokens:SigningKeyPath", error.Message, StringComparison.Ordinal);
    }
}
