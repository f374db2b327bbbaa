using CareHub.Identity.Matching;

namespace CareHub.Identity;

/// <summary>What the MPI does with an NHS Number that fails the Modulus 11 check.</summary>
public enum InvalidNhsNumberHandling
{
    /// <summary>Refuse the write with 422, naming the identifier: nothing is stored.</summary>
    Reject,

    /// <summary>
    /// Store the record as sent, tagged <see cref="MpiCodes.InvalidNhsNumberTag"/> in <c>meta.tag</c>; the number is
    /// not used for matching. For feeds that must not lose a record over a mistyped number.
    /// </summary>
    AcceptAndFlag,
}

/// <summary>When a Patient write is matched against the others.</summary>
public enum MpiMatching
{
    /// <summary>
    /// In the write's own transaction: when the write returns, the record is linked or queued for review, and every
    /// reader sees it so. The default.
    /// </summary>
    Inline,

    /// <summary>
    /// After the write commits, by <see cref="QueuedMatcher"/> reading the change feed: the write does not wait for
    /// matching, and a record is linked a moment later (the backlog is on <c>Patient/$mpi-status</c>). For bulk loads and
    /// feeds whose rate matters more than seeing the link at once; HAPI FHIR's MDM always works this way.
    /// </summary>
    Queued,
}

/// <summary>The master person index's settings. Bound from <c>CareHub:Mpi</c>.</summary>
public sealed record MpiOptions
{
    public const string SectionName = "CareHub:Mpi";

    /// <summary>Matching and linking on every Patient write; off, the record stores Patients without Persons.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Whether a Patient write is matched in its own transaction or queued and matched just after.</summary>
    public MpiMatching Matching { get; init; } = MpiMatching.Inline;

    /// <summary>With queued matching, the most Patients matched in one transaction.</summary>
    public int QueueBatchSize { get; init; } = 50;

    /// <summary>What happens to a write carrying an NHS Number that fails the check digit.</summary>
    public InvalidNhsNumberHandling InvalidNhsNumber { get; init; } = InvalidNhsNumberHandling.Reject;

    /// <summary>At or above this weight a pair links automatically (see <see cref="MatchSettings.AutoLinkWeight"/>).</summary>
    public double AutoLinkWeight { get; init; } = MatchSettings.Default.AutoLinkWeight;

    /// <summary>
    /// At or above this weight (a likelihood ratio of 1024 to 1) a pair is queued for review. Lower than the engine's
    /// default because the MPI spends precision only on automatic links: a queued pair costs a person's glance, a missed
    /// pair a split record. On the shared datasets it lifts recall with the queue from 0.75 to 0.90 (splink) at a larger
    /// queue (see docs/mpi.md).
    /// </summary>
    public double ReviewWeight { get; init; } = 10;

    /// <summary>At or above this weight (and below <see cref="ReviewWeight"/>) <c>$match</c> lists a record as a possible match.</summary>
    public double PossibleWeight { get; init; } = 6;

    /// <summary>
    /// A blocking key shared by more Patients than this is not used to find candidates: it says little and costs much
    /// (a placeholder email, a common name in one year). Other keys still bring true pairs together.
    /// </summary>
    public int MaxBlockSize { get; init; } = BlockingOptions.Default.MaxBlockSize;

    /// <summary>
    /// The most candidates one write or one <c>$match</c> compares, those sharing the most blocking keys first (see
    /// <see cref="CandidateBlocks"/>): it bounds the cost of a write however large the record grows.
    /// </summary>
    public int MaxCandidates { get; init; } = 50;

    /// <summary>
    /// Stored Patients kept prepared for comparison in memory (about 1 KB each), so a frequent candidate is not parsed
    /// again on every write; 0 turns the cache off.
    /// </summary>
    public int CandidateCacheSize { get; init; } = 50_000;

    /// <summary>The most records <c>$match</c> returns when the request gives no <c>count</c>.</summary>
    public int DefaultMatchCount { get; init; } = 10;

    /// <summary>The engine's settings built from these options.</summary>
    public MatchSettings ToMatchSettings() => MatchSettings.Default with
    {
        AutoLinkWeight = AutoLinkWeight,
        ReviewWeight = ReviewWeight,
        PossibleWeight = PossibleWeight,
        Blocking = BlockingOptions.Default with { MaxBlockSize = MaxBlockSize },
    };

    /// <summary>Fails fast at start-up with a message naming the bad setting.</summary>
    public void Validate()
    {
        try
        {
            ToMatchSettings().Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"{SectionName}: {e.Message}", e);
        }

        if (MaxCandidates < 1)
        {
            throw new InvalidOperationException($"{SectionName}:MaxCandidates must be at least 1 (it is {MaxCandidates}).");
        }

        if (CandidateCacheSize < 0)
        {
            throw new InvalidOperationException($"{SectionName}:CandidateCacheSize must not be negative (it is {CandidateCacheSize}).");
        }

        if (QueueBatchSize < 1)
        {
            throw new InvalidOperationException($"{SectionName}:QueueBatchSize must be at least 1 (it is {QueueBatchSize}).");
        }

        if (DefaultMatchCount < 1)
        {
            throw new InvalidOperationException($"{SectionName}:DefaultMatchCount must be at least 1 (it is {DefaultMatchCount}).");
        }
    }
}
