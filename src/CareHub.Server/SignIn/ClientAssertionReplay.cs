using System.Data.Common;
using CareHub.Server.SignIn.Storage;
using CareHub.Storage;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace CareHub.Server.SignIn;

/// <summary>
/// Accepts each client assertion once (RFC 7523 section 3: the <c>jti</c> "can be used to prevent reuse"; SMART Backend
/// Services: the server "must" reject a reused <c>jti</c>). Once OpenIddict has checked an assertion's signature, issuer,
/// audience and lifetime, its client and <c>jti</c> are written to the sign-in store until it expires; a second
/// presentation finds them and is refused with <c>invalid_client</c>. An assertion must say when it expires, at most
/// <see cref="MaximumLifetime"/> ahead, so the store keeps each identifier for a bounded time.
/// </summary>
internal sealed class ClientAssertionReplay(SignInDatabase database, TimeProvider time) : IOpenIddictServerHandler<ValidateTokenContext>
{
    /// <summary>SMART Backend Services: an assertion's <c>exp</c> is "no more than five minutes in the future".</summary>
    public static readonly TimeSpan MaximumLifetime = TimeSpan.FromMinutes(5);

    /// <summary>Clocks differ between a client and CareHub by up to this much.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
        .UseSingletonHandler<ClientAssertionReplay>()
        .SetOrder(OpenIddictServerHandlers.Protection.ValidateExpirationDate.Descriptor.Order + 500)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(ValidateTokenContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ValidTokenTypes.Count != 1 || !context.ValidTokenTypes.Contains(TokenTypeIdentifiers.Private.ClientAssertion) || context.Principal is not { } principal)
        {
            return;
        }

        var clientId = principal.GetClaim(Claims.Subject) ?? principal.GetClaim(Claims.Issuer);
        var jti = principal.GetClaim(Claims.JwtId);
        var expires = principal.GetExpirationDate();
        var now = time.GetUtcNow();
        if (clientId is null || string.IsNullOrEmpty(jti) || expires is null)
        {
            context.Reject(Errors.InvalidClient, "The client assertion must carry sub, jti and exp.");
            return;
        }

        if (expires.Value > now + MaximumLifetime + ClockSkew)
        {
            context.Reject(Errors.InvalidClient, "The client assertion must expire at most five minutes after it is made.");
            return;
        }

        if (!await TryUseAsync(clientId, jti, expires.Value, now, context.CancellationToken))
        {
            context.Reject(Errors.InvalidClient, "This client assertion has been used before; make a new one with a fresh jti.");
        }
    }

    /// <summary>Records the assertion's identifier; false when it is recorded already. Expired identifiers are removed first.</summary>
    private async Task<bool> TryUseAsync(string clientId, string jti, DateTimeOffset expires, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            await using var write = await database.BeginWriteAsync(cancellationToken);
            await SqlCommands.ExecuteAsync(write.Connection, write.Transaction, "DELETE FROM signin_assertion WHERE expires < @now", cancellationToken,
                ("@now", now.ToUnixTimeMilliseconds()));
            await SqlCommands.ExecuteAsync(write.Connection, write.Transaction, "INSERT INTO signin_assertion (client_id, jti, expires) VALUES (@client, @jti, @expires)",
                cancellationToken, ("@client", clientId), ("@jti", jti), ("@expires", expires.ToUnixTimeMilliseconds()));
            await write.Transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            return false;
        }
    }
}
