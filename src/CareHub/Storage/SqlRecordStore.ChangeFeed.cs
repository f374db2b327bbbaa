using System.Globalization;

namespace CareHub.Storage;

/// <summary>The change feed (<see cref="IChangeFeed"/>): the outbox in commit order and the readers' positions.</summary>
public abstract partial class SqlRecordStore
{
    public async Task<IReadOnlyList<ChangeEvent>> ReadChangesAsync(long afterPosition, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT position, type, id, version, method, time FROM outbox WHERE position > @after ORDER BY position LIMIT @max",
            ("@after", afterPosition), ("@max", max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<ChangeEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new ChangeEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5))));
        }

        return events;
    }

    public Task<long> GetFeedPositionAsync(string name, CancellationToken cancellationToken) =>
        PositionAsync("SELECT position FROM feed_position WHERE name = @name", cancellationToken, ("@name", name));

    public async Task<FeedLag> LagAsync(long afterPosition, CancellationToken cancellationToken)
    {
        // One statement, so the end and the count describe the same committed state.
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT (SELECT MAX(position) FROM outbox), (SELECT COUNT(*) FROM outbox WHERE position > @after)", ("@after", afterPosition));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var end = reader.IsDBNull(0) ? 0 : Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
        return new FeedLag(end, Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture));
    }

    private sealed partial class WriteSession
    {
        public async Task<bool> SetFeedPositionAsync(string name, long from, long to, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            // A reader with no row is at 0. Compare and set: two readers of one feed cannot both move it from one place.
            await using var command = Command(connection, transaction,
                "INSERT INTO feed_position (name, position) VALUES (@name, @to) ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE feed_position.position = @from",
                ("@name", name), ("@from", from), ("@to", to));
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }

        public async Task StartFeedPositionAsync(string name, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            // "WHERE true" tells SQLite's parser the ON CONFLICT belongs to the INSERT, not a join of the SELECT.
            await ExecuteAsync(connection, transaction,
                "INSERT INTO feed_position (name, position) SELECT @name, COALESCE(MAX(position), 0) FROM outbox WHERE true ON CONFLICT (name) DO NOTHING",
                cancellationToken, ("@name", name));
        }
    }
}
