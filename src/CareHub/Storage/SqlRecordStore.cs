using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CareHub.Storage;

/// <summary>
/// The SQL shared by the SQLite and PostgreSQL stores. Providers override only where the databases differ:
/// connections and transactions, JSON columns, locking, migrations and error translation.
/// </summary>
public abstract partial class SqlRecordStore : IRecordStore
{
    /// <summary>The SQL type of an index column, for providers that must cast what they read from JSON.</summary>
    protected enum ColumnKind
    {
        Text,
        Integer,
        BigInteger,
        Real,
    }

    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 2;

    public abstract string Backend { get; }

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a write transaction; SQLite takes its writer lock here, PostgreSQL relies on row locks.</summary>
    protected abstract Task<(DbConnection Connection, DbTransaction Transaction, IDisposable? Lock)> BeginWriteTransactionAsync(CancellationToken cancellationToken);

    /// <summary>The SQL expression that turns a text parameter into the body column's type.</summary>
    protected virtual string JsonParameter(string name) => name;

    /// <summary>
    /// Row-lock suffix (e.g. " FOR UPDATE") for locking a resource's current row inside a write transaction, so that
    /// concurrent writers of one resource queue instead of both reading the same version; empty when the provider's
    /// write transaction already excludes other writers.
    /// </summary>
    protected virtual string ForUpdate => string.Empty;

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

    private async Task MigrateCoreAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied TEXT NOT NULL)", cancellationToken);
        var current = Convert.ToInt32(await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version", cancellationToken), CultureInfo.InvariantCulture);
        if (current > SchemaVersion)
        {
            throw new SchemaVersionException(
                $"The {Backend} database is at schema version {current} but this build of CareHub knows only up to {SchemaVersion}. Upgrade CareHub, or point it at another database.");
        }

        foreach (var (version, sql) in Migrations().Where(m => m.Version > current))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await ExecuteAsync(connection, transaction, "INSERT INTO schema_version (version, applied) VALUES (@v, @t)", cancellationToken,
                ("@v", version), ("@t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>Serialises concurrent migrations (PostgreSQL: an advisory lock); nothing by default.</summary>
    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Undoes <see cref="PrepareForMigrationAsync"/> (releases its lock), whether the migrations succeeded or not.</summary>
    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    private IEnumerable<(int Version, string Sql)> Migrations()
    {
        var assembly = typeof(SqlRecordStore).Assembly;
        var list = new List<(int, string)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(MigrationPrefix, StringComparison.Ordinal)))
        {
            var file = name[MigrationPrefix.Length..];
            var number = int.Parse(file[..file.IndexOf('_', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((number, reader.ReadToEnd()));
        }

        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Item1 != i + 1)
            {
                throw new SchemaVersionException($"Migrations of {Backend} are not numbered 1..N: found {list[i].Item1} at position {i + 1}.");
            }
        }

        return list;
    }

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
        var (connection, transaction, writerLock) = await BeginWriteTransactionAsync(cancellationToken);
        return new WriteSession(this, connection, transaction, writerLock);
    }

    private sealed class WriteSession(SqlRecordStore store, DbConnection connection, DbTransaction transaction, IDisposable? writerLock) : IWriteSession
    {
        private readonly List<VersionWrite> changes = [];
        private DbCommand? indexInsert;
        private bool done;

        /// <summary>The statement that inserts a resource's index rows into every table, prepared once per session.</summary>
        private DbCommand IndexInsert()
        {
            if (indexInsert is null)
            {
                var tables = Enum.GetValues<IndexTable>();
                var sql = string.Concat(tables.Select(table =>
                {
                    var columns = IndexColumns(table);
                    var values = columns.Select((column, i) => store.JsonField("value", i + 2, column.Kind));
                    return $"INSERT INTO {TableName(table)} (type, id, param, grp, {string.Join(", ", columns.Select(c => c.Name))}) " +
                           $"SELECT @type, @id, {store.JsonField("value", 0, ColumnKind.Text)}, {store.JsonField("value", 1, ColumnKind.Integer)}, {string.Join(", ", values)} " +
                           $"FROM {store.JsonRows("@rows" + ((int)table).ToString(CultureInfo.InvariantCulture))};";
                }));
                indexInsert = Command(connection, transaction, sql,
                    [("@type", null), ("@id", null), .. tables.Select(t => ("@rows" + ((int)t).ToString(CultureInfo.InvariantCulture), (object?)null))]);
            }

            return indexInsert;
        }

        public Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken) =>
            store.ReadCoreAsync(connection, transaction, type, id, null, true, cancellationToken);

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

            if (write.Version > 1)
            {
                // An update or deletion replaces every index row of the resource.
                await using var clear = Command(connection, transaction, ClearIndex, ("@type", write.Type), ("@id", write.Id));
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }

            if (write.Index.Count > 0)
            {
                // All index rows in one round trip: each table's rows travel as one JSON array parameter, which the
                // database unpacks. Binding a parameter per value costs far more than the rows themselves.
                var insert = IndexInsert();
                insert.Parameters[0].Value = write.Type;
                insert.Parameters[1].Value = write.Id;
                var rows = IndexRowsJson(write.Index);
                for (var t = 0; t < rows.Length; t++)
                {
                    insert.Parameters[2 + t].Value = rows[t];
                }

                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            if (write.ChangeEvent)
            {
                changes.Add(write);
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

            await transaction.CommitAsync(cancellationToken);
            done = true;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!done)
                {
                    await transaction.RollbackAsync(CancellationToken.None);
                }
            }
            finally
            {
                if (indexInsert is not null)
                {
                    await indexInsert.DisposeAsync();
                }

                await transaction.DisposeAsync();
                await connection.DisposeAsync();
                writerLock?.Dispose();
            }
        }
    }

    /// <summary>The SQL reading field <paramref name="index"/> of a JSON array row as a column of the given kind.</summary>
    protected virtual string JsonField(string row, int index, ColumnKind kind) =>
        $"json_extract({row}, '$[{index.ToString(CultureInfo.InvariantCulture)}]')";

    /// <summary>The SQL turning a JSON array parameter into rows with one column, "value".</summary>
    protected virtual string JsonRows(string parameter) => $"json_each({parameter})";

    /// <summary>The value columns of each index table, in the order <see cref="WriteValues"/> writes them.</summary>
    private static (string Name, ColumnKind Kind)[] IndexColumns(IndexTable table) => table switch
    {
        IndexTable.Token => [("system", ColumnKind.Text), ("code", ColumnKind.Text), ("text", ColumnKind.Text), ("type_system", ColumnKind.Text), ("type_code", ColumnKind.Text)],
        IndexTable.String => [("norm", ColumnKind.Text), ("exact", ColumnKind.Text)],
        IndexTable.Date => [("low", ColumnKind.BigInteger), ("high", ColumnKind.BigInteger)],
        IndexTable.Number => [("value", ColumnKind.Real), ("low", ColumnKind.Real), ("high", ColumnKind.Real)],
        IndexTable.Quantity => [("system", ColumnKind.Text), ("code", ColumnKind.Text), ("unit", ColumnKind.Text), ("value", ColumnKind.Real), ("low", ColumnKind.Real), ("high", ColumnKind.Real)],
        IndexTable.Reference => [("target_type", ColumnKind.Text), ("target_id", ColumnKind.Text), ("url", ColumnKind.Text), ("id_system", ColumnKind.Text), ("id_value", ColumnKind.Text)],
        _ => [("value", ColumnKind.Text)],
    };

    /// <summary>Each table's rows as a JSON array of arrays: [param, grp, value columns...].</summary>
    private static string[] IndexRowsJson(IReadOnlyList<IndexRow> index)
    {
        var tables = Enum.GetValues<IndexTable>();
        var buffers = new ArrayBufferWriter<byte>?[tables.Length];
        var writers = new Utf8JsonWriter?[tables.Length];
        try
        {
            foreach (var row in index.Distinct())
            {
                var t = (int)IndexTableOf(row);
                if (writers[t] is not { } writer)
                {
                    buffers[t] = new ArrayBufferWriter<byte>(256);
                    writer = writers[t] = new Utf8JsonWriter(buffers[t]!);
                    writer.WriteStartArray();
                }

                writer.WriteStartArray();
                writer.WriteStringValue(row.Param);
                writer.WriteNumberValue(row.Group);
                WriteValues(writer, row);
                writer.WriteEndArray();
            }

            var json = new string[tables.Length];
            for (var t = 0; t < tables.Length; t++)
            {
                if (writers[t] is { } writer)
                {
                    writer.WriteEndArray();
                    writer.Flush();
                    json[t] = Encoding.UTF8.GetString(buffers[t]!.WrittenSpan);
                }
                else
                {
                    json[t] = "[]";
                }
            }

            return json;
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer?.Dispose();
            }
        }
    }

    private static void WriteValues(Utf8JsonWriter writer, IndexRow row)
    {
        switch (row)
        {
            case TokenIndexRow t:
                Text(t.System);
                Text(t.Code);
                Text(t.Text);
                Text(t.TypeSystem);
                Text(t.TypeCode);
                break;
            case StringIndexRow s:
                Text(s.Normalized);
                Text(s.Exact);
                break;
            case DateIndexRow d:
                writer.WriteNumberValue(d.Low);
                writer.WriteNumberValue(d.High);
                break;
            case NumberIndexRow n:
                Number(n.Value);
                Number(n.Low);
                Number(n.High);
                break;
            case QuantityIndexRow q:
                Text(q.System);
                Text(q.Code);
                Text(q.Unit);
                Number(q.Value);
                Number(q.Low);
                Number(q.High);
                break;
            case ReferenceIndexRow r:
                Text(r.TargetType);
                Text(r.TargetId);
                Text(r.Url);
                Text(r.IdentifierSystem);
                Text(r.IdentifierValue);
                break;
            case UriIndexRow u:
                Text(u.Value);
                break;
        }

        void Text(string? value)
        {
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteStringValue(value);
            }
        }

        void Number(double? value)
        {
            if (value is { } number)
            {
                writer.WriteNumberValue(number);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }

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

    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken);
    }
}
