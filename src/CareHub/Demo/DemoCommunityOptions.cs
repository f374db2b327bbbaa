namespace CareHub.Demo;

/// <summary>What demo community to generate. The same options always give byte-identical bundles.</summary>
public sealed record DemoCommunityOptions
{
    /// <summary>Picks names, places, histories and the urn:uuid fullUrls. NHS Numbers do not depend on it.</summary>
    public int Seed { get; init; } = 20261101;

    /// <summary>How many patients, one transaction Bundle each; at least 1, at most <see cref="MaxPatients"/>.</summary>
    public int Patients { get; init; } = 240;

    /// <summary>"Today" for the community: histories end here and ages are counted from it. No clock is read.</summary>
    public DateOnly ReferenceDate { get; init; } = new(2026, 11, 1);

    /// <summary>The upper bound of <see cref="Patients"/>: enough for load tests, small enough to stay in memory.</summary>
    public const int MaxPatients = 100_000;

    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the message says which.</exception>
    public void Validate()
    {
        if (Patients is < 1 or > MaxPatients)
        {
            throw new ArgumentOutOfRangeException(nameof(Patients), Patients, $"Patients must be between 1 and {MaxPatients}.");
        }

        if (ReferenceDate.Year is < 1950 or > 9000)
        {
            throw new ArgumentOutOfRangeException(nameof(ReferenceDate), ReferenceDate, "ReferenceDate must fall between 1950 and 9000.");
        }
    }
}
