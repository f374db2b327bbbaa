using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Bench;

/// <summary>
/// The authorization server's token endpoint under load: a backend client (SMART Backend Services) registered with an RSA
/// key asks for tokens by client credentials with a fresh RS384-signed assertion each time, from N concurrent clients, on
/// CareHub as a separate server process on the embedded store. Each token checks the assertion's signature and records its
/// jti, and writes the token's row. Target (the sign-in issue): at least 1,000 tokens/s on 2 cores. The assertions are
/// signed by the bench on the same machine, so the figure includes that work's share of the cores.
/// </summary>
public static class TokenBench
{
    private const string ClientId = "bench-backend";

    public static async Task<int> RunAsync(string serverDll, BenchOptions options, CancellationToken cancellationToken)
    {
        var port = ServerProcess.FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var environment = new Dictionary<string, string>
        {
            ["CareHub__SignIn__Enabled"] = "true",
            ["CareHub__SignIn__Issuer"] = baseUrl + "/",
            ["CareHub__SignIn__Audience"] = baseUrl + "/fhir",
            ["CareHub__SignIn__RequireHttps"] = "false",
        };
        foreach (var (name, value) in options.ServerEnvironment)
        {
            environment[name] = value;
        }

        await using var server = await ServerProcess.StartCareHubAsync(serverDll, environment, cancellationToken, port);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "bench-1" };
        await RegisterAsync(http, key, cancellationToken);

        var tokenUrl = baseUrl + "/connect/token";
        var handler = new JsonWebTokenHandler();
        var credentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha384);
        LoadRequest Next(long _) => new(() =>
        {
            var now = DateTime.UtcNow;
            var assertion = handler.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = ClientId,
                Audience = tokenUrl,
                Claims = new Dictionary<string, object> { ["sub"] = ClientId, ["jti"] = Guid.NewGuid().ToString("N") },
                IssuedAt = now,
                NotBefore = now,
                Expires = now.AddMinutes(4),
                SigningCredentials = credentials,
            });
            return new HttpRequestMessage(HttpMethod.Post, tokenUrl)
            {
                Content = new FormUrlEncodedContent(
                [
                    new("grant_type", "client_credentials"),
                    new("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    new("client_assertion", assertion),
                ]),
            };
        }, 1);

        Console.WriteLine($"tokens: client credentials with private_key_jwt (RS384), {options.Clients} clients, {options.Warmup.TotalSeconds:0} s warm-up, {options.Duration.TotalSeconds:0} s measured");
        var result = await LoadRunner.RunAsync("carehub", http, options.Clients, options.Warmup, options.Duration, Next, server, cancellationToken);
        Console.WriteLine(
            $"tokens  {LoadRunner.Count(result.RequestsPerSecond)} tokens/s  p50 {result.PercentileMs(0.5).ToString("0.0", CultureInfo.InvariantCulture)} ms  " +
            $"p95 {result.PercentileMs(0.95).ToString("0.0", CultureInfo.InvariantCulture)} ms  errors {result.Errors} | target >= 1,000 tokens/s {(result.RequestsPerSecond >= 1000 ? "met" : "MISSED")}");
        foreach (var sample in result.ErrorSamples)
        {
            Console.WriteLine("  error: " + sample);
        }

        return result.Errors == 0 ? 0 : 1;
    }

    /// <summary>Registers the backend client with the public half of its key, through the registry API as an administrator.</summary>
    private static async Task RegisterAsync(HttpClient http, RsaSecurityKey key, CancellationToken cancellationToken)
    {
        http.DefaultRequestHeaders.Authorization = await TokenClient.GetAsync(http, cancellationToken);
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
        var body = JsonSerializer.Serialize(new { clientId = ClientId, scopes = "system/*.rs", jwks = new { keys = new[] { new { kty = jwk.Kty, kid = jwk.Kid, n = jwk.N, e = jwk.E } } } });
        using var response = await http.PostAsync("/admin/clients", new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Registering the bench client failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        http.DefaultRequestHeaders.Authorization = null;
    }
}
