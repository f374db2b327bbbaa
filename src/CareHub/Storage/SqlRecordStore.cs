using System.Data.Common;
using System.Globalization;

namespace CareHub.Storage;

/// <summary>
/// The SQL shared by the SQLite and PostgreSQL stores. Providers override only where the databases differ:
/// connections and transactions, JSON columns, locking, migrations and error translation.
/// </summary>
public abstract partial class SqlRecordStore : IRecordStore
{

    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 3;

    public abstract string Backend { get; }

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a write transaction; SQLite takes its writer lock here, PostgreSQL relies on row locks.</summary>
    protected abstract Task<WriteScope> BeginWriteScopeAsync(CancellationToken cancellationToken);

    /// <summary>One write transaction as a provider runs it: its connection and transaction, how it becomes durable, how it is undone.</summary>
    protected abstract class WriteScope : IAsyncDisposable
    {
        public abstract DbConnection Connection { get; }

        public abstract DbTransaction Transaction { get; }

        /// <summary>Makes the work durable and returns only when it is.</summary>
        public abstract Task CommitAsync(CancellationToken cancellationToken);

        /// <summary>Undoes the work unless it was committed, and releases what the scope holds.</summary>
        public abstract ValueTask DisposeAsync();
    }

    /// <summary>A plain database transaction on its own connection.</summary>
    protected sealed class TransactionScope(DbConnection connection, DbTransaction transaction) : WriteScope
    {
        private bool committed;

        public override DbConnection Connection => connection;

        public override DbTransaction Transaction => transaction;

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            await transaction.CommitAsync(cancellationToken);
            committed = true;
        }

        public override async ValueTask DisposeAsync()
        {
            try
            {
                if (!committed)
                {
                    await transaction.RollbackAsync(CancellationToken.None);
                }
            }
            finally
            {
                await transaction.DisposeAsync();
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>The SQL expression that turns a text parameter into the body column's type.</summary>
    protected virtual string JsonParameter(string name) => name;

    /// <summary>
    /// Row-lock suffix (e.g. " FOR UPDATE") for locking a resource's current row inside a write transaction, so that
    /// concurrent writers of one resource queue instead of both reading the same version; empty when the provider's
    /// write transaction already excludes other writers.
    /// </summary>
    protected virtual string ForUpdate => string.Empty;

    /// <summary>Takes a transaction-scoped lock on a key; SQLite's single writer already serialises writers, so nothing by default.</summary>
    protected virtual Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called inside the transaction just before its change events are written, so positions follow commit order.</summary>
    protected virtual Task BeforeChangeEventsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Turns a provider exception into a domain exception where one applies, or returns null.</summary>
    protected abstract Exception? Translate(DbException exception, VersionWrite write);

    /// <summary>Folder (resource name prefix) of this provider's numbered migration scripts.</summary>
    protected abstract string MigrationPrefix { get; }

    public abstract ValueTask DisposeAsync();

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await PrepareForMigrationAsync(connection, cancellationToken);
        try
        {
            await MigrateCoreAsync(connection, cancellationToken);
        }
        finally
        {
            // Not cancellable: a pooled connection must not go back to the pool still holding the migration lock.
            await FinishMigrationAsync(connection, CancellationToken.None);
        }
    }

    private Task MigrateCoreAsync(DbConnection connection, CancellationToken cancellationToken) =>
        SqlMigrations.ApplyAsync(connection, "schema_version", SchemaVersion,
            SqlMigrations.Load(MigrationPrefix, problem => new SchemaVersionException($"The {Backend} record store's {problem}.")),
            current => new SchemaVersionException(
                $"The {Backend} database is at schema version {current} but this build of CareHub knows only up to {SchemaVersion}. Upgrade CareHub, or point it at another database."),
            cancellationToken);

    /// <summary>Serialises concurrent migrations (PostgreSQL: an advisory lock); nothing by default.</summary>
    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Undoes <see cref="PrepareForMigrationAsync"/> (releases its lock), whether the migrations succeeded or not.</summary>
    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<StoredResource?> ReadAsync(string type, string id, int? version, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadCoreAsync(connection, null, type, id, version, false, cancellationToken);
    }

    private const string VersionColumns = "v.type, v.id, v.version, v.last_updated, v.method, v.body";

    private async Task<StoredResource?> ReadCoreAsync(DbConnection connection, DbTransaction? transaction, string type, string id, int? version, bool forUpdate, CancellationToken cancellationToken)
    {
        if (forUpdate && ForUpdate.Length > 0)
        {
            // Lock first, read in a second statement. Under READ COMMITTED every statement takes a new snapshot, so the read
            // sees what a writer we waited for committed. One "SELECT ... JOIN ... FOR UPDATE" would not: after the wait
            // PostgreSQL re-checks the join with the updated current row against the old version row, finds no match and
            // returns nothing (PostgreSQL manual, 13.2.1 Read Committed Isolation Level).
            await using var lockRow = Command(connection, transaction, $"SELECT c.version FROM resource_current c WHERE c.type = @type AND c.id = @id{ForUpdate}", ("@type", type), ("@id", id));
            await lockRow.ExecuteNonQueryAsync(cancellationToken);
        }

        var sql = version is null
            ? $"SELECT {VersionColumns} FROM resource_current c JOIN resource_version v ON v.seq = c.seq WHERE c.type = @type AND c.id = @id"
            : $"SELECT {VersionColumns} FROM resource_version v WHERE v.type = @type AND v.id = @id AND v.version = @version";
        await using var command = version is null
            ? Command(connection, transaction, sql, ("@type", type), ("@id", id))
            : Command(connection, transaction, sql, ("@type", type), ("@id", id), ("@version", version.Value));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadVersion(reader) : null;
    }

    private static StoredResource ReadVersion(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetInt32(2),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
        reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetString(5));

    public async Task<HistoryPage> HistoryAsync(HistoryQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        if (query.Type is not null)
        {
            where.Add("v.type = @type");
            parameters.Add(("@type", query.Type));
        }
        else
        {
            // Server-written audit events are not part of the record's history.
            where.Add("v.type <> 'AuditEvent'");
        }

        if (query.Id is not null)
        {
            where.Add("v.id = @id");
            parameters.Add(("@id", query.Id));
        }

        if (query.Since is { } since)
        {
            where.Add("v.last_updated >= @since");
            parameters.Add(("@since", since.ToUnixTimeMilliseconds()));
        }

        var filter = where.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", where);
        var pageFilter = filter + (query.BeforeSequence is null ? string.Empty : (where.Count == 0 ? " WHERE " : " AND ") + "v.seq < @before");
        var pageParameters = new List<(string, object?)>(parameters);
        if (query.BeforeSequence is { } before)
        {
            pageParameters.Add(("@before", before));
        }

        await using var connection = await OpenAsync(cancellationToken);
        var versions = new List<StoredResource>();
        var sequences = new List<long>();
        await using (var command = Command(connection, null, $"SELECT {VersionColumns}, v.seq FROM resource_version v{pageFilter} ORDER BY v.seq DESC LIMIT @limit", [.. pageParameters, ("@limit", query.Count + 1)]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                versions.Add(ReadVersion(reader));
                sequences.Add(reader.GetInt64(6));
            }
        }

        long? next = null;
        if (versions.Count > query.Count)
        {
            versions.RemoveAt(query.Count);
            next = sequences[query.Count - 1];
        }

        var total = Convert.ToInt64(await ScalarAsync(connection, null, $"SELECT COUNT(*) FROM resource_version v{filter}", cancellationToken, [.. parameters]), CultureInfo.InvariantCulture);
        return new HistoryPage(versions, next, total);
    }

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

    public async Task AppendAsync(IReadOnlyList<VersionWrite> writes, CancellationToken cancellationToken)
    {
        if (writes.Count == 0)
        {
            return;
        }

        await using var session = await BeginWriteAsync(cancellationToken);
        foreach (var write in writes)
        {
            // The contract promises no change events here, whatever the caller left in the flag (it defaults to true).
            await session.WriteAsync(write with { ChangeEvent = false }, cancellationToken);
        }

        await session.CommitAsync(cancellationToken);
    }

    public async Task<IWriteSession> BeginWriteAsync(CancellationToken cancellationToken)
    {
        return new WriteSession(this, await BeginWriteScopeAsync(cancellationToken));
    }

    private sealed class WriteSession(SqlRecordStore store, WriteScope scope) : IWriteSession
    {
        private readonly DbConnection connection = scope.Connection;
        private readonly DbTransaction transaction = scope.Transaction;

        private readonly List<VersionWrite> changes = [];
        private readonly DbCommand?[] indexInserts = new DbCommand?[Enum.GetValues<IndexTable>().Length];

        /// <summary>The insert statement of an index table, prepared once per session.</summary>
        private DbCommand IndexInsert(IndexTable table)
        {
            if (indexInserts[(int)table] is not { } command)
            {
                var columns = IndexColumns(table);
                command = Command(connection, transaction,
                    $"INSERT INTO {TableName(table)} (type, id, param, grp, {string.Join(", ", columns)}) VALUES (@type, @id, @param, @grp, {string.Join(", ", columns.Select(c => "@" + c))})",
                    [("@type", null), ("@id", null), ("@param", null), ("@grp", null), .. columns.Select(c => ("@" + c, (object?)null))]);
                indexInserts[(int)table] = command;
            }

            return command;
        }

        public Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken) =>
            store.ReadCoreAsync(connection, transaction, type, id, null, true, cancellationToken);

        public Task LockAsync(string key, CancellationToken cancellationToken) =>
            store.LockKeyAsync(connection, transaction, key, cancellationToken);

        public Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken) =>
            FindIdsCoreAsync(connection, transaction, query, cancellationToken);

        public async Task WriteAsync(VersionWrite write, CancellationToken cancellationToken)
        {
            try
            {
                await WriteCoreAsync(write, cancellationToken);
            }
            catch (DbException e) when (store.Translate(e, write) is { } translated)
            {
                throw translated;
            }
        }

        private async Task WriteCoreAsync(VersionWrite write, CancellationToken cancellationToken)
        {
            if (write.ExpectedVersion is { } expected)
            {
                var current = await store.ReadCoreAsync(connection, transaction, write.Type, write.Id, null, true, cancellationToken);
                var actual = current?.Version ?? 0;
                var matches = expected == 0 ? current is null || current.Deleted : actual == expected;
                if (!matches)
                {
                    throw new VersionConflictException(write.Type, write.Id, expected, current?.Version);
                }
            }

            var lastUpdated = write.LastUpdated.ToUnixTimeMilliseconds();
            long seq;
            await using (var insert = Command(connection, transaction,
                $"INSERT INTO resource_version (type, id, version, last_updated, method, body) VALUES (@type, @id, @version, @lu, @method, {store.JsonParameter("@body")}) RETURNING seq",
                ("@type", write.Type), ("@id", write.Id), ("@version", write.Version), ("@lu", lastUpdated), ("@method", write.Method), ("@body", write.Json)))
            {
                seq = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            }

            await using (var upsert = Command(connection, transaction,
                "INSERT INTO resource_current (type, id, version, seq, deleted, last_updated) VALUES (@type, @id, @version, @seq, @deleted, @lu) " +
                "ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, seq = excluded.seq, deleted = excluded.deleted, last_updated = excluded.last_updated",
                ("@type", write.Type), ("@id", write.Id), ("@version", write.Version), ("@seq", seq), ("@deleted", write.Json is null ? 1 : 0), ("@lu", lastUpdated)))
            {
                await upsert.ExecuteNonQueryAsync(cancellationToken);
            }

            // An update or deletion replaces every index row of the resource; a first version has none to replace.
            await WriteIndexAsync(write.Type, write.Id, write.Index, write.Version > 1, cancellationToken);

            if (write.ChangeEvent)
            {
                changes.Add(write);
            }
        }

        public Task ReplaceIndexAsync(string type, string id, IReadOnlyList<IndexRow> index, CancellationToken cancellationToken) =>
            WriteIndexAsync(type, id, index, replace: true, cancellationToken);

        private async Task WriteIndexAsync(string type, string id, IReadOnlyList<IndexRow> index, bool replace, CancellationToken cancellationToken)
        {
            if (replace)
            {
                await using var clear = Command(connection, transaction, ClearIndex, ("@type", type), ("@id", id));
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }

            foreach (var row in index.Distinct())
            {
                // One prepared single-row insert per table, reused for every row of the session: measured faster on SQLite
                // than multi-row VALUES or unpacking a JSON array, both of which cost more per row than they save.
                var table = IndexTableOf(row);
                var insert = IndexInsert(table);
                var parameters = insert.Parameters;
                parameters[0].Value = type;
                parameters[1].Value = id;
                parameters[2].Value = row.Param;
                parameters[3].Value = row.Group;
                var values = IndexValues(row);
                for (var i = 0; i < values.Length; i++)
                {
                    parameters[4 + i].Value = values[i] ?? DBNull.Value;
                }

                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (changes.Count > 0)
            {
                await store.BeforeChangeEventsAsync(connection, transaction, cancellationToken);
                await using var outbox = Command(connection, transaction,
                    "INSERT INTO outbox (type, id, version, method, time) VALUES (@type, @id, @version, @method, @time)",
                    ("@type", null), ("@id", null), ("@version", null), ("@method", null), ("@time", null));
                foreach (var change in changes)
                {
                    outbox.Parameters["@type"].Value = change.Type;
                    outbox.Parameters["@id"].Value = change.Id;
                    outbox.Parameters["@version"].Value = change.Version;
                    outbox.Parameters["@method"].Value = change.Method;
                    outbox.Parameters["@time"].Value = change.LastUpdated.ToUnixTimeMilliseconds();
                    await outbox.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            // The connection may be shared (SQLite's group commit hands it to the next session once this one commits), so
            // everything this session made on it is released first.
            await DisposeCommandsAsync();
            await scope.CommitAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await DisposeCommandsAsync();
            }
            finally
            {
                await scope.DisposeAsync();
            }
        }

        private async ValueTask DisposeCommandsAsync()
        {
            for (var i = 0; i < indexInserts.Length; i++)
            {
                if (indexInserts[i] is { } insert)
                {
                    indexInserts[i] = null;
                    await insert.DisposeAsync();
                }
            }
        }
    }

    /// <summary>The value columns of each index table, in the order <see cref="IndexValues"/> gives them.</summary>
    private static string[] IndexColumns(IndexTable table) => table switch
    {
        IndexTable.Token => ["system", "code", "text", "type_system", "type_code"],
        IndexTable.String => ["norm", "exact"],
        IndexTable.Date => ["low", "high"],
        IndexTable.Number => ["value", "low", "high"],
        IndexTable.Quantity => ["system", "code", "unit", "value", "low", "high", "canonical_code", "canonical_value", "canonical_low", "canonical_high"],
        IndexTable.Reference => ["target_type", "target_id", "url", "id_system", "id_value"],
        _ => ["value"],
    };

    private static object?[] IndexValues(IndexRow row) => row switch
    {
        TokenIndexRow t => [t.System, t.Code, t.Text, t.TypeSystem, t.TypeCode],
        StringIndexRow s => [s.Normalized, s.Exact],
        DateIndexRow d => [d.Low, d.High],
        NumberIndexRow n => [n.Value, n.Low, n.High],
        QuantityIndexRow q => [q.System, q.Code, q.Unit, q.Value, q.Low, q.High, q.CanonicalCode, q.CanonicalValue, q.CanonicalLow, q.CanonicalHigh],
        ReferenceIndexRow r => [r.TargetType, r.TargetId, r.Url, r.IdentifierSystem, r.IdentifierValue],
        UriIndexRow u => [u.Value],
        _ => throw new ArgumentException($"Unknown index row {row.GetType().Name}", nameof(row)),
    };

    /// <summary>Removes every index row of one resource, from all the index tables, in one round trip.</summary>
    private static readonly string ClearIndex = string.Concat(Enum.GetValues<IndexTable>().Select(t => $"DELETE FROM {TableName(t)} WHERE type = @type AND id = @id;"));

    private static IndexTable IndexTableOf(IndexRow row) => row switch
    {
        TokenIndexRow => IndexTable.Token,
        StringIndexRow => IndexTable.String,
        DateIndexRow => IndexTable.Date,
        NumberIndexRow => IndexTable.Number,
        QuantityIndexRow => IndexTable.Quantity,
        ReferenceIndexRow => IndexTable.Reference,
        UriIndexRow => IndexTable.Uri,
        _ => throw new ArgumentException($"Unknown index row {row.GetType().Name}", nameof(row)),
    };

    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters) =>
        SqlCommands.Command(connection, transaction, sql, parameters);

    protected static Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        SqlCommands.ExecuteAsync(connection, transaction, sql, cancellationToken, parameters);

    protected static Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        SqlCommands.ScalarAsync(connection, transaction, sql, cancellationToken, parameters);
}
