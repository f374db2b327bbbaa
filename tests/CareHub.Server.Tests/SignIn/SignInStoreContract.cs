using CareHub.Server.SignIn;
using CareHub.Server.SignIn.Storage;
using CareHub.Server.SignIn.Storage.Postgres;
using CareHub.Server.SignIn.Storage.Sqlite;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace CareHub.Server.Tests.SignIn;

/// <summary>
/// The sign-in store's contract, run on SQLite and PostgreSQL: migrations, the OpenIddict stores' look-ups, updates that
/// refuse a stale copy (what makes an authorization code redeemable once), revocation, pruning and the key ring's rotation.
/// </summary>
public abstract class SignInStoreContract : IAsyncLifetime
{
    private SignInDatabase? database;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected SignInDatabase Database => database!;

    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    protected abstract SignInDatabase Open();

    public async ValueTask InitializeAsync()
    {
        database = Open();
        await database.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    private SignInTokenStatus Status(TimeSpan interval) => new(Database, new SignInOptions { RevocationCheckInterval = interval }, Clock);

    [Fact]
    public async Task migrating_again_changes_nothing_and_a_newer_schema_is_refused()
    {
        await Database.MigrateAsync(Ct);
        await Database.ExecuteAsync("INSERT INTO signin_schema_version (version, applied) VALUES (@v, 'later')", Ct, ("@v", SignInDatabase.SchemaVersion + 1));
        var refusal = await Assert.ThrowsAsync<InvalidOperationException>(() => Database.MigrateAsync(Ct));
        Assert.Contains("Upgrade CareHub", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task a_client_is_found_by_its_id_and_redirect_uri_and_a_stale_copy_cannot_overwrite_it()
    {
        var store = new SignInApplicationStore(Database, Status(TimeSpan.Zero));
        var client = new SignInApplication { ClientId = "app-1", ClientType = ClientTypes.Public, RedirectUris = ["https://app.example/callback"], Permissions = [Permissions.Endpoints.Token] };
        await store.CreateAsync(client, Ct);
        await Assert.ThrowsAsync<OpenIddictExceptions.ConcurrencyException>(() => store.CreateAsync(new SignInApplication { ClientId = "app-1" }, Ct).AsTask());

        var found = await store.FindByClientIdAsync("app-1", Ct);
        Assert.NotNull(found);
        Assert.Equal(["https://app.example/callback"], found.RedirectUris);
        Assert.Equal([Permissions.Endpoints.Token], found.Permissions);
        Assert.Single(await ToListAsync(store.FindByRedirectUriAsync("https://app.example/callback", Ct)));
        // Exact match only: a prefix or a longer URL is another URL.
        Assert.Empty(await ToListAsync(store.FindByRedirectUriAsync("https://app.example/callback/evil", Ct)));

        var stale = (await store.FindByIdAsync(client.Id!, Ct))!;
        found.DisplayName = "First";
        await store.UpdateAsync(found, Ct);
        stale.DisplayName = "Second";
        await Assert.ThrowsAsync<OpenIddictExceptions.ConcurrencyException>(() => store.UpdateAsync(stale, Ct).AsTask());
        Assert.Equal("First", (await store.FindByClientIdAsync("app-1", Ct))!.DisplayName);
        Assert.Equal(1, await store.CountAsync(Ct));
    }

    [Fact]
    public async Task a_token_is_redeemed_once_even_by_two_copies_at_the_same_time()
    {
        var applications = new SignInApplicationStore(Database, Status(TimeSpan.Zero));
        var client = new SignInApplication { ClientId = "app-2" };
        await applications.CreateAsync(client, Ct);
        var tokens = new SignInTokenStore(Database, Clock, Status(TimeSpan.Zero));
        var code = new SignInToken { ApplicationId = client.Id, Subject = "gp.smith", Type = TokenTypeIdentifiers.Private.AuthorizationCode, Status = Statuses.Valid, ReferenceId = "ref-1", ExpirationDate = Clock.GetUtcNow().AddMinutes(2) };
        await tokens.CreateAsync(code, Ct);

        var first = (await tokens.FindByReferenceIdAsync("ref-1", Ct))!;
        var second = (await tokens.FindByReferenceIdAsync("ref-1", Ct))!;
        first.Status = Statuses.Redeemed;
        second.Status = Statuses.Redeemed;
        await tokens.UpdateAsync(first, Ct);
        await Assert.ThrowsAsync<OpenIddictExceptions.ConcurrencyException>(() => tokens.UpdateAsync(second, Ct).AsTask());
        Assert.Equal(Statuses.Redeemed, (await tokens.FindByIdAsync(code.Id!, Ct))!.Status);
    }

    [Fact]
    public async Task revoking_an_authorization_revokes_its_tokens_and_the_bearer_check_sees_it()
    {
        var applications = new SignInApplicationStore(Database, Status(TimeSpan.Zero));
        var client = new SignInApplication { ClientId = "app-3" };
        await applications.CreateAsync(client, Ct);
        var authorizations = new SignInAuthorizationStore(Database, Clock);
        var authorization = new SignInAuthorization { ApplicationId = client.Id, Subject = "gp.smith", Status = Statuses.Valid, Type = AuthorizationTypes.AdHoc, Scopes = ["openid", "launch"] };
        await authorizations.CreateAsync(authorization, Ct);
        var status = Status(TimeSpan.FromMinutes(1));
        var tokens = new SignInTokenStore(Database, Clock, status);
        var access = new SignInToken { ApplicationId = client.Id, AuthorizationId = authorization.Id, Subject = "gp.smith", Type = TokenTypeIdentifiers.AccessToken, Status = Statuses.Valid };
        var refresh = new SignInToken { ApplicationId = client.Id, AuthorizationId = authorization.Id, Subject = "gp.smith", Type = TokenTypeIdentifiers.RefreshToken, Status = Statuses.Valid };
        await tokens.CreateAsync(access, Ct);
        await tokens.CreateAsync(refresh, Ct);
        Assert.True(await status.IsActiveAsync(access.Id!, Ct));

        Assert.Single(await ToListAsync(authorizations.FindAsync("gp.smith", client.Id, Statuses.Valid, null, ["launch"], Ct)));
        Assert.Empty(await ToListAsync(authorizations.FindAsync("gp.smith", client.Id, Statuses.Valid, null, ["offline_access"], Ct)));

        Assert.Equal(2, await tokens.RevokeByAuthorizationIdAsync(authorization.Id!, Ct));
        Assert.False(await status.IsActiveAsync(access.Id!, Ct));
        Assert.All(await ToListAsync(tokens.FindByAuthorizationIdAsync(authorization.Id!, Ct)), t => Assert.Equal(Statuses.Revoked, t.Status));
        Assert.Equal(1, await authorizations.RevokeBySubjectAsync("gp.smith", Ct));
        Assert.Equal(Statuses.Revoked, (await authorizations.FindByIdAsync(authorization.Id!, Ct))!.Status);
    }

    [Fact]
    public async Task pruning_removes_only_tokens_that_can_no_longer_be_used()
    {
        var applications = new SignInApplicationStore(Database, Status(TimeSpan.Zero));
        var client = new SignInApplication { ClientId = "app-4" };
        await applications.CreateAsync(client, Ct);
        var tokens = new SignInTokenStore(Database, Clock, Status(TimeSpan.Zero));
        var created = Clock.GetUtcNow().AddDays(-2);
        var expired = new SignInToken { ApplicationId = client.Id, Status = Statuses.Valid, CreationDate = created, ExpirationDate = created.AddHours(1) };
        var live = new SignInToken { ApplicationId = client.Id, Status = Statuses.Valid, CreationDate = created, ExpirationDate = Clock.GetUtcNow().AddDays(10) };
        var revoked = new SignInToken { ApplicationId = client.Id, Status = Statuses.Revoked, CreationDate = created, ExpirationDate = Clock.GetUtcNow().AddDays(10) };
        foreach (var token in new[] { expired, live, revoked })
        {
            await tokens.CreateAsync(token, Ct);
        }

        Assert.Equal(2, await tokens.PruneAsync(Clock.GetUtcNow().AddDays(-1), Ct));
        Assert.NotNull(await tokens.FindByIdAsync(live.Id!, Ct));
        Assert.Null(await tokens.FindByIdAsync(expired.Id!, Ct));
    }

    [Fact]
    public async Task keys_persist_across_restarts_rotate_when_due_and_old_ones_verify_until_their_tokens_expire()
    {
        var options = new SignInOptions { KeyRotation = TimeSpan.FromDays(30), AccessTokenLifetime = TimeSpan.FromMinutes(15), RefreshTokenLifetime = TimeSpan.FromDays(7) };
        var first = new SignInKeys(Database, options, Clock);
        await first.LoadAsync(Ct);
        var original = first.SigningKeys[0].KeyId;
        Assert.Single(first.EncryptionKeys);

        var restarted = new SignInKeys(Database, options, Clock);
        await restarted.LoadAsync(Ct);
        Assert.Equal(original, restarted.SigningKeys[0].KeyId);

        Clock.Advance(TimeSpan.FromDays(31));
        var rotated = new SignInKeys(Database, options, Clock);
        await rotated.LoadAsync(Ct);
        Assert.NotEqual(original, rotated.SigningKeys[0].KeyId);
        Assert.Contains(rotated.VerificationKeys, k => k.KeyId == original);

        // Once the newer key has signed for longer than any token lives, nothing the old key signed is still valid.
        Clock.Advance(TimeSpan.FromDays(8));
        var later = new SignInKeys(Database, options, Clock);
        await later.LoadAsync(Ct);
        Assert.DoesNotContain(later.VerificationKeys, k => k.KeyId == original);
        Assert.Single(later.SigningKeys);
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}

/// <summary>A clock the test moves.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset now = now;

    public override DateTimeOffset GetUtcNow() => now;

    public void Advance(TimeSpan by) => now += by;
}

public sealed class SignInStoreOnSqliteTests : SignInStoreContract, IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-signin-" + Guid.NewGuid().ToString("N"));

    protected override SignInDatabase Open()
    {
        Directory.CreateDirectory(folder);
        return new SqliteSignInDatabase(Path.Combine(folder, SqliteSignInDatabase.FileName));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed class SignInStoreOnPostgresTests : SignInStoreContract
{
    protected override SignInDatabase Open()
    {
        var connectionString = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return new PostgresSignInDatabase(connectionString, "signin_" + Guid.NewGuid().ToString("N")[..12]);
    }
}
