using CareHub.Server.SignIn.Storage;
using CareHub.Server.SignIn.Storage.Postgres;
using CareHub.Server.SignIn.Storage.Sqlite;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace CareHub.Server.SignIn;

/// <summary>
/// Registers the sign-in store and OpenIddict's managers over it (every face: the server issues tokens, the
/// <c>clients</c> command registers clients), and the authorization server itself (the web host only).
/// </summary>
public static class SignInServices
{
    /// <summary>The URL paths of the authorization server's endpoints (docs/sign-in.md).</summary>
    public const string TokenPath = "/connect/token";
    public const string AuthorizePath = "/connect/authorize";
    public const string IntrospectPath = "/connect/introspect";
    public const string RevokePath = "/connect/revoke";
    public const string DiscoveryPath = "/.well-known/openid-configuration";
    public const string JwksPath = "/.well-known/jwks";

    /// <summary>
    /// Reads and validates <c>CareHub:SignIn</c>, opens the sign-in store where <paramref name="storage"/> keeps the record
    /// (migrated by <see cref="CareHubStartup.PrepareAsync"/>), and registers OpenIddict's core managers over CareHub's own
    /// stores.
    /// </summary>
    public static IServiceCollection AddCareHubSignInStore(this IServiceCollection services, IConfiguration configuration, StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(storage);
        var options = configuration.GetSection(SignInOptions.SectionName).Get<SignInOptions>() ?? new SignInOptions();
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(_ => Open(storage));
        services.AddSingleton<SignInKeys>();
        services.AddSingleton<SignInTokenStatus>();
        services.AddScoped<ClientRegistry>();
        services.AddOpenIddict().AddCore(core =>
        {
            core.SetDefaultApplicationEntity<SignInApplication>()
                .SetDefaultAuthorizationEntity<SignInAuthorization>()
                .SetDefaultScopeEntity<SignInScope>()
                .SetDefaultTokenEntity<SignInToken>();
            core.ReplaceApplicationStore<SignInApplication, SignInApplicationStore>(ServiceLifetime.Singleton);
            core.ReplaceAuthorizationStore<SignInAuthorization, SignInAuthorizationStore>(ServiceLifetime.Singleton);
            core.ReplaceScopeStore<SignInScope, SignInScopeStore>(ServiceLifetime.Singleton);
            core.ReplaceTokenStore<SignInToken, SignInTokenStore>(ServiceLifetime.Singleton);
        });
        return services;
    }

    /// <summary>Migrates the sign-in store and, when the server is on, loads (and if due rotates) its keys.</summary>
    public static async Task PrepareSignInAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        await services.GetRequiredService<SignInDatabase>().MigrateAsync(cancellationToken);
        if (services.GetRequiredService<SignInOptions>().Enabled)
        {
            await services.GetRequiredService<SignInKeys>().LoadAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The OpenID Connect server (OpenIddict), when <c>CareHub:SignIn:Enabled</c>: discovery, JWK Set, token, introspection
    /// and revocation endpoints; client credentials with a client secret or a signed JWT (<c>private_key_jwt</c>); access
    /// tokens as RS256 JWTs that the bearer scheme accepts.
    /// </summary>
    public static IServiceCollection AddCareHubSignInServer(this IServiceCollection services, SignInOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Enabled)
        {
            return services;
        }

        services.AddOpenIddict().AddServer(server =>
        {
            server.SetIssuer(new Uri(options.Issuer, UriKind.Absolute));
            server.SetTokenEndpointUris(TokenPath)
                .SetIntrospectionEndpointUris(IntrospectPath)
                .SetRevocationEndpointUris(RevokePath)
                .SetConfigurationEndpointUris(DiscoveryPath)
                .SetJsonWebKeySetEndpointUris(JwksPath);
            server.AllowClientCredentialsFlow();
            server.SetAccessTokenLifetime(options.AccessTokenLifetime)
                .SetRefreshTokenLifetime(options.RefreshTokenLifetime)
                .SetAuthorizationCodeLifetime(options.AuthorizationCodeLifetime);
            // Access tokens are signed JWTs that CareHub's bearer scheme (and any resource server with the JWK Set) reads.
            server.DisableAccessTokenEncryption();
            // SMART scopes are a grammar (patient/Observation.rs), not a list: the token endpoint checks them against the
            // client's registration itself (ClientProfile).
            server.DisableScopeValidation();
            server.IgnoreScopePermissions();
            server.AddEventHandler(SmartClientAssertions.Descriptor).AddEventHandler(ClientAssertionReplay.Descriptor).AddEventHandler(ClientAssertionErrors.Descriptor);
            server.RegisterScopes("openid", "fhirUser", "launch", "launch/patient", "launch/encounter", "offline_access");
            // Compact JSON, as the development token endpoint answers, so a shell can read a token with sed.
            var aspNetCore = server.UseAspNetCore().EnableTokenEndpointPassthrough().SuppressJsonResponseIndentation();
            if (!options.RequireHttps)
            {
                aspNetCore.DisableTransportSecurityRequirement();
            }
        });
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, KeyConfiguration>();
        return services;
    }

    private static SignInDatabase Open(StorageOptions storage) =>
        storage.Postgres is { } connectionString
            ? new PostgresSignInDatabase(connectionString, storage.PostgresSchema)
            : new SqliteSignInDatabase(Path.Combine(EnsureDirectory(storage.DataDirectory), SqliteSignInDatabase.FileName), storage.FullSync);

    private static string EnsureDirectory(string path)
    {
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// Gives OpenIddict the keys from the sign-in store when its options are first read (the first request, after
    /// <see cref="PrepareSignInAsync"/> has loaded them): newest first, so the newest signs and encrypts and the older
    /// ones still verify and decrypt.
    /// </summary>
    private sealed class KeyConfiguration(SignInKeys keys) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            foreach (var key in keys.SigningKeys)
            {
                options.SigningCredentials.Add(new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
            }

            foreach (var key in keys.EncryptionKeys)
            {
                options.EncryptionCredentials.Add(new EncryptingCredentials(key, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
            }
        }
    }
}
