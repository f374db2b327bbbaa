using System.Data.Common;
using System.Globalization;

namespace CareHub.Storage;

/// <summary>
/// The SQL shared by the SQLite and PostgreSQL stores. Providers override only where the databases differ:
/// connections and transactions, JSON columns, locking, migrations and error translation.
/// </summary>
public abstract partial class SqlRecordStore : IRecordStore, IChangeFeed, Identity.IPersonIndexStore, Governance.IGovernanceStore
{
    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 9;

    public abstract string Backend { get; }

    public event Action<IReadOnlyCollection<string>>? Committed;

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

        /// <summary>
        /// Commands kept, by SQL text, for as long as the scope's connection lives (SQLite's one writer connection), so the
        /// statements of the write path are compiled once rather than once per write; null when the connection is not
        /// long-lived, and the session then keeps its commands only until it ends.
        /// </summary>
        public virtual CommandCache? Commands => null;
    }

    /// <summary>
    /// Prepared commands by SQL text on one connection. A command is handed out with the caller's transaction set and its
    /// parameters to be given values; the cache owns it (the caller does not dispose it).
    /// </summary>
    protected sealed class CommandCache(int capacity = int.MaxValue) : IAsyncDisposable
    {
        private readonly Dictionary<string, DbCommand> commands = new(StringComparer.Ordinal);

        public DbCommand Get(DbConnection connection, DbTransaction? transaction, string sql, params string[] parameterNames)
        {
            if (!commands.TryGetValue(sql, out var command))
            {
                if (commands.Count >= capacity)
                {
                    // Bounded by starting again: search shapes seen once (a list of ids of one length) do not pile up.
                    foreach (var old in commands.Values)
                    {
                        old.Dispose();
                    }

                    commands.Clear();
                }

                // Microsoft.Data.Sqlite compiles a command's statements on its first execution and keeps them while the
                // command lives, so a kept command is compiled once.
                command = Command(connection, transaction, sql, [.. parameterNames.Select(n => (n, (object?)null))]);
                commands[sql] = command;
            }

            command.Transaction = transaction;
            return command;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var command in commands.Values)
            {
                await command.DisposeAsync();
            }

            commands.Clear();
        }
    }

    /// <summary>A connection for searches, with the commands it keeps (none by default: a connection of its own, closed after).</summary>
    protected sealed class Reader(DbConnection connection, CommandCache? commands, Action? giveBack) : IAsyncDisposable
    {
        public DbConnection Connection => connection;

        public CommandCache? Commands => commands;

        public ValueTask DisposeAsync()
        {
            if (giveBack is not null)
            {
                giveBack();
                return ValueTask.CompletedTask;
            }

            return connection.DisposeAsync();
        }
    }

    /// <summary>A connection for one search; providers that keep compiled statements per connection hand out a kept one.</summary>
    protected virtual async ValueTask<Reader> RentReaderAsync(CancellationToken cancellationToken) =>
        new(await OpenAsync(cancellationToken), null, null);

    /// <summary>Sets a command's parameters, in the order they were named, to the given values (null as DBNull).</summary>
    protected static DbCommand With(DbCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return command;
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

    /// <summary>
    /// How token postings name the covering index of system-less token rows (migration 005), for a planner that cannot
    /// tell it is the better choice without statistics; nothing by default.
    /// </summary>
    protected virtual string NoSystemTokenIndex => string.Empty;

    /// <summary>Takes a transaction-scoped lock on a key; SQLite's single writer already serialises writers, so nothing by default.</summary>
    protected virtual Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called inside the transaction just before its change events are written, so positions follow commit order.</summary>
    protected virtual Task BeforeChangeEventsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called inside the transaction just before its audit records are chained, so the chain follows commit order; SQLite's
    /// single writer already serialises commits, so nothing by default.
    /// </summary>
    protected virtual Task BeforeAuditChainAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Turns a provider exception into a domain exception where one applies, or returns null.</summary>
    protected abstract Exception? Translate(DbException exception, VersionWrite write);

    /// <summary>Folder (resource name prefix) of this provider's numbered migration scripts.</summary>
    protected abstract string MigrationPrefix { get; }

    /// <summary>
    /// True when the store is handed out under several interfaces by a dependency-injection container, which disposes it
    /// once for each registration a user resolved, in the reverse order the users were created, so the first of those
    /// calls can come while users created earlier (the audit trail draining its queue) still need it. Then
    /// <see cref="DisposeAsync"/> leaves the store open, and its one owner closes it with <see cref="CloseAsync"/> after
    /// every user is gone.
    /// </summary>
    public bool ClosedByOwner { get; init; }

    private int closed;

    public ValueTask DisposeAsync() => ClosedByOwner ? ValueTask.CompletedTask : CloseAsync();

    /// <summary>Closes the store: once, whoever asks again.</summary>
    public async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref closed, 1) == 0)
        {
            await CloseCoreAsync();
        }
    }

    /// <summary>Stops background work and closes the provider's connections.</summary>
    protected abstract ValueTask CloseCoreAsync();

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

    public async Task<IReadOnlyList<StoredResource>> ReadManyAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new List<StoredResource>(ids.Count);
        if (ids.Count == 0)
        {
            return found;
        }

        var (list, parameters) = IdList(type, ids);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"SELECT {VersionColumns} FROM resource_current c JOIN resource_version v ON v.seq = c.seq WHERE c.type = @type AND c.deleted = 0 AND c.id IN ({list})", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(ReadVersion(reader));
        }

        return found;
    }

    /// <summary>An <c>IN (...)</c> list of ids as parameters, with <c>@type</c>.</summary>
    private static (string List, (string Name, object? Value)[] Parameters) IdList(string type, IReadOnlyCollection<string> ids)
    {
        var parameters = new List<(string Name, object? Value)>(ids.Count + 1) { ("@type", type) };
        foreach (var id in ids)
        {
            parameters.Add(("@i" + parameters.Count.ToString(CultureInfo.InvariantCulture), id));
        }

        return (string.Join(", ", parameters.Skip(1).Select(p => p.Name)), [.. parameters]);
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

    public Task<long> FeedEndAsync(CancellationToken cancellationToken) =>
        PositionAsync("SELECT MAX(position) FROM outbox", cancellationToken);

    /// <summary>A change-feed position read on a connection of its own: 0 when there is none.</summary>
    private async Task<long> PositionAsync(string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var value = await ScalarAsync(connection, null, sql, cancellationToken, parameters);
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
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

    public Task<IWriteSession> BeginWriteAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IWriteSession>(new WriteSession(this));

    public Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(IWriteSession session, string type, string param, IReadOnlyList<string> codes, int limit,
        CancellationToken cancellationToken) =>
        Own(session).TokenPostingsAsync(type, param, codes, limit, cancellationToken);

    public Task<IReadOnlyDictionary<string, int>> CurrentVersionsAsync(IWriteSession session, string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        Own(session).CurrentVersionsAsync(type, ids, cancellationToken);

    public Task<IReadOnlyCollection<string>?> ChangedSinceAsync(IWriteSession session, string type, long afterPosition, string param, IReadOnlyList<string> codes, int max,
        CancellationToken cancellationToken) =>
        Own(session).ChangedSinceAsync(type, afterPosition, param, codes, max, cancellationToken);

    /// <summary>A session of this store, for a query that must run in its transaction.</summary>
    private WriteSession Own(IWriteSession session) =>
        session is WriteSession own && own.Store == this
            ? own
            : throw new ArgumentException("The write session is not one of this store's: a query can run only in a transaction of its own store.", nameof(session));

    /// <summary>
    /// A write transaction, opened on first need. Writes that need no check against the stored version (a server-assigned
    /// id, a server-written audit record) are held in memory until the session first reads, locks or commits, and written
    /// then, in order. So the work a caller does between its writes (serialising, extracting index rows, building the
    /// audit record) runs before the provider's write transaction starts: on SQLite, outside the single writer, where
    /// every caller's CPU work would otherwise queue behind the others'.
    /// </summary>
    private sealed partial class WriteSession(SqlRecordStore store) : IWriteSession, IChangeFeedSession
    {
        /// <summary>The store whose transaction this is.</summary>
        public SqlRecordStore Store => store;

        private WriteScope? scope;
        private DbConnection connection = null!;
        private DbTransaction transaction = null!;
        private readonly List<VersionWrite> deferred = [];

        private readonly List<VersionWrite> changes = [];

        /// <summary>The types whose versions or index rows this session wrote, told to <see cref="Committed"/> after the commit.</summary>
        private readonly HashSet<string> writtenTypes = new(StringComparer.Ordinal);

        /// <summary>Versions written and indexes rebuilt, counted towards the next refresh of the planner's statistics.</summary>
        private int written;

        /// <summary>This session's own commands, when the provider keeps none across sessions.</summary>
        private CommandCache? ownCommands;

        /// <summary>A prepared command of the write path, reused for every write of the session (and beyond, see <see cref="WriteScope.Commands"/>).</summary>
        private DbCommand Reusable(string sql, params string[] parameterNames) =>
            (scope!.Commands ?? (ownCommands ??= new CommandCache())).Get(connection, transaction, sql, parameterNames);

        private static readonly string[] IndexInsertSql = [.. Enum.GetValues<IndexTable>().Select(table =>
        {
            var columns = IndexColumns(table);
            return $"INSERT INTO {TableName(table)} (type, id, param, grp, {string.Join(", ", columns)}) VALUES (@type, @id, @param, @grp, {string.Join(", ", columns.Select(c => "@" + c))})";
        })];

        private static readonly string[][] IndexInsertParameters = [.. Enum.GetValues<IndexTable>().Select(table =>
            (string[])["@type", "@id", "@param", "@grp", .. IndexColumns(table).Select(c => "@" + c)])];

        /// <summary>The insert statement of an index table.</summary>
        private DbCommand IndexInsert(IndexTable table) => Reusable(IndexInsertSql[(int)table], IndexInsertParameters[(int)table]);

        /// <summary>Starts the provider's write transaction unless it has started, then writes what was deferred.</summary>
        private async Task EnsureStartedAsync(CancellationToken cancellationToken)
        {
            if (scope is null)
            {
                scope = await store.BeginWriteScopeAsync(cancellationToken);
                connection = scope.Connection;
                transaction = scope.Transaction;
            }

            if (deferred.Count > 0)
            {
                var pending = deferred.ToArray();
                deferred.Clear();
                foreach (var write in pending)
                {
                    await WriteTranslatedAsync(write, cancellationToken);
                }
            }
        }

        public async Task<StoredResource?> ReadAsync(string type, string id, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            return await store.ReadCoreAsync(connection, transaction, type, id, null, true, cancellationToken);
        }

        public async Task LockAsync(string key, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            await store.LockKeyAsync(connection, transaction, key, cancellationToken);
        }

        public async Task<IReadOnlyList<string>> FindIdsAsync(StoreQuery query, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            return await FindIdsCoreAsync(connection, transaction, query, cancellationToken);
        }

        public async Task<IReadOnlyList<IReadOnlyList<string>>> TokenPostingsAsync(string type, string param, IReadOnlyList<string> codes, int limit, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            return await store.TokenPostingsCoreAsync(connection, transaction, type, param, codes, limit, cancellationToken);
        }

        public async Task<IReadOnlyDictionary<string, int>> CurrentVersionsAsync(string type, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(ids);
            var versions = new Dictionary<string, int>(StringComparer.Ordinal);
            if (ids.Count == 0)
            {
                return versions;
            }

            await EnsureStartedAsync(cancellationToken);
            var (list, parameters) = IdList(type, ids);
            await using var command = Command(connection, transaction, $"SELECT c.id, c.version FROM resource_current c WHERE c.type = @type AND c.deleted = 0 AND c.id IN ({list})", parameters);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                versions[reader.GetString(0)] = reader.GetInt32(1);
            }

            return versions;
        }

        public async Task<IReadOnlyCollection<string>?> ChangedSinceAsync(string type, long afterPosition, string param, IReadOnlyList<string> codes, int max,
            CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(codes);
            await EnsureStartedAsync(cancellationToken);
            var ids = new HashSet<string>(StringComparer.Ordinal);
            if (codes.Count == 0)
            {
                return ids;
            }

            // Events by position alone, each checked for a matching token row: a condition on the event's type would let
            // the planner walk every event of the type instead of the few after the position. The command is kept compiled
            // for each number of codes (a Patient has a handful of blocking keys).
            var limit = (max * 4) + 1;
            var names = codes.Select((_, i) => "@c" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
            var command = Reusable(
                "SELECT o.type, o.id, EXISTS (SELECT 1 FROM search_token t WHERE t.type = o.type AND t.id = o.id AND t.param = @param AND t.system IS NULL " +
                $"AND t.code IN ({string.Join(", ", names)})) FROM outbox o WHERE o.position > @after ORDER BY o.position LIMIT {Limit(limit)}",
                ["@after", "@param", .. names]);
            var rows = 0;
            await using (var reader = await With(command, [afterPosition, param, .. codes]).ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows++;
                    if (reader.GetString(0) == type && Convert.ToBoolean(reader.GetValue(2), CultureInfo.InvariantCulture))
                    {
                        ids.Add(reader.GetString(1));
                    }
                }
            }

            // This session's own change events are inserted at its commit: returned whatever their codes, for the caller to check.
            foreach (var change in changes)
            {
                if (change.Type == type)
                {
                    ids.Add(change.Id);
                }
            }

            return rows == limit || ids.Count > max ? null : ids;
        }

        /// <remarks>
        /// A write without an expected version may be deferred (see the class): a clash with a stored version then throws
        /// <see cref="VersionConflictException"/> from the read, lock or commit that writes it.
        /// </remarks>
        public async Task WriteAsync(VersionWrite write, CancellationToken cancellationToken)
        {
            if (scope is null && write.ExpectedVersion is null)
            {
                deferred.Add(write);
                return;
            }

            await EnsureStartedAsync(cancellationToken);
            await WriteTranslatedAsync(write, cancellationToken);
        }

        private async Task WriteTranslatedAsync(VersionWrite write, CancellationToken cancellationToken)
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
            writtenTypes.Add(write.Type);
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
            var audit = write.Type == AuditType;
            written++;
            long seq;
            var insert = With(Reusable(audit ? store.InsertAuditVersionSql : store.InsertVersionSql, VersionParameters),
                write.Type, write.Id, write.Version, lastUpdated, write.Method, write.Json);
            if (audit)
            {
                await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                seq = reader.GetInt64(0);
                chain.Add(new PendingLink(seq, write.Id, reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
            else
            {
                seq = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            }

            await With(Reusable(UpsertCurrentSql, "@type", "@id", "@version", "@seq", "@deleted", "@lu"),
                write.Type, write.Id, write.Version, seq, write.Json is null ? 1 : 0, lastUpdated).ExecuteNonQueryAsync(cancellationToken);

            // An update or deletion replaces every index row of the resource; a first version has none to replace.
            await WriteIndexAsync(write.Type, write.Id, write.Index, write.Version > 1, cancellationToken);

            if (write.ChangeEvent)
            {
                changes.Add(write);
            }
        }

        public async Task ReplaceIndexAsync(string type, string id, IReadOnlyList<IndexRow> index, CancellationToken cancellationToken)
        {
            await EnsureStartedAsync(cancellationToken);
            await WriteIndexAsync(type, id, index, replace: true, cancellationToken);
            writtenTypes.Add(type);
            written++;
        }

        private async Task WriteIndexAsync(string type, string id, IReadOnlyList<IndexRow> index, bool replace, CancellationToken cancellationToken)
        {
            if (replace)
            {
                await With(Reusable(ClearIndex, "@type", "@id"), type, id).ExecuteNonQueryAsync(cancellationToken);
            }

            foreach (var row in index.Distinct())
            {
                // One prepared single-row insert per table, reused for every row of the session: on SQLite multi-row VALUES
                // and unpacking a JSON array both cost more per row (building and parsing the text) than they save.
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
            if (scope is null && deferred.Count == 0)
            {
                // Nothing was read, locked or written: there is no transaction to commit.
                return;
            }

            await EnsureStartedAsync(cancellationToken);
            if (changes.Count > 0)
            {
                await store.BeforeChangeEventsAsync(connection, transaction, cancellationToken);
                var outbox = Reusable("INSERT INTO outbox (type, id, version, method, time) VALUES (@type, @id, @version, @method, @time)",
                    "@type", "@id", "@version", "@method", "@time");
                foreach (var change in changes)
                {
                    await With(outbox, change.Type, change.Id, change.Version, change.Method, change.LastUpdated.ToUnixTimeMilliseconds())
                        .ExecuteNonQueryAsync(cancellationToken);
                }
            }

            await ChainAuditAsync(cancellationToken);

            // Commands this session made for itself are released before its connection goes back; those the provider keeps
            // (SQLite's writer connection, shared by the sessions of a group) stay with the connection.
            await DisposeCommandsAsync();
            await scope!.CommitAsync(cancellationToken);
            store.Statistics.Written(written);
            if (writtenTypes.Count > 0)
            {
                store.Committed?.Invoke(writtenTypes);
            }
        }

        public async ValueTask DisposeAsync()
        {
            deferred.Clear();
            if (scope is null)
            {
                return;
            }

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
            if (ownCommands is not null)
            {
                await ownCommands.DisposeAsync();
                ownCommands = null;
            }
        }
    }

    private static readonly string[] VersionParameters = ["@type", "@id", "@version", "@lu", "@method", "@body"];

    private string InsertVersionSql => insertVersionSql ??=
        $"INSERT INTO resource_version (type, id, version, last_updated, method, body) VALUES (@type, @id, @version, @lu, @method, {JsonParameter("@body")}) RETURNING seq";

    // An audit record is chained over its bytes as stored (PostgreSQL's jsonb normalises the text), so its insert returns
    // the body too.
    private string InsertAuditVersionSql => insertAuditVersionSql ??= InsertVersionSql + ", body";

    private string? insertVersionSql;
    private string? insertAuditVersionSql;

    private const string UpsertCurrentSql =
        "INSERT INTO resource_current (type, id, version, seq, deleted, last_updated) VALUES (@type, @id, @version, @seq, @deleted, @lu) " +
        "ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, seq = excluded.seq, deleted = excluded.deleted, last_updated = excluded.last_updated";

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
