using Npgsql;

namespace CareHub.Tests.Terminology;

/// <summary>Where the terminology tests put their SNOMED CT stores: a SQLite file of their own, or a PostgreSQL schema of their own.</summary>
internal static class SnomedTestStores
{
    public static string SqlitePath() => Path.Combine(Path.GetTempPath(), $"carehub-sct-{Guid.NewGuid():N}.db");

    public static void DeleteSqlite(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }

    public static string PostgresSchema() => $"carehub_sct_{Guid.NewGuid():N}";

    /// <summary>The server from CAREHUB_TEST_POSTGRES; the test is skipped with the reason when it is not set.</summary>
    public static string PostgresConnectionString()
    {
        var value = Environment.GetEnvironmentVariable("CAREHUB_TEST_POSTGRES");
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Skip("CAREHUB_TEST_POSTGRES is not set: run ./carehub test, which starts a throwaway PostgreSQL");
        }

        return value;
    }

    public static async ValueTask DropPostgresAsync(string schema)
    {
        await using var admin = NpgsqlDataSource.Create(PostgresConnectionString());
        await using var command = admin.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}
