using System.Security.Cryptography;
using CareHub.Governance;
using CareHub.Server.Security;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.Security;

public sealed class BearerTokenValidatorTests : IDisposable
{
    private readonly RsaSecurityKey key = TestTokens.NewRsaKey("key-1");
    private readonly BearerTokenValidator validator;

    public BearerTokenValidatorTests() =>
        this.validator = TestTokens.Validator(TestTokens.OptionsTrusting(TestTokens.PublicPem(this.key)));

    public void Dispose()
    {
        this.validator.Dispose();
        this.key.Rsa.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> ReasonFor(string token)
    {
        var result = await this.validator.ValidateAsync(token, Ct);
        Assert.False(result.Succeeded);
        Assert.Equal(AuthFailure.InvalidTokenCode, result.Failure.Error);
        if (token.Length > 0)
        {
            Assert.DoesNotContain(token, result.Failure.Description, StringComparison.Ordinal);
        }

        return result.Failure.Description;
    }

    [Fact]
    public async Task a_five_part_token_is_refused_as_encrypted_by_its_shape()
    {
        var reason = await ReasonFor("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00iLCJ6aXAiOiJERUYifQ.x.y.z.w");
        Assert.Contains("JWE", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task tokens_of_any_shape_are_refused_with_a_reason_never_an_exception()
    {
        // Seeded, so every run tries the same tokens: a valid token with one character changed, or 1 to 6 parts, each
        // random bytes, JSON a parser may choke on, or junk.
        string[] json = ["{}", "[]", "null", "\"x\"", "{\"alg\":\"none\"}", "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}",
            "{\"alg\":\"RS256\",\"kid\":1,\"typ\":[]}", "{\"iss\":{},\"exp\":\"soon\",\"aud\":[1,2]}", "{\"alg\":\"RS256\"", "\ud800"];
        var valid = TestTokens.Create(this.key, claims: TestTokens.SystemClaims());
        var random = new Random(20261207);
        for (var i = 0; i < 2_000; i++)
        {
            string token;
            if (i % 4 == 0)
            {
                var chars = valid.ToCharArray();
                chars[random.Next(chars.Length)] = "._-!A0= "[random.Next(8)];
                token = new string(chars).Trim();
            }
            else
            {
                token = string.Join('.', Enumerable.Range(0, random.Next(1, 7)).Select(_ => random.Next(4) switch
                {
                    0 => Base64UrlEncoder.Encode(RandomBytes(random)),
                    1 or 2 => Base64UrlEncoder.Encode(json[random.Next(json.Length)]),
                    _ => "!!*" + random.Next(),
                }));
            }

            if (token.Length == 0 || token == valid)
            {
                continue;
            }

            // A changed character in base64url padding bits can leave a token valid; an exception is what must never happen.
            var result = await this.validator.ValidateAsync(token, Ct);
            Assert.True(i % 4 == 0 || !result.Succeeded, $"token {i} was accepted");
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 40)];
        random.NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task accepts_a_valid_token_and_maps_it_to_a_system_principal()
    {
        var claims = TestTokens.SystemClaims();
        claims["organisation"] = "RX1";
        var result = await this.validator.ValidateAsync(TestTokens.Create(this.key, claims: claims), Ct);

        Assert.True(result.Succeeded);
        var principal = result.Principal;
        Assert.Equal(PrincipalKind.System, principal.Kind);
        Assert.Equal("lab-system", principal.Subject);
        Assert.Equal("lab-system", principal.ClientId);
        Assert.Equal(TestTokens.Issuer, principal.Issuer);
        Assert.Equal("RX1", principal.Organisation);
        Assert.True(principal.Allows("Observation", FhirInteraction.Create));
        Assert.False(principal.Allows("Patient", FhirInteraction.Update));
    }

    [Fact]
    public async Task rejects_an_expired_token() =>
        Assert.Equal("The access token has expired", await ReasonFor(TestTokens.Create(this.key, d =>
        {
            d.NotBefore = DateTime.UtcNow.AddHours(-2);
            d.IssuedAt = d.NotBefore;
            d.Expires = DateTime.UtcNow.AddMinutes(-3);
        })));

    [Fact]
    public async Task accepts_a_token_expired_within_the_clock_skew()
    {
        var token = TestTokens.Create(this.key, d =>
        {
            d.NotBefore = DateTime.UtcNow.AddHours(-1);
            d.IssuedAt = d.NotBefore;
            d.Expires = DateTime.UtcNow.AddMinutes(-1);
        });

        Assert.True((await this.validator.ValidateAsync(token, Ct)).Succeeded);
    }

    [Fact]
    public async Task rejects_a_token_that_is_not_yet_valid() =>
        Assert.Equal("The access token is not yet valid", await ReasonFor(TestTokens.Create(this.key, d =>
        {
            d.NotBefore = DateTime.UtcNow.AddMinutes(5);
            d.IssuedAt = DateTime.UtcNow;
            d.Expires = DateTime.UtcNow.AddMinutes(30);
        })));

    [Fact]
    public async Task accepts_a_token_valid_from_within_the_clock_skew()
    {
        var token = TestTokens.Create(this.key, d =>
        {
            d.NotBefore = DateTime.UtcNow.AddMinutes(1);
            d.IssuedAt = DateTime.UtcNow;
            d.Expires = DateTime.UtcNow.AddMinutes(30);
        });

        Assert.True((await this.validator.ValidateAsync(token, Ct)).Succeeded);
    }

    [Fact]
    public async Task rejects_a_token_without_an_expiry_time() =>
        Assert.Equal("The access token has no expiry time", await ReasonFor(TestTokens.Create(this.key, d => d.Expires = null)));

    [Fact]
    public async Task rejects_a_token_from_an_untrusted_issuer() =>
        Assert.Equal("The token issuer is not trusted", await ReasonFor(TestTokens.Create(this.key, d => d.Issuer = "https://evil.example")));

    [Fact]
    public async Task rejects_a_token_for_another_audience() =>
        Assert.Equal("The access token is not intended for this server", await ReasonFor(TestTokens.Create(this.key, d => d.Audience = "https://other.example/fhir")));

    [Fact]
    public async Task rejects_a_token_signed_by_another_key_with_the_same_key_id()
    {
        using var forger = RSA.Create(2048);
        var forged = TestTokens.Create(new RsaSecurityKey(forger) { KeyId = "key-1" });

        Assert.Equal("The token's signature is not valid", await ReasonFor(forged));
    }

    [Fact]
    public async Task rejects_a_token_whose_payload_was_changed_after_signing()
    {
        var token = TestTokens.Create(this.key);
        var tampered = TestTokens.WithPayload(token, p => p.Replace("system/Patient.rs", "system/*.cruds", StringComparison.Ordinal));

        Assert.NotEqual(token, tampered);
        Assert.Equal("The token's signature is not valid", await ReasonFor(tampered));
    }

    [Fact]
    public async Task rejects_an_unsigned_token_with_alg_none() =>
        Assert.Equal("The token's signature is not valid", await ReasonFor(TestTokens.Unsigned(TestTokens.Create(this.key))));

    [Fact]
    public async Task rejects_an_hmac_token_keyed_with_the_issuers_public_key()
    {
        // The classic algorithm confusion: HS256 with the published RSA public key as the shared secret.
        var publicKeyBytes = System.Text.Encoding.UTF8.GetBytes(TestTokens.PublicPem(this.key));
        var token = TestTokens.Create(new SymmetricSecurityKey(publicKeyBytes), algorithm: SecurityAlgorithms.HmacSha256);

        Assert.Equal("The token's signature is not valid", await ReasonFor(token));
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    [InlineData("")]
    public async Task rejects_a_malformed_token(string token) =>
        Assert.Equal("The access token is not a well-formed JWT", await ReasonFor(token));

    [Fact]
    public async Task rejects_an_oversized_token_before_parsing_it() =>
        Assert.Equal("The access token is too large", await ReasonFor(new string('a', BearerTokenValidator.MaximumTokenLength + 1)));

    [Fact]
    public async Task accepts_a_token_signed_with_an_ec_key_given_as_pem()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var validator = TestTokens.Validator(TestTokens.OptionsTrusting(ec.ExportSubjectPublicKeyInfoPem()));

        var result = await validator.ValidateAsync(TestTokens.Create(new ECDsaSecurityKey(ec), algorithm: SecurityAlgorithms.EcdsaSha256), Ct);

        Assert.True(result.Succeeded);
    }

    [Fact]
    public async Task accepts_an_hmac_token_from_an_issuer_with_a_shared_key()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        using var validator = TestTokens.Validator(new AuthOptions
        {
            Issuers = [new TrustedIssuer { Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SymmetricKeyBase64 = Convert.ToBase64String(secret) }],
        });

        var good = await validator.ValidateAsync(TestTokens.Create(new SymmetricSecurityKey(secret), algorithm: SecurityAlgorithms.HmacSha256), Ct);
        var bad = await validator.ValidateAsync(TestTokens.Create(new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)), algorithm: SecurityAlgorithms.HmacSha256), Ct);

        Assert.True(good.Succeeded);
        Assert.False(bad.Succeeded);
    }

    [Fact]
    public async Task maps_a_practitioner_token_to_a_user_principal()
    {
        var token = TestTokens.Create(this.key, claims: new(StringComparer.Ordinal)
        {
            ["sub"] = "user-7",
            ["azp"] = "gp-portal",
            ["fhirUser"] = "Practitioner/123",
            ["name"] = "Dr Example",
            ["org"] = "A81001",
            ["role"] = "R8000",
            ["scp"] = new[] { "openid", "user/Patient.rs" },
        });

        var principal = (await this.validator.ValidateAsync(token, Ct)).Principal!;

        Assert.Equal(PrincipalKind.User, principal.Kind);
        Assert.Equal("user-7", principal.Subject);
        Assert.Equal("gp-portal", principal.ClientId);
        Assert.Equal("Practitioner/123", principal.FhirUser);
        Assert.Equal("Dr Example", principal.Name);
        Assert.Equal("A81001", principal.Organisation);
        Assert.Equal("R8000", principal.Role);
        Assert.True(principal.Scopes.Contains("openid"));
        Assert.True(principal.Allows("Patient", FhirInteraction.Search));
    }

    [Fact]
    public async Task maps_a_citizen_token_to_a_patient_principal()
    {
        var token = TestTokens.Create(this.key, claims: new(StringComparer.Ordinal)
        {
            ["sub"] = "nhs-login-abc",
            ["client_id"] = "citizen-app",
            ["patient"] = "9",
            ["scope"] = "patient/*.rs",
        });

        var principal = (await this.validator.ValidateAsync(token, Ct)).Principal!;

        Assert.Equal(PrincipalKind.Patient, principal.Kind);
        Assert.Equal("9", principal.PatientId);
        Assert.True(principal.Allows("Observation", FhirInteraction.Read));
    }

    [Fact]
    public async Task takes_the_patient_from_a_patient_fhir_user()
    {
        var token = TestTokens.Create(this.key, claims: new(StringComparer.Ordinal)
        {
            ["sub"] = "nhs-login-abc",
            ["client_id"] = "citizen-app",
            ["fhirUser"] = "Patient/9",
        });

        var principal = (await this.validator.ValidateAsync(token, Ct)).Principal!;

        Assert.Equal(PrincipalKind.Patient, principal.Kind);
        Assert.Equal("9", principal.PatientId);
    }

    [Fact]
    public async Task an_explicit_principal_type_wins_over_inference()
    {
        var claims = TestTokens.SystemClaims();
        claims["sub"] = "someone-else";
        claims["principal_type"] = "system";

        Assert.Equal(PrincipalKind.System, (await this.validator.ValidateAsync(TestTokens.Create(this.key, claims: claims), Ct)).Principal!.Kind);
    }

    [Fact]
    public async Task a_subject_other_than_the_client_is_a_user()
    {
        var claims = TestTokens.SystemClaims();
        claims["sub"] = "someone-else";

        Assert.Equal(PrincipalKind.User, (await this.validator.ValidateAsync(TestTokens.Create(this.key, claims: claims), Ct)).Principal!.Kind);
    }

    [Fact]
    public async Task rejects_an_unknown_principal_type()
    {
        var claims = TestTokens.SystemClaims();
        claims["principal_type"] = "admin";

        Assert.Equal("The access token's principal_type claim is not recognised", await ReasonFor(TestTokens.Create(this.key, claims: claims)));
    }

    [Fact]
    public async Task rejects_a_patient_token_that_names_no_patient()
    {
        var claims = TestTokens.SystemClaims();
        claims["principal_type"] = "patient";

        Assert.Equal("The access token is for a patient but does not say which patient", await ReasonFor(TestTokens.Create(this.key, claims: claims)));
    }

    [Fact]
    public async Task rejects_a_token_whose_patient_claims_disagree()
    {
        var claims = TestTokens.SystemClaims();
        claims["fhirUser"] = "Patient/9";
        claims["patient"] = "10";

        Assert.Equal("The access token's patient and fhirUser claims name different patients", await ReasonFor(TestTokens.Create(this.key, claims: claims)));
    }

    [Fact]
    public async Task rejects_a_token_without_subject_or_client()
    {
        var token = TestTokens.Create(this.key, claims: new(StringComparer.Ordinal) { ["scope"] = "system/*.rs" });

        Assert.Equal("The access token does not identify its subject or client", await ReasonFor(token));
    }

    [Fact]
    public async Task a_remembered_token_does_not_let_a_tampered_copy_through()
    {
        var validator = this.validator;
        var token = TestTokens.Create(this.key);
        Assert.True((await validator.ValidateAsync(token, Ct)).Succeeded);
        Assert.True((await validator.ValidateAsync(token, Ct)).Succeeded);
        var parts = token.Split('.');
        var tampered = parts[0] + "." + parts[1] + "." + parts[2][..^2] + (parts[2][^2] == 'A' ? "BB" : "AA");
        Assert.False((await validator.ValidateAsync(tampered, Ct)).Succeeded);
    }
}
