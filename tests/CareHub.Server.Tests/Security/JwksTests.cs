using System.Security.Cryptography;
using CareHub.Server.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.Security;

/// <summary>Signing keys fetched from a JWK Set served by a real Kestrel on loopback.</summary>
public sealed class JwksTests : IAsyncLifetime
{
    private readonly List<RsaSecurityKey> published = [TestTokens.NewRsaKey("key-a")];
    private readonly Lock gate = new();
    private readonly ManualTimeProvider time = new(DateTimeOffset.UtcNow);
    private LoopbackServer server = null!;
    private volatile bool failing;
    private int requests;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        server = await LoopbackServer.StartAsync(_ => { }, app => app.MapGet("/jwks", ServeJwks), Ct);

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        foreach (var key in published)
        {
            key.Rsa.Dispose();
        }
    }

    private IResult ServeJwks()
    {
        Interlocked.Increment(ref requests);
        if (failing)
        {
            return Results.StatusCode(500);
        }

        lock (gate)
        {
            return Results.Json(new
            {
                keys = published.Select(k =>
                {
                    var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(k.Rsa.ExportParameters(false)));
                    return new { kty = "RSA", use = "sig", kid = k.KeyId, n = jwk.N, e = jwk.E };
                }).ToArray(),
            });
        }
    }

    private BearerTokenValidator NewValidator() => TestTokens.Validator(new AuthOptions
    {
        Issuers = [new TrustedIssuer { Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUri = server.Url("/jwks").ToString() }],
    }, time);

    private RsaSecurityKey Publish(string keyId)
    {
        var key = TestTokens.NewRsaKey(keyId);
        lock (gate)
        {
            published.Add(key);
        }

        return key;
    }

    [Fact]
    public async Task validates_a_token_with_keys_fetched_once_and_cached()
    {
        using var validator = NewValidator();

        var first = await validator.ValidateAsync(TestTokens.Create(published[0]), Ct);
        var second = await validator.ValidateAsync(TestTokens.Create(published[0]), Ct);

        Assert.True(first.Succeeded);
        Assert.True(second.Succeeded);
        Assert.Equal(1, requests);
    }

    [Fact]
    public async Task an_unknown_key_id_refetches_the_keys_but_at_most_every_five_minutes()
    {
        using var validator = NewValidator();
        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);

        var rotated = Publish("key-b");
        var tooSoon = await validator.ValidateAsync(TestTokens.Create(rotated), Ct);
        Assert.False(tooSoon.Succeeded);
        Assert.Equal("The token's signature is not valid", tooSoon.Failure.Description);
        Assert.Equal(1, requests);

        time.Advance(JwksCache.MinimumRefreshInterval);
        var afterInterval = await validator.ValidateAsync(TestTokens.Create(rotated), Ct);

        Assert.True(afterInterval.Succeeded);
        Assert.Equal(2, requests);
    }

    [Fact]
    public async Task keys_older_than_the_maximum_age_are_fetched_again()
    {
        using var validator = NewValidator();
        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);

        time.Advance(JwksCache.MaximumAge);
        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);

        Assert.Equal(2, requests);
    }

    [Fact]
    public async Task a_failing_key_endpoint_gives_a_clear_reason_and_is_retried_later()
    {
        failing = true;
        using var validator = NewValidator();

        var failed = await validator.ValidateAsync(TestTokens.Create(published[0]), Ct);
        Assert.Equal("The token issuer's signing keys are not available; try again later", failed.Failure!.Description);
        Assert.False((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);
        Assert.Equal(1, requests);

        failing = false;
        time.Advance(JwksCache.RetryAfterFailure);

        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);
        Assert.Equal(2, requests);
    }

    [Fact]
    public async Task a_failed_refresh_keeps_the_keys_already_held()
    {
        using var validator = NewValidator();
        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);

        failing = true;
        time.Advance(JwksCache.MaximumAge);

        Assert.True((await validator.ValidateAsync(TestTokens.Create(published[0]), Ct)).Succeeded);
        Assert.Equal(2, requests);
    }

    [Fact]
    public async Task a_token_signed_by_an_unpublished_key_is_rejected()
    {
        using var validator = NewValidator();
        using var other = RSA.Create(2048);

        var result = await validator.ValidateAsync(TestTokens.Create(new RsaSecurityKey(other) { KeyId = "key-a" }), Ct);

        Assert.Equal("The token's signature is not valid", result.Failure!.Description);
    }
}
