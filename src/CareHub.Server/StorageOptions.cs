namespace CareHub.Server;

/// <summary>Where the record is stored and what a request may carry. Bound from <c>CareHub:Storage</c>.</summary>
public sealed record StorageOptions
{
    public const string SectionName = "CareHub:Storage";

    /// <summary>Folder of the embedded SQLite store (<c>carehub.db</c> inside it). Used when <see cref="Postgres"/> is not set.</summary>
    public string DataDirectory { get; init; } = ".data";

    /// <summary>An Npgsql connection string; when set, the record lives in PostgreSQL instead of SQLite.</summary>
    public string? Postgres { get; init; }

    /// <summary>The PostgreSQL schema for CareHub's tables (created when missing); the connection's default when unset.</summary>
    public string? PostgresSchema { get; init; }

    /// <summary>SQLite synchronous=FULL: survive power loss as well as a killed process, at some cost to write speed.</summary>
    public bool FullSync { get; init; }

    /// <summary>
    /// Committed writes (versions and index rebuilds) between the store's background refreshes of the query planner's
    /// statistics; 0 turns them off (loaders still refresh after a bulk load).
    /// </summary>
    public int StatisticsEvery { get; init; } = CareHub.Storage.StatisticsOptions.Default.Every;

    /// <summary>The largest request body accepted, in bytes (413 past it).</summary>
    public long MaxBodyBytes { get; init; } = 64L * 1024 * 1024;

    public void Validate()
    {
        if (Postgres is null && string.IsNullOrWhiteSpace(DataDirectory))
        {
            throw new InvalidOperationException($"{SectionName}:DataDirectory is empty: give a folder for the embedded store, or set {SectionName}:Postgres.");
        }

        if (StatisticsEvery < 0)
        {
            throw new InvalidOperationException($"{SectionName}:StatisticsEvery must be 0 (off) or a number of writes (it is {StatisticsEvery}).");
        }

        if (MaxBodyBytes < 1024)
        {
            throw new InvalidOperationException($"{SectionName}:MaxBodyBytes must be at least 1024 bytes (it is {MaxBodyBytes}).");
        }
    }
}
