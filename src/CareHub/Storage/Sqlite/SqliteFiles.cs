using Microsoft.Data.Sqlite;

namespace CareHub.Storage.Sqlite;

/// <summary>How the SQLite stores (record and messages) open their file: its folder created, pooled, a 30 s busy timeout.</summary>
public static class SqliteFiles
{
    public static string ConnectionString(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        return new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }
}
