using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.SignIn;

/// <summary>
/// The authorization server's backend flows over real HTTP, step by step as a client follows the protocol: discovery, client
/// credentials with a client secret and with a signed assertion (SMART Backend Services), the token used at the FHIR API,
/// introspection and revocation, and each refusal with the error its RFC names. Runs on SQLite and PostgreSQL.
/// </summary>
public abstract class ClientCredentialsContract(SignInFixture server)
{
    private const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewClientId() => "client-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task discovery_names_the_endpoints_and_the_jwk_set_holds_the_key_tokens_are_signed_with()
    {
        server.SkipIfUnavailable();
        using var openid = await JsonAsync(await server.Anonymous.GetAsync(server.BaseUrl + "/.well-known/openid-configuration", Ct));
        Assert.Equal(server.Issuer, openid.RootElement.GetProperty("issuer").GetString());
        Assert.Equal(server.TokenEndpoint, openid.RootElement.GetProperty("token_endpoint").GetString());
        var jwksUri = openid.RootElement.GetProperty("jwks_uri").GetString()!;

        using var smart = await JsonAsync(await server.Anonymous.GetAsync(server.FhirUrl + "/.well-known/smart-configuration", Ct));
        Assert.Equal(server.TokenEndpoint, smart.RootElement.GetProperty("token_endpoint").GetString());
        Assert.Contains("private_key_jwt", Strings(smart.RootElement.GetProperty("token_endpoint_auth_methods_supported")));
        Assert.Contains("RS384", Strings(smart.RootElement.GetProperty("token_endpoint_auth_signing_alg_values_supported")));
        Assert.Contains("client-confidential-asymmetric", Strings(smart.RootElement.GetProperty("capabilities")));

        var clientId = NewClientId();
        await server.RegisterAsync(clientId, "system/Patient.rs", secret: "s3cret-" + clientId);
        var token = await TokenAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", "s3cret-" + clientId)));
        var kid = new JsonWebToken(token).Kid;
        var jwks = new JsonWebKeySet(await server.Anonymous.GetStringAsync(jwksUri, Ct));
        Assert.Contains(jwks.Keys, k => k.Kid == kid);
        Assert.All(jwks.Keys, k => Assert.False(k.HasPrivateKey));
    }

    [Fact]
    public async Task a_client_with_a_secret_gets_a_token_the_fhir_api_accepts_as_that_system()
    {
        var clientId = NewClientId();
        await server.RegisterAsync(clientId, "system/*.rs", secret: "s3cret", organisation: "RTH");
        using var request = new HttpRequestMessage(HttpMethod.Post, server.TokenEndpoint) { Content = Form(("grant_type", "client_credentials"), ("scope", "system/Patient.rs")) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":s3cret")));
        using var response = await server.Anonymous.SendAsync(request, Ct);
        using var body = await JsonAsync(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = body.RootElement.GetProperty("access_token").GetString()!;

        var jwt = new JsonWebToken(token);
        Assert.Equal("system/Patient.rs", jwt.GetPayloadValue<string>("scope"));
        Assert.Equal(server.Issuer, jwt.Issuer);
        Assert.Equal(server.FhirUrl, Assert.Single(jwt.Audiences));
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal(clientId, jwt.Subject);

        Assert.Equal(HttpStatusCode.OK, (await GetWithAsync(token, "/Patient?_count=1")).StatusCode);
        // The token's scope is what the door judges: reading patients is granted; observations and writing are not.
        Assert.Equal(HttpStatusCode.Forbidden, (await GetWithAsync(token, "/Observation?_count=1")).StatusCode);
        using var write = new HttpRequestMessage(HttpMethod.Post, server.FhirUrl + "/Patient") { Content = ServerFixture.Json("""{"resourceType":"Patient"}""") };
        write.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Anonymous.SendAsync(write, Ct)).StatusCode);
    }

    [Theory]
    [InlineData("RS384")]
    [InlineData("ES384")]
    public async Task a_backend_client_authenticates_with_a_jwt_signed_by_its_registered_key(string algorithm)
    {
        var clientId = NewClientId();
        var key = NewKey(algorithm);
        await server.RegisterAsync(clientId, "system/*.rs", keys: SignInFixture.KeySet(key));

        var token = await TokenAsync(AssertionForm(clientId, Assertion(clientId, key, algorithm), "system/Observation.rs"));
        Assert.Equal(HttpStatusCode.OK, (await GetWithAsync(token, "/Observation?_count=1")).StatusCode);
    }

    [Fact]
    public async Task a_client_assertion_presented_twice_is_refused_the_second_time()
    {
        var clientId = NewClientId();
        var key = NewKey("RS384");
        await server.RegisterAsync(clientId, "system/*.rs", keys: SignInFixture.KeySet(key));
        var assertion = Assertion(clientId, key, "RS384");

        await TokenAsync(AssertionForm(clientId, assertion, null));
        await AssertRefusedAsync(AssertionForm(clientId, assertion, null), HttpStatusCode.BadRequest, "invalid_client", HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task an_assertion_signed_with_another_key_or_for_another_audience_is_refused()
    {
        var clientId = NewClientId();
        var key = NewKey("RS384");
        await server.RegisterAsync(clientId, "system/*.rs", keys: SignInFixture.KeySet(key));

        await AssertRefusedAsync(AssertionForm(clientId, Assertion(clientId, NewKey("RS384"), "RS384"), null), HttpStatusCode.BadRequest, "invalid_client", HttpStatusCode.Unauthorized);
        await AssertRefusedAsync(AssertionForm(clientId, Assertion(clientId, key, "RS384", audience: "https://elsewhere.example/token"), null), HttpStatusCode.BadRequest, "invalid_client", HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task a_wrong_secret_and_an_unknown_client_get_the_same_refusal()
    {
        var clientId = NewClientId();
        await server.RegisterAsync(clientId, "system/*.rs", secret: "right");

        var wrong = await RefusalAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", "wrong")));
        var unknown = await RefusalAsync(Form(("grant_type", "client_credentials"), ("client_id", NewClientId()), ("client_secret", "wrong")));
        Assert.Equal("invalid_client", wrong.Error);
        Assert.Equal((wrong.Status, wrong.Error), (unknown.Status, unknown.Error));
    }

    [Fact]
    public async Task a_scope_beyond_the_registration_is_refused_and_nothing_is_issued()
    {
        var clientId = NewClientId();
        await server.RegisterAsync(clientId, "system/Patient.rs", secret: "s3cret");

        await AssertRefusedAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", "s3cret"), ("scope", "system/Patient.cruds")), HttpStatusCode.BadRequest, "invalid_scope");
        await AssertRefusedAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", "s3cret"), ("scope", "user/Patient.rs")), HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task a_revoked_access_token_is_inactive_at_introspection_and_refused_by_the_fhir_api()
    {
        var clientId = NewClientId();
        await server.RegisterAsync(clientId, "system/Patient.rs", secret: "s3cret");
        var token = await TokenAsync(Form(("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", "s3cret")));
        Assert.Equal(HttpStatusCode.OK, (await GetWithAsync(token, "/Patient?_count=1")).StatusCode);

        using (var active = await JsonAsync(await server.Anonymous.PostAsync(server.BaseUrl + "/connect/introspect",
            Form(("token", token), ("client_id", clientId), ("client_secret", "s3cret")), Ct)))
        {
            Assert.True(active.RootElement.GetProperty("active").GetBoolean());
            Assert.Equal(clientId, active.RootElement.GetProperty("client_id").GetString());
        }

        using (var revoke = await server.Anonymous.PostAsync(server.BaseUrl + "/connect/revoke", Form(("token", token), ("client_id", clientId), ("client_secret", "s3cret")), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        using (var inactive = await JsonAsync(await server.Anonymous.PostAsync(server.BaseUrl + "/connect/introspect",
            Form(("token", token), ("client_id", clientId), ("client_secret", "s3cret")), Ct)))
        {
            Assert.False(inactive.RootElement.GetProperty("active").GetBoolean());
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await GetWithAsync(token, "/Patient?_count=1")).StatusCode);
    }

    [Fact]
    public async Task another_client_cannot_revoke_or_read_a_clients_token()
    {
        var owner = NewClientId();
        var other = NewClientId();
        await server.RegisterAsync(owner, "system/Patient.rs", secret: "s3cret");
        await server.RegisterAsync(other, "system/Patient.rs", secret: "s3cret");
        var token = await TokenAsync(Form(("grant_type", "client_credentials"), ("client_id", owner), ("client_secret", "s3cret")));

        using (var peek = await JsonAsync(await server.Anonymous.PostAsync(server.BaseUrl + "/connect/introspect", Form(("token", token), ("client_id", other), ("client_secret", "s3cret")), Ct)))
        {
            Assert.False(peek.RootElement.GetProperty("active").GetBoolean());
        }

        await server.Anonymous.PostAsync(server.BaseUrl + "/connect/revoke", Form(("token", token), ("client_id", other), ("client_secret", "s3cret")), Ct);
        Assert.Equal(HttpStatusCode.OK, (await GetWithAsync(token, "/Patient?_count=1")).StatusCode);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private static AsymmetricSecurityKey NewKey(string algorithm) => algorithm switch
    {
        "RS384" => new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") },
        "ES384" => new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP384)) { KeyId = Guid.NewGuid().ToString("N") },
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>A client assertion as SMART Backend Services describes it (RFC 7523 section 3): iss and sub the client, aud the token endpoint, a fresh jti, five minutes at most.</summary>
    private string Assertion(string clientId, AsymmetricSecurityKey key, string algorithm, string? audience = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = clientId,
            Audience = audience ?? server.TokenEndpoint,
            Claims = new Dictionary<string, object> { ["sub"] = clientId, ["jti"] = Guid.NewGuid().ToString("N") },
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }

    private static FormUrlEncodedContent AssertionForm(string clientId, string assertion, string? scope) =>
        Form([("grant_type", "client_credentials"), ("client_id", clientId), ("client_assertion_type", AssertionType), ("client_assertion", assertion), .. scope is null ? Array.Empty<(string, string)>() : [("scope", scope)]]);

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    private async Task<string> TokenAsync(HttpContent form)
    {
        using var response = await server.Anonymous.PostAsync(server.TokenEndpoint, form, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {text} {string.Join('\n', server.Errors.All)}");
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    private async Task<(HttpStatusCode Status, string? Error)> RefusalAsync(HttpContent form)
    {
        using var response = await server.Anonymous.PostAsync(server.TokenEndpoint, form, Ct);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.False(json.RootElement.TryGetProperty("access_token", out _));
        return (response.StatusCode, json.RootElement.TryGetProperty("error", out var error) ? error.GetString() : null);
    }

    private async Task AssertRefusedAsync(HttpContent form, HttpStatusCode status, string error, HttpStatusCode? alternative = null)
    {
        var refusal = await RefusalAsync(form);
        Assert.Equal(error, refusal.Error);
        Assert.True(refusal.Status == status || refusal.Status == alternative, $"status {(int)refusal.Status}");
    }

    private async Task<HttpResponseMessage> GetWithAsync(string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, server.FhirUrl + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await server.Anonymous.SendAsync(request, Ct);
    }

    private static async Task<JsonDocument> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];
}

public sealed class ClientCredentialsOnSqliteTests(SqliteSignInFixture server) : ClientCredentialsContract(server), IClassFixture<SqliteSignInFixture>;

public sealed class ClientCredentialsOnPostgresTests(PostgresSignInFixture server) : ClientCredentialsContract(server), IClassFixture<PostgresSignInFixture>;
