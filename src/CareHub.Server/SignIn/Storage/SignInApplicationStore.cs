using System.Collections.Immutable;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// OpenIddict's application store over <c>signin_application</c>: CareHub's client registry. The columns OpenIddict
/// looks clients up by are columns; the rest (redirect URIs, permissions, requirements, settings, keys) is one JSON
/// document. The registry is small (a row per registered app or system), so the redirect-URI look-ups, like the LINQ
/// queries OpenIddict leaves to a store, run over the rows read into memory.
/// </summary>
public sealed class SignInApplicationStore(SignInDatabase database, SignInTokenStatus status) : IOpenIddictApplicationStore<SignInApplication>
{
    private const string Columns = "id, client_id, client_secret, client_type, application_type, consent_type, display_name, document, concurrency_token";

    private readonly SignInTable<SignInApplication> table = new(database, "signin_application", Columns, "client_id", Read);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken) => table.CountAsync(cancellationToken);

    public ValueTask<long> CountAsync<TResult>(Func<IQueryable<SignInApplication>, IQueryable<TResult>> query, CancellationToken cancellationToken) =>
        table.CountAsync(query, cancellationToken);

    public async ValueTask CreateAsync(SignInApplication application, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(application);
        application.Id ??= Guid.NewGuid().ToString("N");
        application.ConcurrencyToken = Guid.NewGuid().ToString("N");
        try
        {
            await database.ExecuteAsync($"INSERT INTO signin_application ({Columns}) VALUES (@id, @client, @secret, @ctype, @atype, @consent, @name, @doc, @ct)",
                cancellationToken, Parameters(application));
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            throw new OpenIddictExceptions.ConcurrencyException($"A client with the id '{application.ClientId}' is already registered.", e);
        }
    }

    /// <summary>Removes the client; its authorizations and tokens go with it (ON DELETE CASCADE), so its access tokens stop working.</summary>
    public async ValueTask DeleteAsync(SignInApplication application, CancellationToken cancellationToken)
    {
        await table.DeleteAsync(application?.Id, application?.ConcurrencyToken ?? "", cancellationToken);
        status.Forget();
    }

    public async ValueTask<SignInApplication?> FindByIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("id = @id", cancellationToken, ("@id", identifier));

    public async ValueTask<SignInApplication?> FindByClientIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("client_id = @id", cancellationToken, ("@id", identifier));

    public IAsyncEnumerable<SignInApplication> FindByPostLogoutRedirectUriAsync(string uri, CancellationToken cancellationToken) =>
        table.StreamAsync("1 = 1", [], a => a.PostLogoutRedirectUris.Contains(uri, StringComparer.Ordinal), cancellationToken);

    public IAsyncEnumerable<SignInApplication> FindByRedirectUriAsync(string uri, CancellationToken cancellationToken) =>
        table.StreamAsync("1 = 1", [], a => a.RedirectUris.Contains(uri, StringComparer.Ordinal), cancellationToken);

    public ValueTask<TResult?> GetAsync<TState, TResult>(Func<IQueryable<SignInApplication>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.GetAsync(query, state, cancellationToken);

    public IAsyncEnumerable<SignInApplication> ListAsync(int? count, int? offset, CancellationToken cancellationToken) => table.ListAsync(count, offset, cancellationToken);

    public IAsyncEnumerable<TResult> ListAsync<TState, TResult>(Func<IQueryable<SignInApplication>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.ListAsync(query, state, cancellationToken);

    public ValueTask<SignInApplication> InstantiateAsync(CancellationToken cancellationToken) => new(new SignInApplication());

    public ValueTask UpdateAsync(SignInApplication application, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(application);
        return table.UpdateAsync(
            "UPDATE signin_application SET client_id = @client, client_secret = @secret, client_type = @ctype, application_type = @atype, consent_type = @consent, " +
            "display_name = @name, document = @doc, concurrency_token = @ct WHERE id = @id AND concurrency_token = @expected",
            () => application.ConcurrencyToken, token => application.ConcurrencyToken = token, () => Parameters(application), cancellationToken);
    }

    // ---- the entity's members: OpenIddict reads and sets them through the store ----------------------------------

    public ValueTask<string?> GetApplicationTypeAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.ApplicationType);

    public ValueTask<string?> GetClientIdAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.ClientId);

    public ValueTask<string?> GetClientSecretAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.ClientSecret);

    public ValueTask<string?> GetClientTypeAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.ClientType);

    public ValueTask<string?> GetConsentTypeAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.ConsentType);

    public ValueTask<string?> GetDisplayNameAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.DisplayName);

    public ValueTask<ImmutableDictionary<CultureInfo, string>> GetDisplayNamesAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.DisplayNames);

    public ValueTask<string?> GetIdAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.Id);

    public ValueTask<JsonWebKeySet?> GetJsonWebKeySetAsync(SignInApplication application, CancellationToken cancellationToken) => new(SignInJson.KeySet(application.JsonWebKeySet));

    public ValueTask<ImmutableArray<string>> GetPermissionsAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.Permissions);

    public ValueTask<ImmutableArray<string>> GetPostLogoutRedirectUrisAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.PostLogoutRedirectUris);

    public ValueTask<ImmutableDictionary<string, JsonElement>> GetPropertiesAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.Properties);

    public ValueTask<ImmutableArray<string>> GetRedirectUrisAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.RedirectUris);

    public ValueTask<ImmutableArray<string>> GetRequirementsAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.Requirements);

    public ValueTask<ImmutableDictionary<string, string>> GetSettingsAsync(SignInApplication application, CancellationToken cancellationToken) => new(application.Settings);

    public ValueTask SetApplicationTypeAsync(SignInApplication application, string? type, CancellationToken cancellationToken) => SignInFilter.Set(() => application.ApplicationType = type);

    public ValueTask SetClientIdAsync(SignInApplication application, string? identifier, CancellationToken cancellationToken) => SignInFilter.Set(() => application.ClientId = identifier);

    public ValueTask SetClientSecretAsync(SignInApplication application, string? secret, CancellationToken cancellationToken) => SignInFilter.Set(() => application.ClientSecret = secret);

    public ValueTask SetClientTypeAsync(SignInApplication application, string? type, CancellationToken cancellationToken) => SignInFilter.Set(() => application.ClientType = type);

    public ValueTask SetConsentTypeAsync(SignInApplication application, string? type, CancellationToken cancellationToken) => SignInFilter.Set(() => application.ConsentType = type);

    public ValueTask SetDisplayNameAsync(SignInApplication application, string? name, CancellationToken cancellationToken) => SignInFilter.Set(() => application.DisplayName = name);

    public ValueTask SetDisplayNamesAsync(SignInApplication application, ImmutableDictionary<CultureInfo, string> names, CancellationToken cancellationToken) => SignInFilter.Set(() => application.DisplayNames = names);

    public ValueTask SetJsonWebKeySetAsync(SignInApplication application, JsonWebKeySet? set, CancellationToken cancellationToken) => SignInFilter.Set(() => application.JsonWebKeySet = SignInJson.KeySet(set));

    public ValueTask SetPermissionsAsync(SignInApplication application, ImmutableArray<string> permissions, CancellationToken cancellationToken) => SignInFilter.Set(() => application.Permissions = permissions);

    public ValueTask SetPostLogoutRedirectUrisAsync(SignInApplication application, ImmutableArray<string> uris, CancellationToken cancellationToken) => SignInFilter.Set(() => application.PostLogoutRedirectUris = uris);

    public ValueTask SetPropertiesAsync(SignInApplication application, ImmutableDictionary<string, JsonElement> properties, CancellationToken cancellationToken) => SignInFilter.Set(() => application.Properties = properties);

    public ValueTask SetRedirectUrisAsync(SignInApplication application, ImmutableArray<string> uris, CancellationToken cancellationToken) => SignInFilter.Set(() => application.RedirectUris = uris);

    public ValueTask SetRequirementsAsync(SignInApplication application, ImmutableArray<string> requirements, CancellationToken cancellationToken) => SignInFilter.Set(() => application.Requirements = requirements);

    public ValueTask SetSettingsAsync(SignInApplication application, ImmutableDictionary<string, string> settings, CancellationToken cancellationToken) => SignInFilter.Set(() => application.Settings = settings);

    private static (string, object?)[] Parameters(SignInApplication a) =>
    [
        ("@id", a.Id), ("@client", a.ClientId), ("@secret", a.ClientSecret), ("@ctype", a.ClientType), ("@atype", a.ApplicationType),
        ("@consent", a.ConsentType), ("@name", a.DisplayName), ("@ct", a.ConcurrencyToken),
        ("@doc", JsonSerializer.Serialize(new ApplicationDocument(
            SignInJson.Cultures(a.DisplayNames), a.JsonWebKeySet, [.. a.Permissions], [.. a.PostLogoutRedirectUris], [.. a.RedirectUris],
            [.. a.Requirements], a.Settings.ToDictionary(StringComparer.Ordinal), a.Properties.ToDictionary(StringComparer.Ordinal)))),
    ];

    private static SignInApplication Read(DbDataReader reader)
    {
        var document = JsonSerializer.Deserialize<ApplicationDocument>(reader.GetString(7)) ?? throw new InvalidDataException("A signin_application row has no document.");
        return new SignInApplication
        {
            Id = reader.GetString(0),
            ClientId = reader.GetString(1),
            ClientSecret = SignInDatabase.Text(reader, 2),
            ClientType = SignInDatabase.Text(reader, 3),
            ApplicationType = SignInDatabase.Text(reader, 4),
            ConsentType = SignInDatabase.Text(reader, 5),
            DisplayName = SignInDatabase.Text(reader, 6),
            ConcurrencyToken = reader.GetString(8),
            DisplayNames = SignInJson.Cultures(document.DisplayNames),
            JsonWebKeySet = document.JsonWebKeySet,
            Permissions = [.. document.Permissions ?? []],
            PostLogoutRedirectUris = [.. document.PostLogoutRedirectUris ?? []],
            RedirectUris = [.. document.RedirectUris ?? []],
            Requirements = [.. document.Requirements ?? []],
            Settings = (document.Settings ?? []).ToImmutableDictionary(StringComparer.Ordinal),
            Properties = (document.Properties ?? []).ToImmutableDictionary(StringComparer.Ordinal),
        };
    }

    private sealed record ApplicationDocument(
        Dictionary<string, string>? DisplayNames,
        string? JsonWebKeySet,
        string[]? Permissions,
        string[]? PostLogoutRedirectUris,
        string[]? RedirectUris,
        string[]? Requirements,
        Dictionary<string, string>? Settings,
        Dictionary<string, JsonElement>? Properties);
}

/// <summary>A registered client as the sign-in store holds it (OpenIddict's application entity).</summary>
public sealed class SignInApplication
{
    public string? Id { get; set; }

    public string? ClientId { get; set; }

    /// <summary>The secret's hash (OpenIddict hashes it before it reaches the store), or null for a public client or a key-only client.</summary>
    public string? ClientSecret { get; set; }

    public string? ClientType { get; set; }

    public string? ApplicationType { get; set; }

    public string? ConsentType { get; set; }

    public string? DisplayName { get; set; }

    public ImmutableDictionary<CultureInfo, string> DisplayNames { get; set; } = ImmutableDictionary<CultureInfo, string>.Empty;

    /// <summary>The public keys the client signs its assertions with (<c>private_key_jwt</c>), as a JWK Set.</summary>
    public string? JsonWebKeySet { get; set; }

    public ImmutableArray<string> Permissions { get; set; } = [];

    public ImmutableArray<string> PostLogoutRedirectUris { get; set; } = [];

    public ImmutableArray<string> RedirectUris { get; set; } = [];

    public ImmutableArray<string> Requirements { get; set; } = [];

    public ImmutableDictionary<string, string> Settings { get; set; } = ImmutableDictionary<string, string>.Empty;

    public ImmutableDictionary<string, JsonElement> Properties { get; set; } = ImmutableDictionary<string, JsonElement>.Empty;

    /// <summary>Changes on every update, so a change made from a stale copy is refused.</summary>
    public string ConcurrencyToken { get; set; } = Guid.NewGuid().ToString("N");
}
