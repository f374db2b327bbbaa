using System.Data.Common;
using System.Globalization;

namespace CareHub.Messaging.Storage;

public abstract partial class SqlMessageStore
{
    /// <summary>
    /// Takes the exclusive right to deliver from one destination's queue, or returns null when another worker (another
    /// node) holds it. Held until the claim is completed or disposed.
    /// </summary>
    protected abstract Task<IAsyncDisposable?> AcquireRouteAsync(string channel, string destination, CancellationToken cancellationToken);

    public async Task<ClaimResult> ClaimNextAsync(string channel, string destination, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lease = await AcquireRouteAsync(channel, destination, cancellationToken);
        if (lease is null)
        {
            return new ClaimResult(null, null);
        }

        try
        {
            long id, messageId;
            int attempts;
            long nextAttempt;
            await using (var connection = await OpenAsync(cancellationToken))
            await using (var head = Command(connection, null,
                "SELECT id, message_id, attempts, next_attempt FROM message_delivery WHERE channel = @c AND destination = @d AND state IN ('queued', 'error') ORDER BY id LIMIT 1",
                ("@c", channel), ("@d", destination)))
            await using (var reader = await head.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    await lease.DisposeAsync();
                    return new ClaimResult(null, null);
                }

                (id, messageId, attempts, nextAttempt) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetInt64(3));
            }

            if (nextAttempt > now.ToUnixTimeMilliseconds())
            {
                // The head waits for its retry; what follows it waits too, so the destination sees messages in order.
                await lease.DisposeAsync();
                return new ClaimResult(null, Time(nextAttempt));
            }

            StoredMessage message;
            await using (var scope = await BeginWriteAsync(cancellationToken))
            {
                // Counted before the attempt and committed: after a crash mid-delivery the next attempt knows it is a retry.
                await ExecuteAsync(scope.Connection, scope.Transaction, "UPDATE message_delivery SET attempts = attempts + 1, updated = @now WHERE id = @id", cancellationToken,
                    ("@now", now.ToUnixTimeMilliseconds()), ("@id", id));
                message = await ReadMessageAsync(scope.Connection, scope.Transaction, "m.id = @id", cancellationToken, ("@id", messageId))
                    ?? throw new InvalidOperationException($"Delivery {id.ToString(CultureInfo.InvariantCulture)} has no message.");
                await scope.Transaction.CommitAsync(cancellationToken);
            }

            return new ClaimResult(new DeliveryClaim(id, message, destination, attempts + 1, lease), null);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    public async Task CompleteAsync(DeliveryClaim claim, DeliveryOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentNullException.ThrowIfNull(outcome);
        try
        {
            await using var scope = await BeginWriteAsync(cancellationToken);
            var at = outcome.At.ToUnixTimeMilliseconds();
            await ExecuteAsync(scope.Connection, scope.Transaction,
                "UPDATE message_delivery SET state = @state, next_attempt = @next, last_error = @error, response = @response, updated = @at WHERE id = @id", cancellationToken,
                ("@state", outcome.State), ("@next", (outcome.NextAttempt ?? outcome.At).ToUnixTimeMilliseconds()), ("@error", outcome.Error),
                ("@response", outcome.Response), ("@at", at), ("@id", claim.DeliveryId));
            await UpdateMessageStateAsync(scope.Connection, scope.Transaction, claim.Message.Id, at, cancellationToken);
            await scope.Transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            await claim.DisposeAsync();
        }
    }

    /// <summary>A message is in error once any destination dead-lettered it, sent once all took it, queued otherwise.</summary>
    private static Task UpdateMessageStateAsync(DbConnection connection, DbTransaction transaction, long messageId, long now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            "UPDATE message SET state = CASE " +
            "WHEN EXISTS (SELECT 1 FROM message_delivery d WHERE d.message_id = @m AND d.state = 'dead-letter') THEN 'error' " +
            "WHEN EXISTS (SELECT 1 FROM message_delivery d WHERE d.message_id = @m AND d.state <> 'sent') THEN 'queued' " +
            "ELSE 'sent' END, updated = @now WHERE id = @m", cancellationToken, ("@m", messageId), ("@now", now));
}
