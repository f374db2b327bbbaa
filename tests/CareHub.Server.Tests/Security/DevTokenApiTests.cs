using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CareHub.Governance;
using CareHub.Server.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests.Security;

/// <summary>The development token endpoint end to end, on a real Kestrel on loopback.</summary>
public sealed class DevTokenApiTests(DevTokenServerFixture fixture) : IClassFixture<DevTokenServerFixture>
{
    private const string Audience = DevTokenServerFixture.Audience;
    private const string Secret = DevTokenServerFixture.Secret;

    private readonly LoopbackServer server = fixture.Server;
    private readonly HttpClient http = fixture.Http;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<HttpResponseMessage> PostToken(Dictionary<string, string> form, AuthenticationHeaderValue? authorization = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/auth/token") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = authorization;
        return this.http.SendAsync(request, Ct);
    }

    private static Dictionary<string, string> ClientCredentials(string secret = Secret, string? scope = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = "gp-system",
            ["client_secret"] = secret,
        };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        return form;
    }

    private static AuthenticationHeaderValue Basic(string id, string secret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(id)}:{Uri.EscapeDataString(secret)}")));

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);

    private async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(error, (await Json(response)).GetProperty("error").GetString());
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
    }

    private async Task<Principal> Validated(string accessToken)
    {
        var result = await this.server.App.Services.GetRequiredService<BearerTokenValidator>().ValidateAsync(accessToken, Ct);
        Assert.True(result.Succeeded, result.Failure?.Description);
        return result.Principal;
    }

    [Fact]
    public async Task issues_a_token_for_good_client_credentials_that_the_validator_accepts()
    {
        using var response = await PostToken(ClientCredentials());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore);
        var body = await Json(response);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(1800, body.GetProperty("expires_in").GetInt64());
        Assert.Equal("system/Patient.rs system/Observation.cruds", body.GetProperty("scope").GetString());

        var principal = await Validated(body.GetProperty("access_token").GetString()!);
        Assert.Equal(PrincipalKind.System, principal.Kind);
        Assert.Equal("gp-system", principal.ClientId);
        Assert.Equal("carehub-dev", principal.Issuer);
        Assert.Equal("A81001", principal.Organisation);
        Assert.True(principal.Allows("Observation", FhirInteraction.Create));
        Assert.False(principal.Allows("Patient", FhirInteraction.Delete));
    }

    [Fact]
    public async Task accepts_client_credentials_in_a_basic_header()
    {
        using var response = await PostToken(new() { ["grant_type"] = "client_credentials" }, Basic("gp-system", Secret));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task a_wrong_secret_is_an_invalid_client() =>
        await AssertError(await PostToken(ClientCredentials(secret: "guess")), HttpStatusCode.Unauthorized, "invalid_client");

    [Fact]
    public async Task a_wrong_secret_in_a_basic_header_gets_a_basic_challenge()
    {
        using var response = await PostToken(new() { ["grant_type"] = "client_credentials" }, Basic("gp-system", "guess"));

        await AssertError(response, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Equal("Basic", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task an_unknown_client_is_an_invalid_client()
    {
        var form = ClientCredentials();
        form["client_id"] = "nobody";

        await AssertError(await PostToken(form), HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task no_client_authentication_is_an_invalid_client() =>
        await AssertError(await PostToken(new() { ["grant_type"] = "client_credentials" }), HttpStatusCode.Unauthorized, "invalid_client");

    [Fact]
    public async Task another_grant_type_is_unsupported()
    {
        var form = ClientCredentials();
        form["grant_type"] = "password";

        await AssertError(await PostToken(form), HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task a_missing_grant_type_is_an_invalid_request()
    {
        var form = ClientCredentials();
        form.Remove("grant_type");

        await AssertError(await PostToken(form), HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task a_json_body_is_an_invalid_request()
    {
        using var response = await this.http.PostAsJsonAsync("/auth/token", ClientCredentials(), Ct);

        await AssertError(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task a_repeated_parameter_is_an_invalid_request()
    {
        var content = new StringContent("grant_type=client_credentials&client_id=gp-system&client_secret=x&scope=a&scope=b", Encoding.ASCII, "application/x-www-form-urlencoded");

        await AssertError(await this.http.PostAsync("/auth/token", content, Ct), HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task an_oversized_body_is_an_invalid_request()
    {
        var form = ClientCredentials();
        form["padding"] = new string('x', 32 * 1024);

        await AssertError(await PostToken(form), HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task using_basic_and_a_form_secret_together_is_an_invalid_request() =>
        await AssertError(await PostToken(ClientCredentials(), Basic("gp-system", Secret)), HttpStatusCode.BadRequest, "invalid_request");

    [Fact]
    public async Task a_narrower_scope_is_granted_as_asked()
    {
        using var response = await PostToken(ClientCredentials(scope: "system/Patient.r system/Observation.c"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("system/Patient.r system/Observation.c", body.GetProperty("scope").GetString());
        var principal = await Validated(body.GetProperty("access_token").GetString()!);
        Assert.True(principal.Allows("Patient", FhirInteraction.Read));
        Assert.False(principal.Allows("Patient", FhirInteraction.Search));
        Assert.False(principal.Allows("Observation", FhirInteraction.Read));
    }

    [Theory]
    [InlineData("system/Patient.rs system/Encounter.r")]
    [InlineData("system/Patient.cruds")]
    [InlineData("user/Patient.r")]
    public async Task a_scope_beyond_the_clients_is_invalid(string scope) =>
        await AssertError(await PostToken(ClientCredentials(scope: scope)), HttpStatusCode.BadRequest, "invalid_scope");

    [Fact]
    public async Task a_patient_client_gets_a_patient_token()
    {
        using var response = await PostToken(new() { ["grant_type"] = "client_credentials" }, Basic("citizen-app", "another secret"));

        var principal = await Validated((await Json(response)).GetProperty("access_token").GetString()!);
        Assert.Equal(PrincipalKind.Patient, principal.Kind);
        Assert.Equal("9", principal.PatientId);
        Assert.True(principal.Allows("Observation", FhirInteraction.Read));
    }

    [Fact]
    public async Task a_token_validates_against_the_published_jwks()
    {
        using var response = await PostToken(ClientCredentials());
        var token = (await Json(response)).GetProperty("access_token").GetString()!;
        using var validator = TestTokens.Validator(new AuthOptions
        {
            Issuers = [new TrustedIssuer { Issuer = "carehub-dev", Audience = Audience, JwksUri = this.server.Url("/auth/jwks").ToString() }],
        });

        var result = await validator.ValidateAsync(token, Ct);

        Assert.True(result.Succeeded, result.Failure?.Description);
        Assert.Equal(1, validator.JwksFetchCount("carehub-dev"));
    }

    [Fact]
    public async Task the_jwks_publishes_no_private_key_material()
    {
        var jwks = await this.http.GetFromJsonAsync<JsonElement>("/auth/jwks", Ct);

        var key = Assert.Single(jwks.GetProperty("keys").EnumerateArray().ToArray());
        Assert.Equal("RSA", key.GetProperty("kty").GetString());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        Assert.False(key.TryGetProperty("d", out _));
        Assert.False(key.TryGetProperty("p", out _));
    }
}

/// <summary>One development token server on loopback, shared by the tests of a class: they change nothing in it.</summary>
public sealed class DevTokenServerFixture : IAsyncLifetime
{
    public const string Audience = "https://carehub.test/fhir";
    public const string Secret = "correct horse battery staple";

    internal LoopbackServer Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    internal static Dictionary<string, string?> DevSettings() => new()
    {
        ["CareHub:Auth:DevTokens:Enabled"] = "true",
        ["CareHub:Auth:DevTokens:Audience"] = Audience,
        ["CareHub:Auth:DevTokens:Lifetime"] = "00:30:00",
        ["CareHub:Auth:DevTokens:Clients:0:ClientId"] = "gp-system",
        ["CareHub:Auth:DevTokens:Clients:0:Secret"] = Secret,
        ["CareHub:Auth:DevTokens:Clients:0:Scopes"] = "system/Patient.rs system/Observation.cruds",
        ["CareHub:Auth:DevTokens:Clients:0:Organisation"] = "A81001",
        ["CareHub:Auth:DevTokens:Clients:1:ClientId"] = "citizen-app",
        ["CareHub:Auth:DevTokens:Clients:1:Secret"] = "another secret",
        ["CareHub:Auth:DevTokens:Clients:1:Scopes"] = "openid patient/*.rs",
        ["CareHub:Auth:DevTokens:Clients:1:Kind"] = "patient",
        ["CareHub:Auth:DevTokens:Clients:1:PatientId"] = "9",
    };

    internal static Task<LoopbackServer> StartAsync(Dictionary<string, string?> settings, CancellationToken cancellationToken) =>
        LoopbackServer.StartAsync(
            builder =>
            {
                builder.Configuration.AddInMemoryCollection(settings);
                builder.Services.AddCareHubAuth(builder.Configuration);
            },
            app => app.MapDevTokenApi(),
            cancellationToken);

    public async ValueTask InitializeAsync()
    {
        Server = await StartAsync(DevSettings(), TestContext.Current.CancellationToken);
        Http = new HttpClient { BaseAddress = Server.BaseAddress };
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

public class DevTokenApiDisabledTests
{
    [Fact]
    public async Task nothing_is_mapped_when_dev_tokens_are_disabled()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CareHub:Auth:DevTokens:Enabled"] = "false",
            ["CareHub:Auth:Issuers:0:Issuer"] = TestTokens.Issuer,
            ["CareHub:Auth:Issuers:0:Audience"] = TestTokens.Audience,
            ["CareHub:Auth:Issuers:0:JwksUri"] = "https://idp.example.nhs.uk/jwks",
        };
        await using var server = await DevTokenServerFixture.StartAsync(settings, TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        using var response = await http.PostAsync("/auth/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(server.App.Services.GetService<DevTokenIssuer>());
    }
}
