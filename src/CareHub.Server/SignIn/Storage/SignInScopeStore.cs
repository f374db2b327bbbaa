using System.Collections.Immutable;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// OpenIddict's scope store over <c>signin_scope</c>: named scopes with a display name and description (what the consent
/// page shows) and the resources they grant. SMART's resource scopes (<c>patient/Observation.rs</c> and the like) are a
/// grammar, not a list, so CareHub checks requested scopes itself against the client's registration; this store holds
/// the descriptions of scopes an operator chooses to register.
/// </summary>
public sealed class SignInScopeStore(SignInDatabase database) : IOpenIddictScopeStore<SignInScope>
{
    private const string Columns = "id, name, document, concurrency_token";

    private readonly SignInTable<SignInScope> table = new(database, "signin_scope", Columns, "name", Read);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken) => table.CountAsync(cancellationToken);

    public ValueTask<long> CountAsync<TResult>(Func<IQueryable<SignInScope>, IQueryable<TResult>> query, CancellationToken cancellationToken) =>
        table.CountAsync(query, cancellationToken);

    public async ValueTask CreateAsync(SignInScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        scope.Id ??= Guid.NewGuid().ToString("N");
        scope.ConcurrencyToken = Guid.NewGuid().ToString("N");
        try
        {
            await database.ExecuteAsync($"INSERT INTO signin_scope ({Columns}) VALUES (@id, @name, @doc, @ct)", cancellationToken, Parameters(scope));
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            throw new OpenIddictExceptions.ConcurrencyException($"A scope named '{scope.Name}' exists.", e);
        }
    }

    public ValueTask DeleteAsync(SignInScope scope, CancellationToken cancellationToken) =>
        table.DeleteAsync(scope?.Id, scope?.ConcurrencyToken ?? "", cancellationToken);

    public async ValueTask<SignInScope?> FindByIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("id = @id", cancellationToken, ("@id", identifier));

    public async ValueTask<SignInScope?> FindByNameAsync(string name, CancellationToken cancellationToken) =>
        await table.FirstAsync("name = @name", cancellationToken, ("@name", name));

    public IAsyncEnumerable<SignInScope> FindByNamesAsync(ImmutableArray<string> names, CancellationToken cancellationToken) =>
        table.StreamAsync("1 = 1", [], s => s.Name is not null && names.Contains(s.Name, StringComparer.Ordinal), cancellationToken);

    public IAsyncEnumerable<SignInScope> FindByResourceAsync(string resource, CancellationToken cancellationToken) =>
        table.StreamAsync("1 = 1", [], s => s.Resources.Contains(resource, StringComparer.Ordinal), cancellationToken);

    public ValueTask<TResult?> GetAsync<TState, TResult>(Func<IQueryable<SignInScope>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.GetAsync(query, state, cancellationToken);

    public IAsyncEnumerable<SignInScope> ListAsync(int? count, int? offset, CancellationToken cancellationToken) => table.ListAsync(count, offset, cancellationToken);

    public IAsyncEnumerable<TResult> ListAsync<TState, TResult>(Func<IQueryable<SignInScope>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.ListAsync(query, state, cancellationToken);

    public ValueTask<SignInScope> InstantiateAsync(CancellationToken cancellationToken) => new(new SignInScope());

    public ValueTask UpdateAsync(SignInScope scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return table.UpdateAsync("UPDATE signin_scope SET name = @name, document = @doc, concurrency_token = @ct WHERE id = @id AND concurrency_token = @expected",
            () => scope.ConcurrencyToken, token => scope.ConcurrencyToken = token, () => Parameters(scope), cancellationToken);
    }

    // ---- the entity's members -------------------------------------------------------------------------------------

    public ValueTask<string?> GetDescriptionAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Description);

    public ValueTask<ImmutableDictionary<CultureInfo, string>> GetDescriptionsAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Descriptions);

    public ValueTask<string?> GetDisplayNameAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.DisplayName);

    public ValueTask<ImmutableDictionary<CultureInfo, string>> GetDisplayNamesAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.DisplayNames);

    public ValueTask<string?> GetIdAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Id);

    public ValueTask<string?> GetNameAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Name);

    public ValueTask<ImmutableDictionary<string, JsonElement>> GetPropertiesAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Properties);

    public ValueTask<ImmutableArray<string>> GetResourcesAsync(SignInScope scope, CancellationToken cancellationToken) => new(scope.Resources);

    public ValueTask SetDescriptionAsync(SignInScope scope, string? description, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.Description = description);

    public ValueTask SetDescriptionsAsync(SignInScope scope, ImmutableDictionary<CultureInfo, string> descriptions, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.Descriptions = descriptions);

    public ValueTask SetDisplayNameAsync(SignInScope scope, string? name, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.DisplayName = name);

    public ValueTask SetDisplayNamesAsync(SignInScope scope, ImmutableDictionary<CultureInfo, string> names, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.DisplayNames = names);

    public ValueTask SetNameAsync(SignInScope scope, string? name, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.Name = name);

    public ValueTask SetPropertiesAsync(SignInScope scope, ImmutableDictionary<string, JsonElement> properties, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.Properties = properties);

    public ValueTask SetResourcesAsync(SignInScope scope, ImmutableArray<string> resources, CancellationToken cancellationToken) => SignInFilter.Set(() => scope.Resources = resources);

    private static (string, object?)[] Parameters(SignInScope s) =>
    [
        ("@id", s.Id), ("@name", s.Name), ("@ct", s.ConcurrencyToken),
        ("@doc", JsonSerializer.Serialize(new ScopeDocument(s.DisplayName, s.Description, SignInJson.Cultures(s.DisplayNames), SignInJson.Cultures(s.Descriptions),
            [.. s.Resources], s.Properties.ToDictionary(StringComparer.Ordinal)))),
    ];

    private static SignInScope Read(DbDataReader reader)
    {
        var document = JsonSerializer.Deserialize<ScopeDocument>(reader.GetString(2)) ?? throw new InvalidDataException("A signin_scope row has no document.");
        return new SignInScope
        {
            Id = reader.GetString(0),
            Name = reader.GetString(1),
            ConcurrencyToken = reader.GetString(3),
            DisplayName = document.DisplayName,
            Description = document.Description,
            DisplayNames = SignInJson.Cultures(document.DisplayNames),
            Descriptions = SignInJson.Cultures(document.Descriptions),
            Resources = [.. document.Resources ?? []],
            Properties = (document.Properties ?? []).ToImmutableDictionary(StringComparer.Ordinal),
        };
    }

    private sealed record ScopeDocument(
        string? DisplayName,
        string? Description,
        Dictionary<string, string>? DisplayNames,
        Dictionary<string, string>? Descriptions,
        string[]? Resources,
        Dictionary<string, JsonElement>? Properties);
}

/// <summary>A registered scope as the sign-in store holds it (OpenIddict's scope entity).</summary>
public sealed class SignInScope
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? DisplayName { get; set; }

    public string? Description { get; set; }

    public ImmutableDictionary<CultureInfo, string> DisplayNames { get; set; } = ImmutableDictionary<CultureInfo, string>.Empty;

    public ImmutableDictionary<CultureInfo, string> Descriptions { get; set; } = ImmutableDictionary<CultureInfo, string>.Empty;

    public ImmutableArray<string> Resources { get; set; } = [];

    public ImmutableDictionary<string, JsonElement> Properties { get; set; } = ImmutableDictionary<string, JsonElement>.Empty;

    public string ConcurrencyToken { get; set; } = Guid.NewGuid().ToString("N");
}
