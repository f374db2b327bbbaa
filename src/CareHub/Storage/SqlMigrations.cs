using System.Data.Common;
using System.Globalization;

namespace CareHub.Storage;

/// <summary>
/// Numbered SQL migrations embedded in the assembly (<c>NNN_name.sql</c> under a resource prefix), applied in order, each
/// in its own transaction with its row in a version table. Shared by the record store and the message store, which keep
/// separate version tables so each can evolve on its own.
/// </summary>
public static class SqlMigrations
{
    /// <summary>The scripts under <paramref name="prefix"/>, which must be numbered 1..N.</summary>
    public static IReadOnlyList<(int Version, string Sql)> Load(string prefix, Func<string, Exception> invalid)
    {
        var assembly = typeof(SqlMigrations).Assembly;
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
            if (list[i].Version != i + 1)
            {
                throw invalid($"migrations are not numbered 1..N: found {list[i].Version} at position {i + 1}");
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
        var current = Convert.ToInt32(await SqlCommands.ScalarAsync(connection, null, $"SELECT COALESCE(MAX(version), 0) FROM {versionTable}", cancellationToken), CultureInfo.InvariantCulture);
        if (current > known)
        {
            throw tooNew(current);
        }

        foreach (var (version, sql) in migrations.Where(m => m.Version > current))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await SqlCommands.ExecuteAsync(connection, transaction, sql, cancellationToken);
            await SqlCommands.ExecuteAsync(connection, transaction, $"INSERT INTO {versionTable} (version, applied) VALUES (@v, @t)", cancellationToken,
                ("@v", version), ("@t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
            await transaction.CommitAsync(cancellationToken);
        }
    }
}
