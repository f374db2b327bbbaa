using System.Data.Common;
using System.Globalization;

namespace CareHub.Storage;

/// <summary>
/// Numbered SQL migrations embedded in the assembly (<c>NNN_name.sql</c> under a resource prefix), applied in order, each
/// in its own transaction with its row in a version table. Shared by the record store and the message store, which keep
/// separate version tables so each can evolve on its own. Numbers need not be contiguous: migrations written side by side
/// on different branches may land in either order, so a database gets every migration it has not recorded, not only
/// those above its highest number.
/// </summary>
public static class SqlMigrations
{
    /// <summary>The scripts under <paramref name="prefix"/> in ascending order; numbers must be positive and distinct.</summary>
    public static IReadOnlyList<(int Version, string Sql)> Load(string prefix, Func<string, Exception> invalid) =>
        Load(typeof(SqlMigrations).Assembly, prefix, invalid);

    /// <summary>The scripts embedded in <paramref name="assembly"/> under <paramref name="prefix"/>, for stores that live outside this assembly.</summary>
    public static IReadOnlyList<(int Version, string Sql)> Load(System.Reflection.Assembly assembly, string prefix, Func<string, Exception> invalid)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var list = new List<(int Version, string Sql)>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var file = name[prefix.Length..];
            var number = int.Parse(file[..file.IndexOf('_', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((number, reader.ReadToEnd()));
        }

        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version < 1 || (i > 0 && list[i].Version == list[i - 1].Version))
            {
                throw invalid($"migrations must have distinct positive numbers: found {list[i].Version} twice or below 1");
            }
        }

        return list;
    }

    /// <summary>
    /// Applies the migrations newer than the database's version. A database newer than <paramref name="known"/> is
    /// refused with <paramref name="tooNew"/> (given the database's version), before anything is changed.
    /// </summary>
    public static async Task ApplyAsync(DbConnection connection, string versionTable, int known, IReadOnlyList<(int Version, string Sql)> migrations,
        Func<int, Exception> tooNew, CancellationToken cancellationToken)
    {
        await SqlCommands.ExecuteAsync(connection, null, $"CREATE TABLE IF NOT EXISTS {versionTable} (version INTEGER NOT NULL PRIMARY KEY, applied TEXT NOT NULL)", cancellationToken);
        var applied = new HashSet<int>();
        await using (var command = SqlCommands.Command(connection, null, $"SELECT version FROM {versionTable}"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture));
            }
        }

        var current = applied.Count == 0 ? 0 : applied.Max();
        if (current > known)
        {
            throw tooNew(current);
        }

        foreach (var (version, sql) in migrations.Where(m => !applied.Contains(m.Version)))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await SqlCommands.ExecuteAsync(connection, transaction, sql, cancellationToken);
            await SqlCommands.ExecuteAsync(connection, transaction, $"INSERT INTO {versionTable} (version, applied) VALUES (@v, @t)", cancellationToken,
                ("@v", version), ("@t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Migrates a store beside the record (messages, notifications) on one connection: <paramref name="prepare"/> takes the
    /// provider's migration lock, the scripts under <paramref name="prefix"/> are applied, and <paramref name="finish"/>
    /// releases the lock whatever happened. Errors name the store (<paramref name="store"/>, e.g. "sqlite message store").
    /// </summary>
    public static async Task MigrateStoreAsync(DbConnection connection, Func<DbConnection, CancellationToken, Task> prepare, Func<DbConnection, CancellationToken, Task> finish,
        string versionTable, int known, string prefix, string store, Func<string, Exception> error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(finish);
        ArgumentNullException.ThrowIfNull(error);
        await prepare(connection, cancellationToken);
        try
        {
            await ApplyAsync(connection, versionTable, known, Load(prefix, problem => error($"The {store}'s {problem}.")),
                current => error($"The {store} is at schema version {current} but this build of CareHub knows only up to {known}. Upgrade CareHub, or point it at another database."),
                cancellationToken);
        }
        finally
        {
            // Not cancellable: a pooled connection must not go back to the pool still holding the migration lock.
            await finish(connection, CancellationToken.None);
        }
    }
}
