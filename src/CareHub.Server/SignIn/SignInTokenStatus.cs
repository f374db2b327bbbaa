using System.Collections.Concurrent;
using CareHub.Server.SignIn.Storage;
using OpenIddict.Abstractions;

namespace CareHub.Server.SignIn;

/// <summary>
/// Whether an access token CareHub's authorization server issued is still valid in its store: revoked (RFC 7009), or
/// revoked with the authorization code or refresh token it came from, it is refused by the bearer scheme even though its
/// signature and expiry still hold. An answer is kept for <see cref="SignInOptions.RevocationCheckInterval"/>, so a busy
/// client costs one look-up per interval, not one per request; a revocation through this node is seen at once, one
/// through another node within the interval.
/// </summary>
public sealed class SignInTokenStatus(SignInDatabase database, SignInOptions options, TimeProvider time)
{
    private const int MaximumEntries = 100_000;

    private readonly ConcurrentDictionary<string, (bool Active, DateTimeOffset Checked)> known = new(StringComparer.Ordinal);

    /// <summary>True when the token's row exists and is valid.</summary>
    public async ValueTask<bool> IsActiveAsync(string tokenId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (known.TryGetValue(tokenId, out var entry) && now - entry.Checked < options.RevocationCheckInterval)
        {
            return entry.Active;
        }

        var status = await database.ScalarAsync("SELECT status FROM signin_token WHERE id = @id", cancellationToken, ("@id", tokenId)) as string;
        var active = string.Equals(status, OpenIddictConstants.Statuses.Valid, StringComparison.Ordinal);
        if (known.Count >= MaximumEntries)
        {
            known.Clear();
        }

        known[tokenId] = (active, now);
        return active;
    }

    /// <summary>Forgets every answer: tokens changed status in the store.</summary>
    public void Forget() => known.Clear();
}
