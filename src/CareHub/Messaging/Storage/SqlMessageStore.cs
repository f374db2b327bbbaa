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
    public const int SchemaVersion = 2;

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
        var since = message.ResendSince ?? DateTimeOffset.MinValue;

        // Read before the write lock is taken, so that intake holds it no longer than before: what the channel holds
        // of this control id (a concurrent message with the same id may go unflagged; the flag is advice, not a key).
        // The same read says whether this is a resend, so a new message costs one look-up, not two.
        var history = await ControlHistoryAsync(message, since, cancellationToken);
        if (message.DedupKey is { } key && (history.Resent || message.ControlKey is null)
            && await FindDuplicateAsync(message.Channel, key, since, cancellationToken) is { } existing)
        {
            return new InsertResult(existing.Id, existing.Uid, true, existing.Response);
        }

        try
        {
            await using (var scope = await BeginWriteAsync(cancellationToken))
            {
                var inserted = await InsertCoreAsync(scope, message, history, cancellationToken);
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

        var winner = await FindDuplicateAsync(message.Channel, message.DedupKey!, since, cancellationToken)
            ?? throw new InvalidOperationException("A duplicate message was reported but cannot be found.");
        return new InsertResult(winner.Id, winner.Uid, true, winner.Response);
    }

    /// <summary>
    /// What the channel already holds of a message's control id: another content under it, an original too old to be
    /// resent, and an original this message is a resend of.
    /// </summary>
    private readonly record struct ControlHistory(bool Reused, bool ExpiredOriginal, bool Resent);

    private async Task<ControlHistory> ControlHistoryAsync(NewMessage message, DateTimeOffset since, CancellationToken cancellationToken)
    {
        if (message.ControlKey is not { } controlKey)
        {
            return default;
        }

        bool reused = false, expired = false, resent = false;
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT dedup_key, content_hash, received FROM message WHERE channel = @c AND control_key = @k",
            ("@c", message.Channel), ("@k", controlKey));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            reused |= Text(reader, 1) is not { } hash || hash != message.ContentHash;
            var original = message.DedupKey is not null && Text(reader, 0) == message.DedupKey;
            expired |= original && reader.GetInt64(2) < since.ToUnixTimeMilliseconds();
            resent |= original && reader.GetInt64(2) >= since.ToUnixTimeMilliseconds();
        }

        return new ControlHistory(reused, expired, resent);
    }

    /// <summary>Inserts the message and its deliveries; null when the dedup key already exists.</summary>
    private async Task<InsertResult?> InsertCoreAsync(SqlWriteScope scope, NewMessage message, ControlHistory history, CancellationToken cancellationToken)
    {
        var uid = Guid.NewGuid().ToString("N");
        var received = message.Received.ToUnixTimeMilliseconds();
        var p = message.Processing;
        var flags = new List<string>(p.Flags);
        if (history.Reused)
        {
            flags.Add(MessageFlags.ControlIdReused);
        }

        if (history.ExpiredOriginal)
        {
            // The original of this key is older than the resend window: this is not a resend, and the key moves to it.
            await ExecuteAsync(scope.Connection, scope.Transaction,
                "UPDATE message SET dedup_key = NULL WHERE channel = @c AND dedup_key = @k AND received < @since", cancellationToken,
                ("@c", message.Channel), ("@k", message.DedupKey), ("@since", (message.ResendSince ?? DateTimeOffset.MinValue).ToUnixTimeMilliseconds()));
        }

        object? idValue;
        await using (var insert = Command(scope.Connection, scope.Transaction,
            "INSERT INTO message (uid, channel, received, sender, control_id, message_type, trigger_event, raw, transformed, transformed_type, response, state, error, dedup_key, updated, " +
            "partition_key, control_key, content_hash, flags) " +
            "VALUES (@uid, @channel, @received, @sender, @control, @type, @trigger, @raw, @transformed, @ttype, @response, @state, @error, @dedup, @received, @partition, @ckey, @hash, @flags)" +
            (message.DedupKey is null ? string.Empty : OnConflictDoNothing) + " RETURNING id",
            ("@uid", uid), ("@channel", message.Channel), ("@received", received), ("@sender", message.Sender), ("@control", message.ControlId),
            ("@type", message.MessageType), ("@trigger", message.TriggerEvent), ("@raw", message.Raw), ("@transformed", p.Transformed),
            ("@ttype", p.TransformedType), ("@response", message.Response), ("@state", p.State), ("@error", p.Error), ("@dedup", message.DedupKey),
            ("@partition", p.PartitionKey), ("@ckey", message.ControlKey), ("@hash", message.ContentHash), ("@flags", FlagText(flags))))
        {
            idValue = await insert.ExecuteScalarAsync(cancellationToken);
        }

        if (idValue is null or DBNull)
        {
            return null;
        }

        var id = Convert.ToInt64(idValue, CultureInfo.InvariantCulture);
        await QueueDeliveriesAsync(scope, id, message.Channel, p, received, cancellationToken);
        return new InsertResult(id, uid, false, message.Response);
    }

    private static async Task QueueDeliveriesAsync(SqlWriteScope scope, long messageId, string channel, ProcessedMessage processing, long now, CancellationToken cancellationToken)
    {
        if (processing.Destinations.Count == 0)
        {
            return;
        }

        await using var command = Command(scope.Connection, scope.Transaction,
            "INSERT INTO message_delivery (message_id, channel, destination, state, attempts, next_attempt, updated, partition_key) VALUES (@m, @c, @d, @s, 0, @now, @now, @p)",
            ("@m", messageId), ("@c", channel), ("@d", null), ("@s", DeliveryStates.Queued), ("@now", now), ("@p", processing.PartitionKey));
        foreach (var destination in processing.Destinations)
        {
            command.Parameters["@d"].Value = destination;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Flags as stored: space-separated, null when there are none.</summary>
    private static string? FlagText(IEnumerable<string> flags)
    {
        var text = string.Join(' ', flags.Distinct(StringComparer.Ordinal));
        return text.Length == 0 ? null : text;
    }

    private static IReadOnlyList<string> Flags(string? text) =>
        text is null ? [] : text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public async Task<StoredMessage?> FindDuplicateAsync(string channel, string dedupKey, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadMessageAsync(connection, null, "m.channel = @channel AND m.dedup_key = @key AND m.received >= @since", cancellationToken,
            ("@channel", channel), ("@key", dedupKey), ("@since", since == DateTimeOffset.MinValue ? long.MinValue : since.ToUnixTimeMilliseconds()));
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
            await InsertCoreAsync(scope, message with { DedupKey = null }, default, cancellationToken);
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
        "m.id, m.uid, m.channel, m.received, m.sender, m.control_id, m.message_type, m.trigger_event, m.raw, m.transformed, m.transformed_type, m.response, m.state, m.error, m.updated, " +
        "m.partition_key, m.flags";

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
                Text(reader, 11), reader.GetString(12), Text(reader, 13), Time(reader.GetInt64(14)), [])
            {
                PartitionKey = Text(reader, 15) ?? string.Empty,
                Flags = Flags(Text(reader, 16)),
            };
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

        if (query.Flag is { Length: > 0 } flag)
        {
            Add("(' ' || flags || ' ') LIKE @flag", "@flag", "% " + flag + " %");
        }

        if (query.BeforeId is { } before)
        {
            Add("id < @before", "@before", before);
        }

        parameters.Add(("@limit", Math.Clamp(query.Count, 1, 1000)));
        var sql = "SELECT id, channel, received, sender, control_id, message_type, trigger_event, state, error, flags FROM message"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty) + " ORDER BY id DESC LIMIT @limit";
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, [.. parameters]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<MessageSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new MessageSummary(reader.GetInt64(0), reader.GetString(1), Time(reader.GetInt64(2)), reader.GetString(3), Text(reader, 4), Text(reader, 5),
                Text(reader, 6), reader.GetString(7), Text(reader, 8)) { Flags = Flags(Text(reader, 9)) });
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
        string channel;
        IReadOnlyList<string> flags;
        await using (var read = Command(scope.Connection, scope.Transaction, "SELECT channel, flags FROM message WHERE id = @id", ("@id", id)))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }

            (channel, flags) = (reader.GetString(0), Flags(Text(reader, 1)));
        }

        // What intake saw about the sender stays; what processing decides is decided again.
        var kept = flags.Where(f => f == MessageFlags.ControlIdReused).Concat(processing.Flags);
        await ExecuteAsync(scope.Connection, scope.Transaction,
            "UPDATE message SET state = @state, transformed = @transformed, transformed_type = @ttype, error = @error, updated = @now, partition_key = @partition, flags = @flags WHERE id = @id",
            cancellationToken, ("@state", processing.State), ("@transformed", processing.Transformed), ("@ttype", processing.TransformedType), ("@error", processing.Error),
            ("@now", ms), ("@partition", processing.PartitionKey), ("@flags", FlagText(kept)), ("@id", id));

        // A destination the message had keeps its place in the queue, so a dead letter reprocessed after a fix goes
        // before the later messages of its patient that it held up; a new destination queues it at the end.
        var requeued = new List<string>();
        await using (var requeue = Command(scope.Connection, scope.Transaction,
            "UPDATE message_delivery SET state = @queued, attempts = 0, next_attempt = @now, last_error = NULL, response = NULL, updated = @now, partition_key = @p " +
            "WHERE message_id = @id AND destination = @d",
            ("@queued", DeliveryStates.Queued), ("@now", ms), ("@p", processing.PartitionKey), ("@id", id), ("@d", null)))
        {
            foreach (var destination in processing.Destinations)
            {
                requeue.Parameters["@d"].Value = destination;
                if (await requeue.ExecuteNonQueryAsync(cancellationToken) > 0)
                {
                    requeued.Add(destination);
                }
            }
        }

        var keep = processing.Destinations.Count == 0 ? string.Empty
            : " AND destination NOT IN (" + string.Join(", ", processing.Destinations.Select((_, i) => "@k" + i.ToString(CultureInfo.InvariantCulture))) + ")";
        await ExecuteAsync(scope.Connection, scope.Transaction, "DELETE FROM message_delivery WHERE message_id = @id" + keep, cancellationToken,
            [("@id", id), .. processing.Destinations.Select((d, i) => ("@k" + i.ToString(CultureInfo.InvariantCulture), (object?)d))]);
        await QueueDeliveriesAsync(scope, id, channel, processing with { Destinations = processing.Destinations.Except(requeued).ToList() }, ms, cancellationToken);
        await scope.Transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> SetAsideAsync(long id, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = await BeginWriteAsync(cancellationToken);
        var ms = now.ToUnixTimeMilliseconds();
        int changed;
        await using (var update = Command(scope.Connection, scope.Transaction,
            "UPDATE message_delivery SET state = @aside, last_error = @reason, updated = @now WHERE message_id = @id AND state = @dead",
            ("@aside", DeliveryStates.SetAside), ("@reason", reason), ("@now", ms), ("@id", id), ("@dead", DeliveryStates.DeadLetter)))
        {
            changed = await update.ExecuteNonQueryAsync(cancellationToken);
        }

        if (changed == 0)
        {
            return false;
        }

        await UpdateMessageStateAsync(scope.Connection, scope.Transaction, id, ms, cancellationToken);
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
