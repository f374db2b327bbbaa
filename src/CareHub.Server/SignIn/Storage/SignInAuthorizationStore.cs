using System.Collections.Immutable;
using System.Data.Common;
using System.Text.Json;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// OpenIddict's authorization store over <c>signin_authorization</c>: a user's grant of scopes to a client (the consent
/// given on the consent page, or the ad hoc authorization behind one authorization code and its refresh tokens).
/// Revoking one revokes its tokens' use, since OpenIddict checks a token's authorization when it is presented.
/// </summary>
public sealed class SignInAuthorizationStore(SignInDatabase database, TimeProvider time) : IOpenIddictAuthorizationStore<SignInAuthorization>
{
    private const string Columns = "id, application_id, subject, status, type, creation_date, scopes, properties, concurrency_token";

    private readonly SignInTable<SignInAuthorization> table = new(database, "signin_authorization", Columns, "creation_date, id", Read);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken) => table.CountAsync(cancellationToken);

    public ValueTask<long> CountAsync<TResult>(Func<IQueryable<SignInAuthorization>, IQueryable<TResult>> query, CancellationToken cancellationToken) =>
        table.CountAsync(query, cancellationToken);

    public async ValueTask CreateAsync(SignInAuthorization authorization, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        authorization.Id ??= Guid.NewGuid().ToString("N");
        authorization.ConcurrencyToken = Guid.NewGuid().ToString("N");
        await database.ExecuteAsync($"INSERT INTO signin_authorization ({Columns}) VALUES (@id, @app, @sub, @status, @type, @created, @scopes, @props, @ct)",
            cancellationToken, Parameters(authorization));
    }

    public ValueTask DeleteAsync(SignInAuthorization authorization, CancellationToken cancellationToken) =>
        table.DeleteAsync(authorization?.Id, authorization?.ConcurrencyToken ?? "", cancellationToken);

    public IAsyncEnumerable<SignInAuthorization> FindAsync(string? subject, string? client, string? status, string? type, ImmutableArray<string>? scopes, CancellationToken cancellationToken)
    {
        var (where, parameters) = SignInFilter.Build(("subject", subject), ("application_id", client), ("status", status), ("type", type));
        return table.StreamAsync(where, parameters, scopes is { } wanted ? a => wanted.All(s => a.Scopes.Contains(s, StringComparer.Ordinal)) : null, cancellationToken);
    }

    public IAsyncEnumerable<SignInAuthorization> FindByApplicationIdAsync(string identifier, CancellationToken cancellationToken) =>
        FindAsync(null, identifier, null, null, null, cancellationToken);

    public async ValueTask<SignInAuthorization?> FindByIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("id = @id", cancellationToken, ("@id", identifier));

    public IAsyncEnumerable<SignInAuthorization> FindBySubjectAsync(string subject, CancellationToken cancellationToken) =>
        FindAsync(subject, null, null, null, null, cancellationToken);

    public ValueTask<TResult?> GetAsync<TState, TResult>(Func<IQueryable<SignInAuthorization>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.GetAsync(query, state, cancellationToken);

    public IAsyncEnumerable<SignInAuthorization> ListAsync(int? count, int? offset, CancellationToken cancellationToken) => table.ListAsync(count, offset, cancellationToken);

    public IAsyncEnumerable<TResult> ListAsync<TState, TResult>(Func<IQueryable<SignInAuthorization>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.ListAsync(query, state, cancellationToken);

    public ValueTask<SignInAuthorization> InstantiateAsync(CancellationToken cancellationToken) => new(new SignInAuthorization());

    /// <summary>
    /// Removes authorizations created before <paramref name="threshold"/> that can no longer be used: not valid, or ad hoc
    /// with no token left (their tokens go with them).
    /// </summary>
    public async ValueTask<long> PruneAsync(DateTimeOffset threshold, CancellationToken cancellationToken) =>
        await database.ExecuteAsync(
            "DELETE FROM signin_authorization WHERE creation_date < @threshold AND (status <> @valid OR (type = @adhoc AND NOT EXISTS " +
            "(SELECT 1 FROM signin_token t WHERE t.authorization_id = signin_authorization.id)))",
            cancellationToken, ("@threshold", threshold.ToUnixTimeMilliseconds()), ("@valid", OpenIddictConstants.Statuses.Valid),
            ("@adhoc", OpenIddictConstants.AuthorizationTypes.AdHoc));

    public async ValueTask<long> RevokeAsync(string? subject, string? client, string? status, string? type, CancellationToken cancellationToken)
    {
        var (where, parameters) = SignInFilter.Build(("subject", subject), ("application_id", client), ("status", status), ("type", type));
        return await database.ExecuteAsync($"UPDATE signin_authorization SET status = @revoked, concurrency_token = @ct WHERE {where}", cancellationToken,
            [.. parameters, ("@revoked", OpenIddictConstants.Statuses.Revoked), ("@ct", Guid.NewGuid().ToString("N"))]);
    }

    public ValueTask<long> RevokeByApplicationIdAsync(string identifier, CancellationToken cancellationToken) =>
        RevokeAsync(null, identifier, null, null, cancellationToken);

    public ValueTask<long> RevokeBySubjectAsync(string subject, CancellationToken cancellationToken) =>
        RevokeAsync(subject, null, null, null, cancellationToken);

    public ValueTask UpdateAsync(SignInAuthorization authorization, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        return table.UpdateAsync(
            "UPDATE signin_authorization SET application_id = @app, subject = @sub, status = @status, type = @type, creation_date = @created, scopes = @scopes, " +
            "properties = @props, concurrency_token = @ct WHERE id = @id AND concurrency_token = @expected",
            () => authorization.ConcurrencyToken, token => authorization.ConcurrencyToken = token, () => Parameters(authorization), cancellationToken);
    }

    // ---- the entity's members -------------------------------------------------------------------------------------

    public ValueTask<string?> GetApplicationIdAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.ApplicationId);

    public ValueTask<DateTimeOffset?> GetCreationDateAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.CreationDate);

    public ValueTask<string?> GetIdAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Id);

    public ValueTask<ImmutableDictionary<string, JsonElement>> GetPropertiesAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Properties);

    public ValueTask<ImmutableArray<string>> GetScopesAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Scopes);

    public ValueTask<string?> GetStatusAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Status);

    public ValueTask<string?> GetSubjectAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Subject);

    public ValueTask<string?> GetTypeAsync(SignInAuthorization authorization, CancellationToken cancellationToken) => new(authorization.Type);

    public ValueTask SetApplicationIdAsync(SignInAuthorization authorization, string? identifier, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.ApplicationId = identifier);

    public ValueTask SetCreationDateAsync(SignInAuthorization authorization, DateTimeOffset? date, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.CreationDate = date);

    public ValueTask SetPropertiesAsync(SignInAuthorization authorization, ImmutableDictionary<string, JsonElement> properties, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.Properties = properties);

    public ValueTask SetScopesAsync(SignInAuthorization authorization, ImmutableArray<string> scopes, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.Scopes = scopes);

    public ValueTask SetStatusAsync(SignInAuthorization authorization, string? status, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.Status = status);

    public ValueTask SetSubjectAsync(SignInAuthorization authorization, string? subject, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.Subject = subject);

    public ValueTask SetTypeAsync(SignInAuthorization authorization, string? type, CancellationToken cancellationToken) => SignInFilter.Set(() => authorization.Type = type);

    private (string, object?)[] Parameters(SignInAuthorization a) =>
    [
        ("@id", a.Id), ("@app", a.ApplicationId), ("@sub", a.Subject), ("@status", a.Status), ("@type", a.Type),
        ("@created", SignInDatabase.Millis(a.CreationDate ?? time.GetUtcNow())), ("@scopes", SignInJson.Strings(a.Scopes)),
        ("@props", SignInJson.Properties(a.Properties)), ("@ct", a.ConcurrencyToken),
    ];

    private static SignInAuthorization Read(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        ApplicationId = SignInDatabase.Text(reader, 1),
        Subject = SignInDatabase.Text(reader, 2),
        Status = SignInDatabase.Text(reader, 3),
        Type = SignInDatabase.Text(reader, 4),
        CreationDate = SignInDatabase.Time(reader, 5),
        Scopes = SignInJson.Strings(reader.GetString(6)),
        Properties = SignInJson.Properties(reader.GetString(7)),
        ConcurrencyToken = reader.GetString(8),
    };
}

/// <summary>An authorization as the sign-in store holds it (OpenIddict's authorization entity).</summary>
public sealed class SignInAuthorization
{
    public string? Id { get; set; }

    public string? ApplicationId { get; set; }

    public string? Subject { get; set; }

    public string? Status { get; set; }

    public string? Type { get; set; }

    public DateTimeOffset? CreationDate { get; set; }

    public ImmutableArray<string> Scopes { get; set; } = [];

    public ImmutableDictionary<string, JsonElement> Properties { get; set; } = ImmutableDictionary<string, JsonElement>.Empty;

    public string ConcurrencyToken { get; set; } = Guid.NewGuid().ToString("N");
}
