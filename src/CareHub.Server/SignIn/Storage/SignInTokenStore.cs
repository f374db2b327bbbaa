using System.Collections.Immutable;
using System.Data.Common;
using System.Text.Json;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// OpenIddict's token store over <c>signin_token</c>: one row per authorization code, refresh token, access token and
/// client assertion the server issued or accepted, with its status. Redeeming a code or a refresh token is an update
/// guarded by the row's concurrency token, so of two nodes presenting the same code only one succeeds; a code presented
/// again finds its row redeemed, and OpenIddict then revokes the tokens issued from it. Every change of status is told
/// to <see cref="SignInTokenStatus"/>, so the bearer scheme refuses a revoked access token at once.
/// </summary>
public sealed class SignInTokenStore(SignInDatabase database, TimeProvider time, SignInTokenStatus status) : IOpenIddictTokenStore<SignInToken>
{
    private const string Columns =
        "id, application_id, authorization_id, subject, status, type, reference_id, creation_date, expiration_date, redemption_date, payload, properties, concurrency_token";

    private readonly SignInTable<SignInToken> table = new(database, "signin_token", Columns, "creation_date, id", Read);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken) => table.CountAsync(cancellationToken);

    public ValueTask<long> CountAsync<TResult>(Func<IQueryable<SignInToken>, IQueryable<TResult>> query, CancellationToken cancellationToken) =>
        table.CountAsync(query, cancellationToken);

    public async ValueTask CreateAsync(SignInToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        token.Id ??= Guid.NewGuid().ToString("N");
        token.ConcurrencyToken = Guid.NewGuid().ToString("N");
        try
        {
            await database.ExecuteAsync($"INSERT INTO signin_token ({Columns}) VALUES (@id, @app, @auth, @sub, @status, @type, @ref, @created, @expires, @redeemed, @payload, @props, @ct)",
                cancellationToken, Parameters(token));
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            throw new OpenIddictExceptions.ConcurrencyException("A token with this reference identifier already exists.", e);
        }
    }

    public async ValueTask DeleteAsync(SignInToken token, CancellationToken cancellationToken)
    {
        await table.DeleteAsync(token?.Id, token?.ConcurrencyToken ?? "", cancellationToken);
        status.Forget();
    }

    public IAsyncEnumerable<SignInToken> FindAsync(string? subject, string? client, string? status, string? type, CancellationToken cancellationToken)
    {
        var (where, parameters) = SignInFilter.Build(("subject", subject), ("application_id", client), ("status", status), ("type", type));
        return table.StreamAsync(where, parameters, null, cancellationToken);
    }

    public IAsyncEnumerable<SignInToken> FindByApplicationIdAsync(string identifier, CancellationToken cancellationToken) =>
        FindAsync(null, identifier, null, null, cancellationToken);

    public IAsyncEnumerable<SignInToken> FindByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken) =>
        table.StreamAsync("authorization_id = @id", [("@id", identifier)], null, cancellationToken);

    public async ValueTask<SignInToken?> FindByIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("id = @id", cancellationToken, ("@id", identifier));

    public async ValueTask<SignInToken?> FindByReferenceIdAsync(string identifier, CancellationToken cancellationToken) =>
        await table.FirstAsync("reference_id = @id", cancellationToken, ("@id", identifier));

    public IAsyncEnumerable<SignInToken> FindBySubjectAsync(string subject, CancellationToken cancellationToken) =>
        FindAsync(subject, null, null, null, cancellationToken);

    public ValueTask<TResult?> GetAsync<TState, TResult>(Func<IQueryable<SignInToken>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.GetAsync(query, state, cancellationToken);

    public IAsyncEnumerable<SignInToken> ListAsync(int? count, int? offset, CancellationToken cancellationToken) => table.ListAsync(count, offset, cancellationToken);

    public IAsyncEnumerable<TResult> ListAsync<TState, TResult>(Func<IQueryable<SignInToken>, TState, IQueryable<TResult>> query, TState state, CancellationToken cancellationToken) =>
        table.ListAsync(query, state, cancellationToken);

    public ValueTask<SignInToken> InstantiateAsync(CancellationToken cancellationToken) => new(new SignInToken());

    /// <summary>
    /// Removes tokens created before <paramref name="threshold"/> that can no longer be used: expired, or neither valid nor
    /// waiting (inactive), or whose authorization is no longer valid.
    /// </summary>
    public async ValueTask<long> PruneAsync(DateTimeOffset threshold, CancellationToken cancellationToken) =>
        await database.ExecuteAsync(
            "DELETE FROM signin_token WHERE creation_date < @threshold AND (expiration_date < @now OR status NOT IN (@inactive, @valid) OR EXISTS " +
            "(SELECT 1 FROM signin_authorization a WHERE a.id = signin_token.authorization_id AND a.status <> @valid))",
            cancellationToken, ("@threshold", threshold.ToUnixTimeMilliseconds()), ("@now", time.GetUtcNow().ToUnixTimeMilliseconds()),
            ("@inactive", OpenIddictConstants.Statuses.Inactive), ("@valid", OpenIddictConstants.Statuses.Valid));

    public async ValueTask<long> RevokeAsync(string? subject, string? client, string? status, string? type, CancellationToken cancellationToken)
    {
        var (where, parameters) = SignInFilter.Build(("subject", subject), ("application_id", client), ("status", status), ("type", type));
        return await RevokeWhereAsync(where, parameters, cancellationToken);
    }

    public ValueTask<long> RevokeByApplicationIdAsync(string identifier, CancellationToken cancellationToken) =>
        RevokeAsync(null, identifier, null, null, cancellationToken);

    public ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken) =>
        RevokeWhereAsync("authorization_id = @auth", [("@auth", identifier)], cancellationToken);

    public ValueTask<long> RevokeBySubjectAsync(string subject, CancellationToken cancellationToken) =>
        RevokeAsync(subject, null, null, null, cancellationToken);

    public async ValueTask UpdateAsync(SignInToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        await table.UpdateAsync(
            "UPDATE signin_token SET application_id = @app, authorization_id = @auth, subject = @sub, status = @status, type = @type, reference_id = @ref, " +
            "creation_date = @created, expiration_date = @expires, redemption_date = @redeemed, payload = @payload, properties = @props, concurrency_token = @ct " +
            "WHERE id = @id AND concurrency_token = @expected",
            () => token.ConcurrencyToken, value => token.ConcurrencyToken = value, () => Parameters(token), cancellationToken);
        status.Forget();
    }

    // ---- the entity's members -------------------------------------------------------------------------------------

    public ValueTask<string?> GetApplicationIdAsync(SignInToken token, CancellationToken cancellationToken) => new(token.ApplicationId);

    public ValueTask<string?> GetAuthorizationIdAsync(SignInToken token, CancellationToken cancellationToken) => new(token.AuthorizationId);

    public ValueTask<DateTimeOffset?> GetCreationDateAsync(SignInToken token, CancellationToken cancellationToken) => new(token.CreationDate);

    public ValueTask<DateTimeOffset?> GetExpirationDateAsync(SignInToken token, CancellationToken cancellationToken) => new(token.ExpirationDate);

    public ValueTask<string?> GetIdAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Id);

    public ValueTask<string?> GetPayloadAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Payload);

    public ValueTask<ImmutableDictionary<string, JsonElement>> GetPropertiesAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Properties);

    public ValueTask<DateTimeOffset?> GetRedemptionDateAsync(SignInToken token, CancellationToken cancellationToken) => new(token.RedemptionDate);

    public ValueTask<string?> GetReferenceIdAsync(SignInToken token, CancellationToken cancellationToken) => new(token.ReferenceId);

    public ValueTask<string?> GetStatusAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Status);

    public ValueTask<string?> GetSubjectAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Subject);

    public ValueTask<string?> GetTypeAsync(SignInToken token, CancellationToken cancellationToken) => new(token.Type);

    public ValueTask SetApplicationIdAsync(SignInToken token, string? identifier, CancellationToken cancellationToken) => SignInFilter.Set(() => token.ApplicationId = identifier);

    public ValueTask SetAuthorizationIdAsync(SignInToken token, string? identifier, CancellationToken cancellationToken) => SignInFilter.Set(() => token.AuthorizationId = identifier);

    public ValueTask SetCreationDateAsync(SignInToken token, DateTimeOffset? date, CancellationToken cancellationToken) => SignInFilter.Set(() => token.CreationDate = date);

    public ValueTask SetExpirationDateAsync(SignInToken token, DateTimeOffset? date, CancellationToken cancellationToken) => SignInFilter.Set(() => token.ExpirationDate = date);

    public ValueTask SetPayloadAsync(SignInToken token, string? payload, CancellationToken cancellationToken) => SignInFilter.Set(() => token.Payload = payload);

    public ValueTask SetPropertiesAsync(SignInToken token, ImmutableDictionary<string, JsonElement> properties, CancellationToken cancellationToken) => SignInFilter.Set(() => token.Properties = properties);

    public ValueTask SetRedemptionDateAsync(SignInToken token, DateTimeOffset? date, CancellationToken cancellationToken) => SignInFilter.Set(() => token.RedemptionDate = date);

    public ValueTask SetReferenceIdAsync(SignInToken token, string? identifier, CancellationToken cancellationToken) => SignInFilter.Set(() => token.ReferenceId = identifier);

    public ValueTask SetStatusAsync(SignInToken token, string? status, CancellationToken cancellationToken) => SignInFilter.Set(() => token.Status = status);

    public ValueTask SetSubjectAsync(SignInToken token, string? subject, CancellationToken cancellationToken) => SignInFilter.Set(() => token.Subject = subject);

    public ValueTask SetTypeAsync(SignInToken token, string? type, CancellationToken cancellationToken) => SignInFilter.Set(() => token.Type = type);

    private async ValueTask<long> RevokeWhereAsync(string where, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        var revoked = await database.ExecuteAsync($"UPDATE signin_token SET status = @revoked, concurrency_token = @ct WHERE {where}", cancellationToken,
            [.. parameters, ("@revoked", OpenIddictConstants.Statuses.Revoked), ("@ct", Guid.NewGuid().ToString("N"))]);
        status.Forget();
        return revoked;
    }

    private (string, object?)[] Parameters(SignInToken t) =>
    [
        ("@id", t.Id), ("@app", t.ApplicationId), ("@auth", t.AuthorizationId), ("@sub", t.Subject), ("@status", t.Status), ("@type", t.Type),
        ("@ref", t.ReferenceId), ("@created", SignInDatabase.Millis(t.CreationDate ?? time.GetUtcNow())), ("@expires", SignInDatabase.Millis(t.ExpirationDate)),
        ("@redeemed", SignInDatabase.Millis(t.RedemptionDate)), ("@payload", t.Payload), ("@props", SignInJson.Properties(t.Properties)), ("@ct", t.ConcurrencyToken),
    ];

    private static SignInToken Read(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        ApplicationId = SignInDatabase.Text(reader, 1),
        AuthorizationId = SignInDatabase.Text(reader, 2),
        Subject = SignInDatabase.Text(reader, 3),
        Status = SignInDatabase.Text(reader, 4),
        Type = SignInDatabase.Text(reader, 5),
        ReferenceId = SignInDatabase.Text(reader, 6),
        CreationDate = SignInDatabase.Time(reader, 7),
        ExpirationDate = SignInDatabase.Time(reader, 8),
        RedemptionDate = SignInDatabase.Time(reader, 9),
        Payload = SignInDatabase.Text(reader, 10),
        Properties = SignInJson.Properties(reader.GetString(11)),
        ConcurrencyToken = reader.GetString(12),
    };
}

/// <summary>A token as the sign-in store holds it (OpenIddict's token entity).</summary>
public sealed class SignInToken
{
    public string? Id { get; set; }

    public string? ApplicationId { get; set; }

    public string? AuthorizationId { get; set; }

    public string? Subject { get; set; }

    public string? Status { get; set; }

    public string? Type { get; set; }

    /// <summary>The hash of a reference token's or code's identifier, when the token is looked up by reference.</summary>
    public string? ReferenceId { get; set; }

    public DateTimeOffset? CreationDate { get; set; }

    public DateTimeOffset? ExpirationDate { get; set; }

    public DateTimeOffset? RedemptionDate { get; set; }

    /// <summary>The token itself, for reference tokens only; null for self-contained JWTs.</summary>
    public string? Payload { get; set; }

    public ImmutableDictionary<string, JsonElement> Properties { get; set; } = ImmutableDictionary<string, JsonElement>.Empty;

    public string ConcurrencyToken { get; set; } = Guid.NewGuid().ToString("N");
}
