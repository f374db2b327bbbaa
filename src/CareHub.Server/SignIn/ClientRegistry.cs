using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using CareHub.Governance;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace CareHub.Server.SignIn;

/// <summary>
/// The client registry, for the admin API and <c>carehub clients</c> alike: registers, lists, shows and removes backend
/// clients (SMART Backend Services: client credentials with a client secret, or with a JWK Set of public keys for
/// <c>private_key_jwt</c>) through OpenIddict's application manager, which hashes secrets before they reach the store.
/// A secret is shown once, when it is made; the registry never returns it.
/// </summary>
public sealed partial class ClientRegistry(IOpenIddictApplicationManager applications)
{
    /// <summary>Registers a backend client; returns it, with the secret generated when neither a secret nor keys were given.</summary>
    public async Task<(ClientView Client, string? GeneratedSecret)> RegisterAsync(ClientRegistration registration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (!ClientIdPattern().IsMatch(registration.ClientId ?? ""))
        {
            throw new ClientRegistryException("clientId must be 3 to 100 letters, digits, '.', '_' or '-'.");
        }

        var scopes = ScopeSet.Parse(registration.Scopes);
        if (scopes.Count == 0)
        {
            throw new ClientRegistryException("scopes is required: the SMART system scopes the client may be granted, e.g. 'system/Patient.rs system/Observation.rs'.");
        }

        if (scopes.FirstOrDefault(s => s.Context != ScopeContext.System) is { } other)
        {
            throw new ClientRegistryException($"A backend client acts for itself: '{other.Value}' is not a system/ scope.");
        }

        var keys = registration.Jwks is { } jwks ? ReadKeys(jwks) : null;
        var generated = registration.Secret is null && keys is null ? Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)) : null;
        var secret = registration.Secret ?? generated;
        if (secret is { Length: < 16 })
        {
            throw new ClientRegistryException("secret must be at least 16 characters; leave it out to have one generated.");
        }

        if (await applications.FindByClientIdAsync(registration.ClientId!, cancellationToken) is not null)
        {
            throw new ClientRegistryException($"A client '{registration.ClientId}' is already registered; remove it first to register it again.", conflict: true);
        }

        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = registration.ClientId,
            ClientSecret = secret,
            ClientType = ClientTypes.Confidential,
            DisplayName = registration.DisplayName ?? registration.ClientId,
            JsonWebKeySet = keys,
            Permissions = { Permissions.Endpoints.Token, Permissions.Endpoints.Revocation, Permissions.Endpoints.Introspection, Permissions.GrantTypes.ClientCredentials },
        };
        descriptor.Properties[ClientProfile.PropertyName] = new ClientProfile(scopes.ToString(), registration.Organisation).ToProperty();
        try
        {
            await applications.CreateAsync(descriptor, cancellationToken);
        }
        catch (OpenIddictExceptions.ConcurrencyException)
        {
            throw new ClientRegistryException($"A client '{registration.ClientId}' is already registered; remove it first to register it again.", conflict: true);
        }

        return ((await FindAsync(registration.ClientId!, cancellationToken))!, generated);
    }

    /// <summary>Every registered client, by client id.</summary>
    public async Task<IReadOnlyList<ClientView>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<ClientView>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, cancellationToken))
        {
            list.Add(await ViewAsync(application, cancellationToken));
        }

        return list;
    }

    public async Task<ClientView?> FindAsync(string clientId, CancellationToken cancellationToken) =>
        await applications.FindByClientIdAsync(clientId, cancellationToken) is { } application ? await ViewAsync(application, cancellationToken) : null;

    /// <summary>Removes the client with its authorizations and tokens (its access tokens stop working); false when there is none.</summary>
    public async Task<bool> RemoveAsync(string clientId, CancellationToken cancellationToken)
    {
        if (await applications.FindByClientIdAsync(clientId, cancellationToken) is not { } application)
        {
            return false;
        }

        await applications.DeleteAsync(application, cancellationToken);
        return true;
    }

    private async Task<ClientView> ViewAsync(object application, CancellationToken cancellationToken)
    {
        var profile = ClientProfile.Read(await applications.GetPropertiesAsync(application, cancellationToken));
        var keys = await applications.GetJsonWebKeySetAsync(application, cancellationToken);
        return new ClientView(
            (await applications.GetClientIdAsync(application, cancellationToken))!,
            await applications.GetDisplayNameAsync(application, cancellationToken),
            await applications.GetClientTypeAsync(application, cancellationToken),
            profile.Scopes,
            profile.Organisation,
            await applications.HasClientTypeAsync(application, ClientTypes.Confidential, cancellationToken) && keys is null ? "client_secret" : "private_key_jwt",
            [.. keys?.Keys.Select(k => k.Kid ?? k.Kty) ?? []]);
    }

    /// <summary>A JWK Set of public RSA (2048 bits or more) or EC P-256/P-384 keys; private members are refused.</summary>
    private static JsonWebKeySet ReadKeys(JsonElement jwks)
    {
        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(jwks.GetRawText());
        }
        catch (Exception e) when (e is ArgumentException or JsonException)
        {
            throw new ClientRegistryException("jwks is not a JWK Set (RFC 7517): an object with a 'keys' array.");
        }

        if (set.Keys.Count == 0)
        {
            throw new ClientRegistryException("jwks holds no keys.");
        }

        foreach (var key in set.Keys)
        {
            if (key.HasPrivateKey || !string.IsNullOrEmpty(key.D))
            {
                throw new ClientRegistryException("jwks holds a private key: register the public keys only, and keep the private key with the client.");
            }

            var usable = key.Kty switch
            {
                "RSA" => !string.IsNullOrEmpty(key.N) && Base64UrlEncoder.DecodeBytes(key.N).Length * 8 >= 2048,
                "EC" => key.Crv is "P-256" or "P-384" && !string.IsNullOrEmpty(key.X) && !string.IsNullOrEmpty(key.Y),
                _ => false,
            };
            if (!usable)
            {
                throw new ClientRegistryException($"jwks key '{key.Kid}' must be an RSA key of at least 2048 bits or an EC key on P-256 or P-384.");
            }
        }

        return set;
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{3,100}$", RegexOptions.CultureInvariant)]
    private static partial Regex ClientIdPattern();
}

/// <summary>What an administrator registers: a backend client, its scopes, and a secret or public keys.</summary>
public sealed record ClientRegistration(string? ClientId, string? Scopes, string? Secret = null, JsonElement? Jwks = null, string? Organisation = null, string? DisplayName = null);

/// <summary>A registered client as the registry shows it: never its secret.</summary>
public sealed record ClientView(string ClientId, string? DisplayName, string? ClientType, string Scopes, string? Organisation, string Authentication, IReadOnlyList<string> Keys);

/// <summary>A registration the registry refuses, with what to fix.</summary>
public sealed class ClientRegistryException(string message, bool conflict = false) : Exception(message)
{
    /// <summary>The client exists already.</summary>
    public bool Conflict { get; } = conflict;
}
