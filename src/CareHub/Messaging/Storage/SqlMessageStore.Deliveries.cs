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

    /// <summary>An earlier delivery of the same destination and partition that is not finished: it holds <c>d</c> back.</summary>
    private const string EarlierInPartition =
        "SELECT 1 FROM message_delivery e WHERE e.channel = d.channel AND e.destination = d.destination AND e.partition_key = d.partition_key " +
        "AND e.id < d.id AND e.state IN ('queued', 'error', 'dead-letter')";

    public async Task<ClaimResult> ClaimNextAsync(string channel, string destination, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lease = await AcquireRouteAsync(channel, destination, cancellationToken);
        if (lease is null)
        {
            return new ClaimResult(null, null);
        }

        try
        {
            long id = 0, messageId = 0;
            int attempts = 0;
            var found = false;
            var ms = now.ToUnixTimeMilliseconds();
            await using (var connection = await OpenAsync(cancellationToken))
            {
                // The oldest due delivery that heads its partition: nothing earlier of the same patient still waits,
                // retries or sits in dead-letter. Other partitions' failures are passed by.
                await using (var head = Command(connection, null,
                    "SELECT d.id, d.message_id, d.attempts FROM message_delivery d WHERE d.channel = @c AND d.destination = @d AND d.state IN ('queued', 'error') " +
                    "AND d.next_attempt <= @now AND NOT EXISTS (" + EarlierInPartition + ") ORDER BY d.id LIMIT 1",
                    ("@c", channel), ("@d", destination), ("@now", ms)))
                await using (var reader = await head.ExecuteReaderAsync(cancellationToken))
                {
                    if (await reader.ReadAsync(cancellationToken))
                    {
                        (id, messageId, attempts, found) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), true);
                    }
                }

                if (!found)
                {
                    // Nothing can go now: the earliest retry among the partitions' heads is when to look again.
                    var due = await ScalarAsync(connection, null,
                        "SELECT MIN(d.next_attempt) FROM message_delivery d WHERE d.channel = @c AND d.destination = @d AND d.state IN ('queued', 'error') " +
                        "AND d.next_attempt > @now AND NOT EXISTS (" + EarlierInPartition + ")", cancellationToken,
                        ("@c", channel), ("@d", destination), ("@now", ms));
                    await lease.DisposeAsync();
                    return new ClaimResult(null, due is null or DBNull ? null : Time(Convert.ToInt64(due, CultureInfo.InvariantCulture)));
                }
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

    /// <summary>A message is in error once any destination dead-lettered it (or it was set aside), sent once all took it, queued otherwise.</summary>
    private static Task UpdateMessageStateAsync(DbConnection connection, DbTransaction transaction, long messageId, long now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            "UPDATE message SET state = CASE " +
            "WHEN EXISTS (SELECT 1 FROM message_delivery d WHERE d.message_id = @m AND d.state IN ('dead-letter', 'set-aside')) THEN 'error' " +
            "WHEN EXISTS (SELECT 1 FROM message_delivery d WHERE d.message_id = @m AND d.state <> 'sent') THEN 'queued' " +
            "ELSE 'sent' END, updated = @now WHERE id = @m", cancellationToken, ("@m", messageId), ("@now", now));
}
