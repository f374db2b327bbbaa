using CareHub.Server.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.Security;

public sealed class AuthenticateRequestTests : IDisposable
{
    private readonly RsaSecurityKey key = TestTokens.NewRsaKey("key-1");
    private readonly BearerTokenValidator validator;

    public AuthenticateRequestTests() =>
        validator = TestTokens.Validator(TestTokens.OptionsTrusting(TestTokens.PublicPem(this.key)));

    public void Dispose()
    {
        validator.Dispose();
        this.key.Rsa.Dispose();
    }

    private Task<AuthResult> Authenticate(params string[] authorization)
    {
        var context = new DefaultHttpContext();
        if (authorization.Length > 0)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return validator.AuthenticateAsync(context);
    }

    [Fact]
    public async Task a_request_without_a_token_needs_authentication_and_gets_a_bare_challenge()
    {
        var result = await Authenticate();

        Assert.False(result.Succeeded);
        Assert.Equal("Authentication required", result.Failure.Description);
        Assert.Null(result.Failure.Error);
        Assert.Equal(401, result.Failure.StatusCode);
        Assert.Equal("Bearer realm=\"carehub\"", result.Failure.WwwAuthenticate);
    }

    [Fact]
    public async Task another_scheme_counts_as_no_token() =>
        Assert.Equal(AuthFailure.Missing, (await Authenticate("Basic Zm9vOmJhcg==")).Failure);

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer   ")]
    public async Task a_bearer_header_without_a_token_is_a_bad_request(string header)
    {
        var failure = (await Authenticate(header)).Failure!;

        Assert.Equal(AuthFailure.InvalidRequestCode, failure.Error);
        Assert.Equal(400, failure.StatusCode);
    }

    [Fact]
    public async Task two_authorization_headers_are_a_bad_request() =>
        Assert.Equal(AuthFailure.InvalidRequestCode, (await Authenticate("Bearer a", "Bearer b")).Failure!.Error);

    [Theory]
    [InlineData("Bearer")]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    public async Task the_scheme_is_case_insensitive(string scheme)
    {
        var result = await Authenticate($"{scheme} {TestTokens.Create(this.key)}");

        Assert.True(result.Succeeded);
        Assert.Equal("lab-system", result.Principal.ClientId);
    }

    [Fact]
    public async Task an_invalid_token_gets_an_invalid_token_challenge()
    {
        var result = await Authenticate($"Bearer {TestTokens.Create(this.key, d => d.Audience = "https://elsewhere")}");

        Assert.Equal(401, result.Failure!.StatusCode);
        Assert.Equal(
            "Bearer realm=\"carehub\", error=\"invalid_token\", error_description=\"The access token is not intended for this server\"",
            result.Failure.WwwAuthenticate);
    }
}

public class BearerChallengeTests
{
    [Fact]
    public void builds_an_rfc_6750_challenge() =>
        Assert.Equal(
            "Bearer realm=\"carehub\", error=\"invalid_token\", error_description=\"The access token has expired\"",
            BearerChallenge.For(AuthFailure.InvalidToken("The access token has expired")));

    [Fact]
    public void replaces_characters_not_allowed_in_a_quoted_value() =>
        Assert.Equal(
            "Bearer realm=\"carehub\", error=\"invalid_token\", error_description=\"a 'b' c/d e f\"",
            BearerChallenge.Build("invalid_token", "a \"b\" c\\d e\nf"));

    [Fact]
    public void builds_an_insufficient_scope_challenge_with_the_scope() =>
        Assert.Equal(
            "Bearer realm=\"carehub\", error=\"insufficient_scope\", error_description=\"Reading Patient needs a scope\", scope=\"user/Patient.r\"",
            BearerChallenge.InsufficientScope("Reading Patient needs a scope", "user/Patient.r"));
}
