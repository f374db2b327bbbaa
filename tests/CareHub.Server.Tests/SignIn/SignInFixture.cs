using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using CareHub.Server.SignIn;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace CareHub.Server.Tests.SignIn;

/// <summary>
/// A real CareHub on Kestrel on loopback with its authorization server on. The issuer is the server's own URL, so the
/// port is chosen before the host starts.
/// </summary>
public abstract class SignInFixture : ServerFixture
{
    private readonly int port = FreePort();

    public string Issuer => $"http://127.0.0.1:{port}/";

    public string TokenEndpoint => $"http://127.0.0.1:{port}{SignInServices.TokenPath}";

    /// <summary>What the server logged as errors.</summary>
    public ServerErrors Errors { get; } = new();

    protected override Action<IServiceCollection>? ConfigureServices => services => services.AddLogging(logging => logging.AddProvider(Errors));

    protected override string Urls => $"http://127.0.0.1:{port}";

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("CareHub:SignIn:Enabled", "true"),
        new("CareHub:SignIn:Issuer", Issuer),
        new("CareHub:SignIn:Audience", $"http://127.0.0.1:{port}/fhir"),
        // Plain http on loopback only: a test cannot present a certificate the client trusts.
        new("CareHub:SignIn:RequireHttps", "false"),
    ];

    /// <summary>Skips the test, saying why, when this fixture's database is not available here.</summary>
    public void SkipIfUnavailable()
    {
        if (Unavailable is { } why)
        {
            Assert.Skip(why);
        }
    }

    /// <summary>Registers a confidential backend client with a secret, a JWK Set, or both.</summary>
    public async Task RegisterAsync(string clientId, string scopes, string? secret = null, JsonWebKeySet? keys = null, string? organisation = null)
    {
        SkipIfUnavailable();

        await using var scope = Service<IServiceScopeFactory>().CreateAsyncScope();
        var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Confidential,
            ClientSecret = secret,
            JsonWebKeySet = keys,
            Permissions = { Permissions.Endpoints.Token, Permissions.Endpoints.Revocation, Permissions.Endpoints.Introspection, Permissions.GrantTypes.ClientCredentials },
        };
        descriptor.Properties[ClientProfile.PropertyName] = new ClientProfile(scopes, organisation).ToProperty();
        await manager.CreateAsync(descriptor, CancellationToken.None);
    }

    /// <summary>A key pair's public half as the JWK Set a backend client registers.</summary>
    public static JsonWebKeySet KeySet(AsymmetricSecurityKey key)
    {
        var jwk = key switch
        {
            RsaSecurityKey rsa => JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.Rsa.ExportParameters(false)) { KeyId = rsa.KeyId }),
            ECDsaSecurityKey ec => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(ec.ECDsa.ExportParameters(false))) { KeyId = ec.KeyId }),
            _ => throw new ArgumentException("RSA or EC keys only.", nameof(key)),
        };
        var set = new JsonWebKeySet();
        set.Keys.Add(jwk);
        return set;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The authorization server on the embedded SQLite store.</summary>
public sealed class SqliteSignInFixture : SignInFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
        [new("CareHub:Storage:DataDirectory", dataDirectory)];
}

/// <summary>The authorization server on PostgreSQL (CAREHUB_TEST_POSTGRES, started by ./carehub test), in a schema of its own.</summary>
public sealed class PostgresSignInFixture : SignInFixture
{
    private readonly string? connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");

    public PostgresSignInFixture()
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            Unavailable = "CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL";
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> Storage(string dataDirectory) =>
    [
        new("CareHub:Storage:Postgres", connectionString),
        new("CareHub:Storage:PostgresSchema", "signin_" + Guid.NewGuid().ToString("N")[..12]),
    ];
}
