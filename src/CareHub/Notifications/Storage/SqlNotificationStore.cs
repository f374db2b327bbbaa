using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using CareHub.Storage;

namespace CareHub.Notifications.Storage;

/// <summary>
/// The SQL shared by the SQLite and PostgreSQL notification stores. Providers override connections, write transactions,
/// the claim of a subscription's queue and migrations' locking. The schema version lives in its own table,
/// <c>notify_schema_version</c>, so the notification store's migrations never collide with the record's or the broker's.
/// </summary>
public abstract partial class SqlNotificationStore : INotificationStore
{
    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 1;

    private const string SubscriptionColumns =
        "id, version, resource_type, criteria, endpoint, headers, payload, principal, state, next_event, failures, failing_since, next_attempt, last_error, last_delivered";

    public abstract string Backend { get; }

    /// <summary>Folder (resource name prefix) of this provider's numbered migration scripts.</summary>
    protected abstract string MigrationPrefix { get; }

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a write transaction; SQLite takes its single-writer lock here.</summary>
    protected abstract Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken);

    public abstract Task<IAsyncDisposable?> ClaimAsync(string subscriptionId, CancellationToken cancellationToken);

    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await SqlMigrations.MigrateStoreAsync(connection, PrepareForMigrationAsync, FinishMigrationAsync, "notify_schema_version", SchemaVersion, MigrationPrefix,
            $"{Backend} notification store", message => new InvalidOperationException(message), cancellationToken);
    }

    // ---- subscribers and the feed position -------------------------------------------------------------------------

    public async Task RegisterSubscriberAsync(string subscriptionId, int version, string principal, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        // A version that rolled back may have left its row; the version written now replaces it.
        await ExecuteAsync(scope, "DELETE FROM notify_subscriber WHERE subscription_id = @id AND version = @v", cancellationToken, ("@id", subscriptionId), ("@v", version));
        await ExecuteAsync(scope, "INSERT INTO notify_subscriber (subscription_id, version, principal, created) VALUES (@id, @v, @p, @now)", cancellationToken,
            ("@id", subscriptionId), ("@v", version), ("@p", principal), ("@now", now.ToUnixTimeMilliseconds()));
        await scope.Transaction.CommitAsync(cancellationToken);
    }

    public async Task<string?> GetSubscriberAsync(string subscriptionId, int version, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlCommands.ScalarAsync(connection, null, "SELECT principal FROM notify_subscriber WHERE subscription_id = @id AND version = @v", cancellationToken,
            ("@id", subscriptionId), ("@v", version)) as string;
    }

    public async Task<long?> GetFeedPositionAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var value = await SqlCommands.ScalarAsync(connection, null, "SELECT position FROM notify_feed WHERE name = @n", cancellationToken, ("@n", name));
        return value is null or DBNull ? null : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    public async Task StartFeedPositionAsync(string name, long position, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope, "INSERT INTO notify_feed (name, position) VALUES (@n, @p) ON CONFLICT DO NOTHING", cancellationToken, ("@n", name), ("@p", position));
        await scope.Transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> ApplyFeedBatchAsync(string name, long from, long to, IReadOnlyList<SubscriptionChange> changes, IReadOnlyList<NewNotification> notifications,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ms = now.ToUnixTimeMilliseconds();
        await using var scope = await BeginWriteAsync(cancellationToken);
        await using (var advance = SqlCommands.Command(scope.Connection, scope.Transaction,
            "UPDATE notify_feed SET position = @to WHERE name = @n AND position = @from", ("@to", to), ("@n", name), ("@from", from)))
        {
            if (await advance.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false;
            }
        }

        foreach (var change in changes)
        {
            await ApplyChangeAsync(scope, change, ms, cancellationToken);
        }

        foreach (var notification in notifications)
        {
            await EnqueueAsync(scope, notification.SubscriptionId, NotificationKinds.Event, notification.FeedPosition, notification.ResourceType,
                notification.ResourceId, notification.ResourceVersion, ms, cancellationToken);
        }

        await scope.Transaction.CommitAsync(cancellationToken);
        return true;
    }

    private async Task ApplyChangeAsync(SqlWriteScope scope, SubscriptionChange change, long now, CancellationToken cancellationToken)
    {
        if (change.Settings is not { } s)
        {
            await ExecuteAsync(scope, "UPDATE notify_subscription SET state = @off, updated = @now WHERE id = @id", cancellationToken,
                ("@off", SubscriptionStates.Off), ("@now", now), ("@id", change.Id));
            return;
        }

        var state = change.Handshake ? SubscriptionStates.Requested : SubscriptionStates.Off;
        var headers = JsonSerializer.Serialize(s.Headers);
        // New settings start a new delivery state: no failures, due now. The queue and its numbers carry on, so the log
        // and event numbers stay one sequence for the life of the Subscription.
        await ExecuteAsync(scope,
            "INSERT INTO notify_subscription (id, version, resource_type, criteria, endpoint, headers, payload, principal, state, next_seq, next_event, failures, failing_since, next_attempt, last_error, last_delivered, updated) " +
            "VALUES (@id, @v, @type, @criteria, @endpoint, @headers, @payload, @principal, @state, 1, 1, 0, NULL, @now, NULL, NULL, @now) " +
            "ON CONFLICT (id) DO UPDATE SET version = @v, resource_type = @type, criteria = @criteria, endpoint = @endpoint, headers = @headers, payload = @payload, " +
            "principal = @principal, state = @state, failures = 0, failing_since = NULL, next_attempt = @now, last_error = NULL, updated = @now", cancellationToken,
            ("@id", s.Id), ("@v", s.Version), ("@type", s.ResourceType), ("@criteria", s.Criteria), ("@endpoint", s.Endpoint), ("@headers", headers),
            ("@payload", s.Payload), ("@principal", s.Principal), ("@state", state), ("@now", now));
        await ExecuteAsync(scope, "INSERT INTO notify_lock (subscription_id) VALUES (@id) ON CONFLICT DO NOTHING", cancellationToken, ("@id", s.Id));
        if (change.Handshake)
        {
            // Whatever was queued for the old settings waits behind the handshake of the new ones.
            await EnqueueAsync(scope, s.Id, NotificationKinds.Handshake, 0, null, null, null, now, cancellationToken);
        }
    }

    private static async Task EnqueueAsync(SqlWriteScope scope, string subscriptionId, string kind, long position, string? type, string? id, int? version, long now,
        CancellationToken cancellationToken)
    {
        var isEvent = kind == NotificationKinds.Event;
        long seq, number = 0;
        await using (var next = SqlCommands.Command(scope.Connection, scope.Transaction,
            "UPDATE notify_subscription SET next_seq = next_seq + 1" + (isEvent ? ", next_event = next_event + 1" : string.Empty) +
            " WHERE id = @id RETURNING next_seq - 1, next_event" + (isEvent ? " - 1" : string.Empty), ("@id", subscriptionId)))
        await using (var reader = await next.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return;
            }

            seq = reader.GetInt64(0);
            number = reader.GetInt64(1);
        }

        await ExecuteAsync(scope,
            "INSERT INTO notify_event (subscription_id, seq, event_number, kind, feed_position, resource_type, resource_id, resource_version, state, attempts, created, sent) " +
            "VALUES (@id, @seq, @number, @kind, @position, @type, @rid, @rv, 'queued', 0, @now, NULL)", cancellationToken,
            ("@id", subscriptionId), ("@seq", seq), ("@number", isEvent ? number : null), ("@kind", kind), ("@position", position), ("@type", type), ("@rid", id),
            ("@rv", version), ("@now", now));
    }

    // ---- reading subscriptions -------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<NotificationSubscription>> MatchingSubscriptionsAsync(IReadOnlyCollection<string> resourceTypes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resourceTypes);
        if (resourceTypes.Count == 0)
        {
            return [];
        }

        var names = resourceTypes.Select((_, i) => "@t" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var parameters = resourceTypes.Select((t, i) => (names[i], (object?)t)).Append(("@off", SubscriptionStates.Off)).ToArray();
        return await ReadSubscriptionsAsync($"WHERE resource_type IN ({string.Join(", ", names)}) AND state <> @off ORDER BY id", cancellationToken, parameters);
    }

    public async Task<NotificationSubscription?> GetSubscriptionAsync(string id, CancellationToken cancellationToken) =>
        (await ReadSubscriptionsAsync("WHERE id = @id", cancellationToken, ("@id", id))).SingleOrDefault();

    private async Task<IReadOnlyList<NotificationSubscription>> ReadSubscriptionsAsync(string where, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null, $"SELECT {SubscriptionColumns} FROM notify_subscription {where}", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<NotificationSubscription>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var settings = new SubscriptionSettings(reader.GetString(0), (int)reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                JsonSerializer.Deserialize<List<string>>(reader.GetString(5)) ?? [], reader.GetString(6), reader.GetString(7));
            list.Add(new NotificationSubscription(settings, reader.GetString(8), reader.GetInt64(9), (int)reader.GetInt64(10), OptionalTime(reader, 11),
                Time(reader.GetInt64(12)), Text(reader, 13), OptionalTime(reader, 14)));
        }

        return list;
    }

    public async Task<IReadOnlyList<SubscriptionQueueStatus>> StatusAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT s.id, s.state, COUNT(e.seq), MIN(e.created), s.failures, s.failing_since, s.last_error, s.last_delivered, s.next_event - 1 " +
            "FROM notify_subscription s LEFT JOIN notify_event e ON e.subscription_id = s.id AND e.state = 'queued' " +
            "GROUP BY s.id, s.state, s.failures, s.failing_since, s.last_error, s.last_delivered, s.next_event ORDER BY s.id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<SubscriptionQueueStatus>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var oldest = OptionalTime(reader, 3);
            list.Add(new SubscriptionQueueStatus(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), oldest,
                oldest is { } o && o < now ? now - o : TimeSpan.Zero, (int)reader.GetInt64(4), OptionalTime(reader, 5), Text(reader, 6), OptionalTime(reader, 7),
                reader.GetInt64(8)));
        }

        return list;
    }

    // ---- delivery --------------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<string>> DueSubscriptionsAsync(DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT s.id FROM notify_subscription s WHERE s.state <> @off AND s.next_attempt <= @now " +
            "AND EXISTS (SELECT 1 FROM notify_event e WHERE e.subscription_id = s.id AND e.state = 'queued') ORDER BY s.next_attempt, s.id LIMIT @max",
            ("@off", SubscriptionStates.Off), ("@now", now.ToUnixTimeMilliseconds()), ("@max", max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }

    public async Task<QueuedNotification?> HeadAsync(string subscriptionId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT seq, event_number, kind, feed_position, resource_type, resource_id, resource_version, attempts, created FROM notify_event " +
            "WHERE subscription_id = @id AND state = 'queued' ORDER BY seq LIMIT 1", ("@id", subscriptionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new QueuedNotification(subscriptionId, reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.GetString(2), reader.GetInt64(3),
            Text(reader, 4), Text(reader, 5), reader.IsDBNull(6) ? null : (int)reader.GetInt64(6), (int)reader.GetInt64(7), Time(reader.GetInt64(8)));
    }

    public async Task CompleteAsync(QueuedNotification notification, DeliveryResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        ArgumentNullException.ThrowIfNull(result);
        var now = result.Now.ToUnixTimeMilliseconds();
        await using var scope = await BeginWriteAsync(cancellationToken);
        await ExecuteAsync(scope,
            "UPDATE notify_event SET attempts = attempts + 1, state = @state, sent = @sent WHERE subscription_id = @id AND seq = @seq", cancellationToken,
            ("@state", !result.Delivered ? "queued" : result.Error is null ? "sent" : "withheld"), ("@sent", result.Delivered ? now : null), ("@id", notification.SubscriptionId), ("@seq", notification.Seq));
        await ExecuteAsync(scope,
            "INSERT INTO notify_attempt (subscription_id, seq, at, outcome, status_code, error) VALUES (@id, @seq, @now, @outcome, @code, @error)", cancellationToken,
            ("@id", notification.SubscriptionId), ("@seq", notification.Seq), ("@now", now), ("@outcome", !result.Delivered ? "failed" : result.Error is null ? "delivered" : "withheld"),
            ("@code", result.StatusCode), ("@error", result.Error));
        // A subscription turned off meanwhile stays off.
        await ExecuteAsync(scope,
            "UPDATE notify_subscription SET state = CASE WHEN state = @off THEN state ELSE @state END, failures = @failures, failing_since = @since, next_attempt = @next, " +
            "last_error = @error, last_delivered = CASE WHEN @delivered = 1 THEN @now ELSE last_delivered END, updated = @now WHERE id = @id", cancellationToken,
            ("@off", SubscriptionStates.Off), ("@state", result.State), ("@failures", result.Failures), ("@since", result.FailingSince?.ToUnixTimeMilliseconds()),
            ("@next", result.NextAttempt.ToUnixTimeMilliseconds()), ("@error", result.Delivered ? null : result.Error), ("@delivered", result.Delivered ? 1 : 0),
            ("@now", now), ("@id", notification.SubscriptionId));
        await scope.Transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<LoggedNotification>> NotificationsAsync(string subscriptionId, int count, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT seq, event_number, kind, resource_type, resource_id, resource_version, state, attempts, created, sent FROM notify_event " +
            "WHERE subscription_id = @id ORDER BY seq DESC LIMIT @count", ("@id", subscriptionId), ("@count", Math.Clamp(count, 1, 1000)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<LoggedNotification>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new LoggedNotification(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.GetString(2), Text(reader, 3), Text(reader, 4),
                reader.IsDBNull(5) ? null : (int)reader.GetInt64(5), reader.GetString(6), (int)reader.GetInt64(7), Time(reader.GetInt64(8)), OptionalTime(reader, 9)));
        }

        return list;
    }

    public async Task<IReadOnlyList<DeliveryAttempt>> AttemptsAsync(string subscriptionId, int count, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null,
            "SELECT seq, at, outcome, status_code, error FROM notify_attempt WHERE subscription_id = @id ORDER BY id DESC LIMIT @count",
            ("@id", subscriptionId), ("@count", Math.Clamp(count, 1, 1000)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<DeliveryAttempt>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new DeliveryAttempt(reader.GetInt64(0), Time(reader.GetInt64(1)), reader.GetString(2), reader.IsDBNull(3) ? null : (int)reader.GetInt64(3), Text(reader, 4)));
        }

        return list;
    }

    public async Task<int> RedeliverAsync(string subscriptionId, long fromEvent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        int queued;
        await using (var command = SqlCommands.Command(scope.Connection, scope.Transaction,
            "UPDATE notify_event SET state = 'queued', sent = NULL WHERE subscription_id = @id AND event_number >= @from AND state = 'sent'",
            ("@id", subscriptionId), ("@from", fromEvent)))
        {
            queued = await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await ExecuteAsync(scope, "UPDATE notify_subscription SET next_attempt = @now WHERE id = @id", cancellationToken,
            ("@now", now.ToUnixTimeMilliseconds()), ("@id", subscriptionId));
        await scope.Transaction.CommitAsync(cancellationToken);
        return queued;
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DateTimeOffset? OptionalTime(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static Task ExecuteAsync(SqlWriteScope scope, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        SqlCommands.ExecuteAsync(scope.Connection, scope.Transaction, sql, cancellationToken, parameters);
}
