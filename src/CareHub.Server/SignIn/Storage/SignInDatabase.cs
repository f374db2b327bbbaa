using System.Data.Common;
using System.Globalization;
using CareHub.Storage;

namespace CareHub.Server.SignIn.Storage;

/// <summary>
/// The sign-in store's database: the OpenID Connect server's clients, authorizations, tokens, scopes and keys, in
/// CareHub's own database (the record's SQLite folder or PostgreSQL schema), in tables of their own with their own
/// numbered migrations and version table (<c>signin_schema_version</c>). The SQL, migrations included, is shared; the
/// SQLite and PostgreSQL providers differ only in how they open connections, serialise writes and lock migrations. The OpenIddict stores
/// (<see cref="SignInApplicationStore"/> and its siblings) read and write through it.
/// </summary>
public abstract class SignInDatabase : IAsyncDisposable
{
    /// <summary>The schema version this build writes and reads; migrations 1..N are embedded resources.</summary>
    public const int SchemaVersion = 1;

    public abstract string Backend { get; }

    /// <summary>Resource name prefix of the numbered migration scripts, written in SQL both databases run.</summary>
    private const string MigrationPrefix = "CareHub.Server.SignIn.Storage.Migrations.";

    /// <summary>Opens a connection for reading or for a single statement.</summary>
    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a write transaction; SQLite takes its single-writer lock here.</summary>
    public abstract Task<SqlWriteScope> BeginWriteAsync(CancellationToken cancellationToken);

    /// <summary>True when the exception is a unique-key violation (a client id or reference id that exists).</summary>
    public abstract bool IsUniqueViolation(DbException exception);

    protected virtual Task PrepareForMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    protected virtual Task FinishMigrationAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();

    /// <summary>Brings the sign-in tables to this build's schema; a database newer than this build is refused.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await PrepareForMigrationAsync(connection, cancellationToken);
        try
        {
            await SqlMigrations.ApplyAsync(connection, "signin_schema_version", SchemaVersion,
                SqlMigrations.Load(typeof(SignInDatabase).Assembly, MigrationPrefix, problem => new InvalidOperationException($"The {Backend} sign-in store's {problem}.")),
                current => new InvalidOperationException(
                    $"The {Backend} sign-in store is at schema version {current} but this build of CareHub knows only up to {SchemaVersion}. Upgrade CareHub, or point it at another database."),
                cancellationToken);
        }
        finally
        {
            // Not cancellable: a pooled connection must not go back to the pool still holding the migration lock.
            await FinishMigrationAsync(connection, CancellationToken.None);
        }
    }

    /// <summary>Runs a query and maps each row; the rows are read before the connection closes.</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = SqlCommands.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    /// <summary>Runs one statement in a write transaction and returns the rows it changed.</summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var write = await BeginWriteAsync(cancellationToken);
        await using var command = SqlCommands.Command(write.Connection, write.Transaction, sql, parameters);
        var changed = await command.ExecuteNonQueryAsync(cancellationToken);
        await write.Transaction.CommitAsync(cancellationToken);
        return changed;
    }

    /// <summary>Runs a scalar query.</summary>
    public async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlCommands.ScalarAsync(connection, null, sql, cancellationToken, parameters);
    }

    public static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static DateTimeOffset? Time(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture));

    public static object? Millis(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();
}
