using CareHub.Storage;
using System.Data.Common;
using System.Globalization;
using System.Text;

namespace CareHub.Messaging.Storage;

/// <summary>
/// The SQL shared by the SQLite and PostgreSQL message stores. Providers override connections, write transactions,
/// the claim of a destination's queue and migrations' locking. The schema version lives in its own table,
/// <c>message_schema_version</c>, so the message store's migrations never collide with the record store's.
/// </summary>
public abstract partial class SqlMessageStore : IMessageStore
{
    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 1;

    public abstract string Backend { get; }

    /// <summary>Folder (resource name prefix) of this provider's numbered migration scripts.</summary>
    protected abstract string MigrationPrefix { get; }

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a write transaction; SQLite takes its single-writer lock here.</summary>
    protected abstract Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken);

    /// <summary>The suffix that makes an INSERT skip a row whose unique key exists.</summary>
    protected virtual string OnConflictDoNothing => " ON CONFLICT DO NOTHING";

    /// <summary>True when the exception is a unique-key violation (a duplicate message that raced ours).</summary>
    protected abstract bool IsUniqueViolation(DbException exception);

    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();

    // ---- migrations ----------------------------------------------------------------------------------------------

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await SqlMigrations.MigrateStoreAsync(connection, PrepareForMigrationAsync, FinishMigrationAsync, "message_schema_version", SchemaVersion, MigrationPrefix,
            $"{Backend} message store", message => new MessageSchemaVersionException(message), cancellationToken);
    }

    // ---- intake --------------------------------------------------------------------------------------------------

    public async Task<InsertResult> InsertAsync(NewMessage message, CancellationToken cancellationToken)
    {
        if (message.DedupKey is { } key && await FindDuplicateAsync(message.Channel, key, cancellationToken) is { } existing)
        {
            return new InsertResult(existing.Id, existing.Uid, true, existing.Response);
        }

        try
        {
            await using (var scope = await BeginWriteAsync(cancellationToken))
            {
                var inserted = await InsertCoreAsync(scope, message, cancellationToken);
                if (inserted is not null)
                {
                    await scope.Transaction.CommitAsync(cancellationToken);
                    return inserted;
                }
            }
        }
        catch (DbException e) when (message.DedupKey is not null && IsUniqueViolation(e))
        {
            // A resend raced its original on another connection; the original won.
        }

        var winner = await FindDuplicateAsync(message.Channel, message.DedupKey!, cancellationToken)
            ?? throw new InvalidOperationException("A duplicate message was reported but cannot be found.");
        return new InsertResult(winner.Id, winner.Uid, true, winner.Response);
    }

    /// <summary>Inserts the message and its deliveries; null when the dedup key already exists.</summary>
    private async Task<InsertResult?> InsertCoreAsync(SqlWriteScope scope, NewMessage message, CancellationToken cancellationToken)
    {
        var uid = Guid.NewGuid().ToString("N");
        var received = message.Received.ToUnixTimeMilliseconds();
        var p = message.Processing;
        object? idValue;
        await using (var insert = Command(scope.Connection, scope.Transaction,
            "INSERT INTO message (uid, channel, received, sender, control_id, message_type, trigger_event, raw, transformed, transformed_type, response, state, error, dedup_key, updated) " +
            "VALUES (@uid, @channel, @received, @sender, @control, @type, @trigger, @raw, @transformed, @ttype, @response, @state, @error, @dedup, @received)" +
            (message.DedupKey is null ? string.Empty : OnConflictDoNothing) + " RETURNING id",
            ("@uid", uid), ("@channel", message.Channel), ("@received", received), ("@sender", message.Sender), ("@control", message.ControlId),
            ("@type", message.MessageType), ("@trigger", message.TriggerEvent), ("@raw", message.Raw), ("@transformed", p.Transformed),
            ("@ttype", p.TransformedType), ("@response", message.Response), ("@state", p.State), ("@error", p.Error), ("@dedup", message.DedupKey)))
        {
            idValue = await insert.ExecuteScalarAsync(cancellationToken);
        }

        if (idValue is null or DBNull)
        {
            return null;
        }

        var id = Convert.ToInt64(idValue, CultureInfo.InvariantCulture);
        await QueueDeliveriesAsync(scope, id, message.Channel, p.Destinations, received, cancellationToken);
        return new InsertResult(id, uid, false, message.Response);
    }

    private static async Task QueueDeliveriesAsync(SqlWriteScope scope, long messageId, string channel, IReadOnlyList<string> destinations, long now, CancellationToken cancellationToken)
    {
        if (destinations.Count == 0)
        {
            return;
        }

        await using var command = Command(scope.Connection, scope.Transaction,
            "INSERT INTO message_delivery (message_id, channel, destination, state, attempts, next_attempt, updated) VALUES (@m, @c, @d, @s, 0, @now, @now)",
            ("@m", messageId), ("@c", channel), ("@d", null), ("@s", DeliveryStates.Queued), ("@now", now));
        foreach (var destination in destinations)
        {
            command.Parameters["@d"].Value = destination;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public async Task<StoredMessage?> FindDuplicateAsync(string channel, string dedupKey, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadMessageAsync(connection, null, "m.channel = @channel AND m.dedup_key = @key", cancellationToken, ("@channel", channel), ("@key", dedupKey));
    }

    public async Task<bool> AppendFromFeedAsync(string channel, long from, long to, IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await EnsureChannelAsync(scope.Connection, scope.Transaction, channel, cancellationToken);
        await using (var advance = Command(scope.Connection, scope.Transaction,
            "UPDATE message_channel SET feed_position = @to WHERE channel = @c AND feed_position = @from", ("@to", to), ("@c", channel), ("@from", from)))
        {
            if (await advance.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return false;
            }
        }

        foreach (var message in messages)
        {
            await InsertCoreAsync(scope, message with { DedupKey = null }, cancellationToken);
        }

        await scope.Transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<long> GetFeedPositionAsync(string channel, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var value = await ScalarAsync(connection, null, "SELECT feed_position FROM message_channel WHERE channel = @c", cancellationToken, ("@c", channel));
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    // ---- reading -------------------------------------------------------------------------------------------------

    private const string MessageColumns =
        "m.id, m.uid, m.channel, m.received, m.sender, m.control_id, m.message_type, m.trigger_event, m.raw, m.transformed, m.transformed_type, m.response, m.state, m.error, m.updated";

    public async Task<StoredMessage?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadMessageAsync(connection, null, "m.id = @id", cancellationToken, ("@id", id));
    }

    private protected static async Task<StoredMessage?> ReadMessageAsync(DbConnection connection, DbTransaction? transaction, string where, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        StoredMessage message;
        await using (var command = Command(connection, transaction, $"SELECT {MessageColumns} FROM message m WHERE {where}", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            message = new StoredMessage(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), Time(reader.GetInt64(3)), reader.GetString(4),
                Text(reader, 5), Text(reader, 6), Text(reader, 7), (byte[])reader.GetValue(8), Text(reader, 9), Text(reader, 10),
                Text(reader, 11), reader.GetString(12), Text(reader, 13), Time(reader.GetInt64(14)), []);
        }

        var deliveries = new List<StoredDelivery>();
        await using (var command = Command(connection, transaction,
            "SELECT id, destination, state, attempts, next_attempt, last_error, response, updated FROM message_delivery WHERE message_id = @id ORDER BY id", ("@id", message.Id)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                deliveries.Add(new StoredDelivery(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), Time(reader.GetInt64(4)),
                    Text(reader, 5), Text(reader, 6), Time(reader.GetInt64(7))));
            }
        }

        return message with { Deliveries = deliveries };
    }

    public async Task<IReadOnlyList<MessageSummary>> SearchAsync(MessageQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        void Add(string clause, string name, object? value)
        {
            where.Add(clause);
            parameters.Add((name, value));
        }

        if (query.Channel is not null)
        {
            Add("channel = @channel", "@channel", query.Channel);
        }

        if (query.State is not null)
        {
            Add("state = @state", "@state", query.State);
        }

        if (query.Type is { Length: > 0 } type)
        {
            var caret = type.IndexOf('^', StringComparison.Ordinal);
            Add("message_type = @type", "@type", caret < 0 ? type : type[..caret]);
            if (caret >= 0 && caret + 1 < type.Length)
            {
                Add("trigger_event = @trigger", "@trigger", type[(caret + 1)..]);
            }
        }

        if (query.From is { } from)
        {
            Add("received >= @from", "@from", from.ToUnixTimeMilliseconds());
        }

        if (query.To is { } to)
        {
            Add("received < @to", "@to", to.ToUnixTimeMilliseconds());
        }

        if (query.ControlId is not null)
        {
            Add("control_id = @control", "@control", query.ControlId);
        }

        if (query.BeforeId is { } before)
        {
            Add("id < @before", "@before", before);
        }

        parameters.Add(("@limit", Math.Clamp(query.Count, 1, 1000)));
        var sql = "SELECT id, channel, received, sender, control_id, message_type, trigger_event, state, error FROM message"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty) + " ORDER BY id DESC LIMIT @limit";
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<MessageSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new MessageSummary(reader.GetInt64(0), reader.GetString(1), Time(reader.GetInt64(2)), reader.GetString(3), Text(reader, 4), Text(reader, 5),
                Text(reader, 6), reader.GetString(7), Text(reader, 8)));
        }

        return list;
    }

    public async Task<IReadOnlyList<ChannelStatus>> ChannelStatusAsync(CancellationToken cancellationToken)
    {
        var counts = new SortedDictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        var paused = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await OpenAsync(cancellationToken);
        await using (var command = Command(connection, null, "SELECT channel, state, COUNT(*) FROM message GROUP BY channel, state"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var channel = reader.GetString(0);
                if (!counts.TryGetValue(channel, out var byState))
                {
                    counts[channel] = byState = new Dictionary<string, long>(StringComparer.Ordinal);
                }

                byState[reader.GetString(1)] = reader.GetInt64(2);
            }
        }

        await using (var command = Command(connection, null, "SELECT channel, paused FROM message_channel"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                counts.TryAdd(reader.GetString(0), new Dictionary<string, long>(StringComparer.Ordinal));
                if (reader.GetInt32(1) != 0)
                {
                    paused.Add(reader.GetString(0));
                }
            }
        }

        return counts.Select(c => new ChannelStatus(c.Key, paused.Contains(c.Key), c.Value)).ToList();
    }

    // ---- channels ------------------------------------------------------------------------------------------------

    public async Task SetPausedAsync(string channel, bool paused, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        await EnsureChannelAsync(scope.Connection, scope.Transaction, channel, cancellationToken);
        await ExecuteAsync(scope.Connection, scope.Transaction, "UPDATE message_channel SET paused = @p WHERE channel = @c", cancellationToken,
            ("@p", paused ? 1 : 0), ("@c", channel));
        await scope.Transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> IsPausedAsync(string channel, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var value = await ScalarAsync(connection, null, "SELECT paused FROM message_channel WHERE channel = @c", cancellationToken, ("@c", channel));
        return value is not null and not DBNull && Convert.ToInt32(value, CultureInfo.InvariantCulture) != 0;
    }

    private Task EnsureChannelAsync(DbConnection connection, DbTransaction transaction, string channel, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "INSERT INTO message_channel (channel, paused, feed_position) VALUES (@c, 0, 0)" + OnConflictDoNothing, cancellationToken, ("@c", channel));

    // ---- reprocess and purge -------------------------------------------------------------------------------------

    public async Task<bool> ReprocessAsync(long id, ProcessedMessage processing, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var ms = now.ToUnixTimeMilliseconds();
        var channel = await ScalarAsync(scope.Connection, scope.Transaction, "SELECT channel FROM message WHERE id = @id", cancellationToken, ("@id", id));
        if (channel is null or DBNull)
        {
            return false;
        }

        await ExecuteAsync(scope.Connection, scope.Transaction, "DELETE FROM message_delivery WHERE message_id = @id", cancellationToken, ("@id", id));
        await ExecuteAsync(scope.Connection, scope.Transaction,
            "UPDATE message SET state = @state, transformed = @transformed, transformed_type = @ttype, error = @error, updated = @now WHERE id = @id", cancellationToken,
            ("@state", processing.State), ("@transformed", processing.Transformed), ("@ttype", processing.TransformedType), ("@error", processing.Error), ("@now", ms), ("@id", id));
        await QueueDeliveriesAsync(scope, id, (string)channel, processing.Destinations, ms, cancellationToken);
        await scope.Transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        const string Purgeable = "m.received < @before AND m.state IN ('filtered', 'transformed', 'sent', 'error') " +
            "AND NOT EXISTS (SELECT 1 FROM message_delivery p WHERE p.message_id = m.id AND p.state IN ('queued', 'error'))";
        await using var scope = await BeginWriteAsync(cancellationToken);
        var cut = before.ToUnixTimeMilliseconds();
        await ExecuteAsync(scope.Connection, scope.Transaction,
            $"DELETE FROM message_delivery WHERE message_id IN (SELECT m.id FROM message m WHERE {Purgeable})", cancellationToken, ("@before", cut));
        int removed;
        await using (var delete = Command(scope.Connection, scope.Transaction, $"DELETE FROM message WHERE id IN (SELECT m.id FROM message m WHERE {Purgeable})", ("@before", cut)))
        {
            removed = await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        await scope.Transaction.CommitAsync(cancellationToken);
        return removed;
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private protected static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private protected static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters) =>
        SqlCommands.Command(connection, transaction, sql, parameters);

    protected static Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        SqlCommands.ExecuteAsync(connection, transaction, sql, cancellationToken, parameters);

    protected static Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        SqlCommands.ScalarAsync(connection, transaction, sql, cancellationToken, parameters);

    /// <summary>Decodes stored raw bytes for display: UTF-8 when valid, else ISO 8859-1 (every byte a character).</summary>
    public static string DisplayText(byte[] raw)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(raw);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(raw);
        }
    }
}
