using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace CareHub.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in write-ahead-log mode. SQLite has one writer at a time, so writes queue on an
/// in-process lock (no busy-waiting) and readers never block. With synchronous=NORMAL in WAL mode a committed
/// transaction survives a killed process (it is in the WAL, in the OS page cache); synchronous=FULL also survives
/// power loss, at a cost. See https://www.sqlite.org/wal.html.
/// </summary>
public sealed class SqliteRecordStore : SqlRecordStore
{
    private readonly string connectionString;
    private readonly SemaphoreSlim writer = new(1, 1);
    private readonly string syncPragmas;
    private volatile bool walSet;

    public SqliteRecordStore(string path, bool fullSync = false)
    {
        connectionString = CareHub.Storage.Sqlite.SqliteFiles.ConnectionString(path);
        // The writer leaves checkpoints to WalCheckpointer; its own automatic checkpoint is only the backstop, at a WAL of
        // WalCheckpointer.BackstopPages.
        syncPragmas = $"PRAGMA synchronous = {(fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout = 30000; PRAGMA wal_autocheckpoint = {WalCheckpointer.BackstopPages};";
        DatabasePath = path;
    }

    public string DatabasePath { get; }

    public override string Backend => "sqlite";

    protected override string MigrationPrefix => "CareHub.Storage.Sqlite.Migrations.";

    protected override string NoSystemTokenIndex => " INDEXED BY ix_search_token_value_id";

    /// <summary>
    /// Rows of an analysis sampled per index in a background refresh: ANALYZE writes sqlite_stat1 in one transaction, so it
    /// holds the writer for as long as it reads (https://www.sqlite.org/lang_analyze.html#approx; SQLite suggests a few
    /// hundred to a thousand for applications that analyse as they run).
    /// </summary>
    private const int AnalysisLimit = 1000;

    /// <summary>
    /// Tables without statistics of their own (never analysed, or empty when last analysed) get the shipped baseline
    /// (migration 009), and the planner reloads sqlite_stat1 (ANALYZE sqlite_schema).
    /// </summary>
    private const string SeedStatisticsSql =
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT b.tbl, b.idx, b.stat FROM planner_baseline b " +
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 s WHERE s.tbl = b.tbl) " +
        "AND EXISTS (SELECT 1 FROM sqlite_schema m WHERE m.type IN ('index', 'table') AND m.name = b.idx); " +
        "ANALYZE sqlite_schema;";

    protected override async Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // ANALYZE of one small table creates sqlite_stat1 when it does not exist yet.
        await ExecuteAsync(connection, null, "ANALYZE planner_baseline; " + SeedStatisticsSql, cancellationToken);
        // Connections opened before (none in a starting server) would keep planning without the baseline.
        await RetireReadersAsync();
    }

    /// <summary>
    /// Analyses on the writer connection, holding the writer: ANALYZE is a write, so run beside the writer it would only
    /// wait for it, and the writer's own searches (conditional writes, the policy's checks of a write) then plan with the
    /// new statistics at once. Pooled reader connections keep the statistics they loaded when they opened, so the pool is
    /// cleared and readers open afresh.
    /// </summary>
    protected override async Task RefreshStatisticsCoreAsync(bool full, CancellationToken cancellationToken)
    {
        await writer.WaitAsync(cancellationToken);
        try
        {
            writerConnection ??= (SqliteConnection)await OpenAsync(cancellationToken);
            // Inside the open group's transaction when there is one: it commits with the group.
            await using var command = writerConnection.CreateCommand();
            command.Transaction = group;
            command.CommandText = $"PRAGMA analysis_limit = {(full ? 0 : AnalysisLimit)}; ANALYZE; {SeedStatisticsSql}";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            await ReleaseWriterAsync();
        }

        await RetireReadersAsync();
    }

    /// <summary>A read connection, which the cancellation of <paramref name="cancellationToken"/> stops mid-statement.</summary>
    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new ReadConnection(connectionString);
        await OpenConnectionAsync(connection, cancellationToken);
        connection.InterruptOn(cancellationToken);
        return connection;
    }

    private async Task OpenConnectionAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await connection.OpenAsync(cancellationToken);
        // journal_mode is persistent in the file, so it is set once; synchronous and busy_timeout are per connection.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = walSet
            ? syncPragmas
            : "PRAGMA journal_mode = WAL; " + syncPragmas;
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        walSet = true;
    }

    /// <summary>
    /// A connection that a cancelled request stops mid-statement. Microsoft.Data.Sqlite runs statements synchronously
    /// and its command cancellation does nothing once one runs, so a search went on long after its client left; the
    /// token is tied to sqlite3_interrupt (https://www.sqlite.org/c3ref/interrupt.html) instead, and released before
    /// the connection returns to the pool, so whoever uses the handle next is never interrupted.
    /// </summary>
    private sealed class ReadConnection(string connectionString) : SqliteConnection(connectionString)
    {
        private CancellationTokenRegistration interrupt;

        /// <summary>Ties the connection to one request's cancellation, in place of the request it served before.</summary>
        public void InterruptOn(CancellationToken cancellationToken)
        {
            interrupt.Dispose();
            interrupt = cancellationToken.CanBeCanceled
                ? cancellationToken.Register(static state =>
                {
                    if (((ReadConnection)state!).Handle is { } handle)
                    {
                        SQLitePCL.raw.sqlite3_interrupt(handle);
                    }
                }, this)
                : default;
        }

        /// <summary>Unties the connection from its request before another may use it (waits for a callback already running).</summary>
        public void ReleaseInterrupt()
        {
            interrupt.Dispose();
            interrupt = default;
        }

        public override void Close()
        {
            // Dispose waits for a callback already running, so no interrupt can land after this line.
            interrupt.Dispose();
            base.Close();
        }

        protected override void Dispose(bool disposing)
        {
            interrupt.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Searches run on reader connections this store keeps open, each with its compiled statements by SQL text. A search
    /// of a restricted caller carries the access policy's clauses, a few kilobytes of SQL with about a hundred parameters;
    /// compiling that on every query was most of what the policy added to a point read. The statement is the same text
    /// for every caller of one kind (role, organisation, purpose) and query shape, only its parameters differ, so a kept
    /// statement serves them all. Microsoft.Data.Sqlite finalises a command's statements when its connection is closed,
    /// which is why the connections are kept here rather than in its pool.
    /// </summary>
    protected override async ValueTask<Reader> RentReaderAsync(CancellationToken cancellationToken)
    {
        var generation = Volatile.Read(ref readerGeneration);
        KeptReader? kept = null;
        while (idleReaders.TryTake(out var idle))
        {
            if (idle.Generation == generation)
            {
                kept = idle;
                break;
            }

            await idle.DisposeAsync();
        }

        if (kept is null)
        {
            var connection = new ReadConnection(connectionString);
            await OpenConnectionAsync(connection, cancellationToken);
            KeptReaderOpened?.Invoke(connection);
            kept = new KeptReader(connection, generation);
        }

        // A kept reader serves one request at a time: its interrupt follows the request that rents it.
        kept.Connection.InterruptOn(cancellationToken);
        return new Reader(kept.Connection, kept.Commands, () => GiveBack(kept, cancellationToken));
    }

    private void GiveBack(KeptReader reader, CancellationToken cancellationToken)
    {
        reader.Connection.ReleaseInterrupt();
        // A reader whose request was cancelled may have been interrupted mid-statement: it is not kept.
        if (!cancellationToken.IsCancellationRequested && reader.Generation == Volatile.Read(ref readerGeneration) && idleReaders.Count < MaxIdleReaders)
        {
            idleReaders.Add(reader);
        }
        else
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Readers kept idle at most; more can be open while searches run, and are closed when handed back.</summary>
    private const int MaxIdleReaders = 16;

    /// <summary>Statements kept per reader; past it the reader starts again (shapes seen once do not pile up).</summary>
    private const int StatementsPerReader = 256;

    private readonly System.Collections.Concurrent.ConcurrentBag<KeptReader> idleReaders = [];

    /// <summary>Raised when statistics change or the store closes: readers of an older generation are closed, not reused.</summary>
    private int readerGeneration;

    private sealed class KeptReader(ReadConnection connection, int generation) : IAsyncDisposable
    {
        public ReadConnection Connection => connection;

        public int Generation => generation;

        public CommandCache Commands { get; } = new(StatementsPerReader);

        public async ValueTask DisposeAsync()
        {
            await Commands.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Kept readers compiled their statements with the old statistics and loaded those when they opened.</summary>
    private async Task RetireReadersAsync()
    {
        Interlocked.Increment(ref readerGeneration);
        while (idleReaders.TryTake(out var idle))
        {
            await idle.DisposeAsync();
        }

        SqliteConnection.ClearPool(new SqliteConnection(connectionString));
    }

    /// <summary>
    /// Group commit. SQLite has one writer and a commit costs more than the small writes before it, so write sessions run
    /// one at a time on one writer connection, each inside a savepoint of a shared transaction; the transaction commits when
    /// no other session is waiting for the writer (or the group is full), and every session in the group returns from its
    /// commit only then. A session that fails rolls back to its savepoint without touching the others' work; if the group's
    /// commit fails, every session in it fails, so nothing is acknowledged that is not durable.
    /// </summary>
    protected override async Task<WriteScope> BeginWriteScopeAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref waiting);
        try
        {
            await writer.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref waiting);
            // Whoever held the writer may have left the group open for us: make sure it is committed.
            if (writer.Wait(0, CancellationToken.None))
            {
                await ReleaseWriterAsync();
            }

            throw;
        }

        Interlocked.Decrement(ref waiting);
        try
        {
            if (writerConnection is null)
            {
                // The writer is shared by every session of a group: no one request's cancellation may interrupt it.
                var connection = new SqliteConnection(connectionString);
                await OpenConnectionAsync(connection, cancellationToken);
                writerConnection = connection;
            }

            if (group is null)
            {
                // BEGIN IMMEDIATE: take SQLite's write lock now, so a read-then-write never fails on upgrade.
                group = writerConnection.BeginTransaction(deferred: false);
                groupDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

                // The group's first session needs no savepoint: if it fails, the whole transaction holds nothing else and
                // is rolled back. A savepoint copies every page the session changes into a statement journal (a temporary
                // file once past SQLite's spill size): hundreds of page writes for a Patient create with matching.
                return new GroupScope(this, writerConnection, group, groupDone, first: true);
            }

            await writerCommands.Get(writerConnection, group, "SAVEPOINT session").ExecuteNonQueryAsync(cancellationToken);
            return new GroupScope(this, writerConnection, group, groupDone!, first: false);
        }
        catch
        {
            await ReleaseWriterAsync();
            throw;
        }
    }

    /// <summary>Hands the writer on; commits the open group first when nobody else is waiting for it or it is full.</summary>
    private async Task ReleaseWriterAsync()
    {
        try
        {
            if (group is not null && (Volatile.Read(ref waiting) == 0 || groupMembers >= MaxGroup))
            {
                var transaction = group;
                var done = groupDone!;
                Interlocked.Increment(ref groupsCommitted);
                Interlocked.Add(ref sessionsCommitted, groupMembers);
                group = null;
                groupDone = null;
                groupMembers = 0;
                var committed = false;
                try
                {
                    await transaction.CommitAsync(CancellationToken.None);
                    done.SetResult();
                    committed = true;
                }
                catch (Exception e)
                {
                    done.SetException(e);
                    try
                    {
                        await transaction.RollbackAsync(CancellationToken.None);
                    }
                    catch (SqliteException)
                    {
                        // A failed COMMIT may already have ended the transaction.
                    }
                }
                finally
                {
                    await transaction.DisposeAsync();
                }

                if (committed)
                {
                    Checkpoints.Committed();
                }
            }
        }
        finally
        {
            writer.Release();
        }
    }

    private const int MaxGroup = 64;

    private WalCheckpointer? checkpoints;

    /// <summary>Checkpoints the background checkpointer has run: for benchmarks and tests.</summary>
    public long CheckpointPasses => checkpoints?.Passes ?? 0;

    /// <summary>Called with each reader connection this store opens to keep, before its first statement (for tests that watch its statements).</summary>
    internal Action<SqliteConnection>? KeptReaderOpened { get; init; }

    /// <summary>Background checkpoints that failed, and the last failure (for /health).</summary>
    public (long Failures, DateTimeOffset? At, string? Message) CheckpointFailures => checkpoints?.Failures ?? (0, null, null);

    /// <summary>The background checkpointer, started by the first commit.</summary>
    private WalCheckpointer Checkpoints => checkpoints ??= new WalCheckpointer(ct => OpenAsync(ct));

    /// <summary>
    /// Group commits so far and the write sessions they held (sessions that wrote nothing are not counted), for benchmarks:
    /// how well the group commit batches under a given load.
    /// </summary>
    public (long Groups, long Sessions) GroupCommits => (Interlocked.Read(ref groupsCommitted), Interlocked.Read(ref sessionsCommitted));

    private long groupsCommitted;
    private long sessionsCommitted;

    private int waiting;
    private int groupMembers;
    private SqliteConnection? writerConnection;

    /// <summary>The write path's commands on <see cref="writerConnection"/>, compiled once for its lifetime.</summary>
    private readonly CommandCache writerCommands = new();
    private SqliteTransaction? group;
    private TaskCompletionSource? groupDone;

    private sealed class GroupScope(SqliteRecordStore store, SqliteConnection connection, SqliteTransaction transaction, TaskCompletionSource groupDone, bool first) : WriteScope
    {
        private bool released;

        public override DbConnection Connection => connection;

        public override DbTransaction Transaction => transaction;

        public override CommandCache Commands => store.writerCommands;

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (!first)
            {
                await store.writerCommands.Get(connection, transaction, "RELEASE SAVEPOINT session").ExecuteNonQueryAsync(CancellationToken.None);
            }

            store.groupMembers++;
            released = true;
            await store.ReleaseWriterAsync();
            // Durable only when the group's transaction has committed.
            await groupDone.Task;
        }

        public override async ValueTask DisposeAsync()
        {
            if (released)
            {
                return;
            }

            released = true;
            if (first)
            {
                // Nothing else is in the group: end it. No one waits on its completion, as no session has committed into it.
                store.group = null;
                store.groupDone = null;
                store.groupMembers = 0;
                try
                {
                    await transaction.RollbackAsync(CancellationToken.None);
                }
                catch (Exception e) when (e is SqliteException or InvalidOperationException)
                {
                    // A failed statement may already have ended the transaction.
                }
                finally
                {
                    await transaction.DisposeAsync();
                    store.writer.Release();
                }

                return;
            }

            try
            {
                await ExecuteAsync(connection, transaction, "ROLLBACK TO SAVEPOINT session; RELEASE SAVEPOINT session", CancellationToken.None);
            }
            finally
            {
                await store.ReleaseWriterAsync();
            }
        }
    }

    protected override Exception? Translate(DbException exception, VersionWrite write) =>
        exception is SqliteException { SqliteErrorCode: 19 } // SQLITE_CONSTRAINT: a version row that already exists
            ? new VersionConflictException(write.Type, write.Id, write.ExpectedVersion, null)
            : null;

    protected override async ValueTask CloseCoreAsync()
    {
        await StopStatisticsAsync();
        // With the writer held no commit is in flight, so none can signal the checkpointer as it stops.
        await writer.WaitAsync();
        if (checkpoints is not null)
        {
            await checkpoints.DisposeAsync();
        }

        await writerCommands.DisposeAsync();
        if (writerConnection is not null)
        {
            // What SQLite asks of a connection that has written before it closes: analyse the tables whose statistics are
            // out of date, within the sampling limit (https://www.sqlite.org/pragma.html#pragma_optimize).
            try
            {
                await ExecuteAsync(writerConnection, null, $"PRAGMA analysis_limit = {AnalysisLimit}; PRAGMA optimize;", CancellationToken.None);
            }
            catch (SqliteException)
            {
                // Closing goes on: statistics are an optimisation, and the next start has the baseline or the last analysis.
            }

            await writerConnection.DisposeAsync();
            writerConnection = null;
        }

        await RetireReadersAsync();
        writer.Dispose();
    }
}
