using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using CareHub.Server.Tests.Cli;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Tests.SignIn;

/// <summary>
/// The client registry over HTTP (<c>/admin/clients</c>) on SQLite and PostgreSQL: only administrators reach it, bad
/// registrations are refused saying what to fix, a registered client gets tokens, and a removed one's tokens stop working.
/// </summary>
public abstract class ClientRegistryContract(SignInFixture server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewClientId() => "reg-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task only_an_administrator_reaches_the_registry()
    {
        server.SkipIfUnavailable();
        using (var anonymous = await server.Anonymous.GetAsync(server.BaseUrl + "/admin/clients", Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var reader = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/admin/clients") { Content = Body(new { clientId = NewClientId(), scopes = "system/*.cruds" }) };
        reader.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("reader", "reader-secret"));
        using var refused = await server.Anonymous.SendAsync(reader, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task a_registered_client_gets_a_token_and_a_removed_one_loses_it()
    {
        server.SkipIfUnavailable();
        var clientId = NewClientId();
        using var created = await server.Client.PostAsync(server.BaseUrl + "/admin/clients", Body(new { clientId, scopes = "system/Patient.rs", organisation = "RTH" }), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct));
        var secret = json.RootElement.GetProperty("secret").GetString()!;
        Assert.Equal("client_secret", json.RootElement.GetProperty("client").GetProperty("authentication").GetString());

        using (var shown = JsonDocument.Parse(await server.Client.GetStringAsync(server.BaseUrl + "/admin/clients/" + clientId, Ct)))
        {
            Assert.Equal("system/Patient.rs", shown.RootElement.GetProperty("scopes").GetString());
            // The registry never shows a secret again.
            Assert.DoesNotContain(secret, shown.RootElement.GetRawText(), StringComparison.Ordinal);
        }

        var token = await TokenAsync(clientId, secret);
        Assert.Equal(HttpStatusCode.OK, (await FhirAsync(token)).StatusCode);

        using (var removed = await server.Client.DeleteAsync(server.BaseUrl + "/admin/clients/" + clientId, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await FhirAsync(token)).StatusCode);
        using var again = await server.Anonymous.PostAsync(server.TokenEndpoint, Form(clientId, secret), Ct);
        Assert.Equal("invalid_client", JsonDocument.Parse(await again.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task bad_registrations_are_refused_saying_what_to_fix()
    {
        server.SkipIfUnavailable();
        var clientId = NewClientId();
        Assert.Contains("system/ scope", await RefusedAsync(new { clientId, scopes = "user/*.cruds" }, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("scopes is required", await RefusedAsync(new { clientId }, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("clientId", await RefusedAsync(new { clientId = "a b", scopes = "system/*.rs" }, HttpStatusCode.BadRequest), StringComparison.Ordinal);

        using var rsa = RSA.Create(2048);
        var withPrivate = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(true)));
        var jwks = new { keys = new[] { new { kty = "RSA", n = withPrivate.N, e = withPrivate.E, d = withPrivate.D, kid = "k1" } } };
        Assert.Contains("private key", await RefusedAsync(new { clientId, scopes = "system/*.rs", jwks }, HttpStatusCode.BadRequest), StringComparison.Ordinal);

        using (var ok = await server.Client.PostAsync(server.BaseUrl + "/admin/clients", Body(new { clientId, scopes = "system/*.rs", secret = "a-secret-of-enough-length" }), Ct))
        {
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        }

        await RefusedAsync(new { clientId, scopes = "system/*.rs" }, HttpStatusCode.Conflict);
    }

    private async Task<string> RefusedAsync(object body, HttpStatusCode status)
    {
        using var response = await server.Client.PostAsync(server.BaseUrl + "/admin/clients", Body(body), Ct);
        Assert.Equal(status, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetString()!;
    }

    private async Task<string> TokenAsync(string clientId, string secret)
    {
        using var response = await server.Anonymous.PostAsync(server.TokenEndpoint, Form(clientId, secret), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("access_token").GetString()!;
    }

    private async Task<HttpResponseMessage> FhirAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, server.FhirUrl + "/Patient?_count=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await server.Anonymous.SendAsync(request, Ct);
    }

    private static FormUrlEncodedContent Form(string clientId, string secret) =>
        new([new("grant_type", "client_credentials"), new("client_id", clientId), new("client_secret", secret)]);

    private static StringContent Body(object value) => ServerFixture.Json(JsonSerializer.Serialize(value), "application/json");
}

public sealed class ClientRegistryOnSqliteTests(SqliteSignInFixture server) : ClientRegistryContract(server), IClassFixture<SqliteSignInFixture>;

public sealed class ClientRegistryOnPostgresTests(PostgresSignInFixture server) : ClientRegistryContract(server), IClassFixture<PostgresSignInFixture>;

/// <summary>The registry from the command line, as an operator runs it, on an embedded store.</summary>
public sealed class ClientsCommandTests : IDisposable
{
    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-clients-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task clients_add_list_show_and_remove_work_on_the_store_and_bad_input_says_what_to_fix()
    {
        var (code, output) = await CarehubProcess.RunAsync(["clients", "add", "lab-system", "--scopes", "system/Observation.cruds", "--organisation", "RTH", "--data", data]);
        Assert.True(code == 0, output);
        Assert.Contains("Its secret, shown this once:", output, StringComparison.Ordinal);

        (code, output) = await CarehubProcess.RunAsync(["clients", "list", "--data", data]);
        Assert.True(code == 0, output);
        Assert.Contains("lab-system", output, StringComparison.Ordinal);
        Assert.Contains("1 client(s).", output, StringComparison.Ordinal);

        (code, output) = await CarehubProcess.RunAsync(["clients", "show", "lab-system", "--data", data]);
        Assert.True(code == 0, output);
        Assert.Contains("\"Organisation\": \"RTH\"", output, StringComparison.Ordinal);

        (code, output) = await CarehubProcess.RunAsync(["clients", "add", "lab-system", "--scopes", "system/*.rs", "--data", data]);
        Assert.Equal(2, code);
        Assert.Contains("already registered", output, StringComparison.Ordinal);

        (code, output) = await CarehubProcess.RunAsync(["clients", "add", "other", "--scopes", "patient/*.rs", "--data", data]);
        Assert.Equal(2, code);
        Assert.Contains("not a system/ scope", output, StringComparison.Ordinal);

        (code, output) = await CarehubProcess.RunAsync(["clients", "remove", "lab-system", "--data", data]);
        Assert.True(code == 0, output);
        (code, _) = await CarehubProcess.RunAsync(["clients", "show", "lab-system", "--data", data]);
        Assert.Equal(1, code);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // Nothing was written (a command that failed early), or a file is still closing: a temp folder left behind.
        }
    }
}
