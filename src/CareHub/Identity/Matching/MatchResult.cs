namespace CareHub.Identity.Matching;

/// <summary>What to do with a compared pair.</summary>
public enum MatchOutcome
{
    /// <summary>Link the records as one person without asking anyone.</summary>
    Link,

    /// <summary>Queue the pair for a person to decide.</summary>
    Review,

    /// <summary>Treat the records as different people.</summary>
    NoMatch,
}

/// <summary>The FHIR match grade (R4 Patient $match, value set <c>http://hl7.org/fhir/ValueSet/match-grade</c>).</summary>
public enum MatchGrade
{
    /// <summary><c>certain</c>: meets the criteria to be considered a full match automatically.</summary>
    Certain,

    /// <summary><c>probable</c>: a close match; review may be needed before use.</summary>
    Probable,

    /// <summary><c>possible</c>: may match; review should be performed before use.</summary>
    Possible,

    /// <summary><c>certainly-not</c>: known not to match.</summary>
    CertainlyNot,
}

/// <summary>Which rule decided the outcome.</summary>
public enum MatchRule
{
    /// <summary>The same valid NHS Number and agreeing birth dates: linked without scoring.</summary>
    SameNhsNumberAndBirthDate,

    /// <summary>Two different valid NHS Numbers: never linked automatically.</summary>
    DifferentNhsNumbers,

    /// <summary>
    /// The same valid NHS Number but birth dates that disagree: scored, and at most queued for review,
    /// because a shared number with a conflicting birth date is as likely a wrongly assigned number as a typo.
    /// </summary>
    SameNhsNumberBirthDateConflict,

    /// <summary>Decided by the Fellegi-Sunter weight against the thresholds.</summary>
    Probabilistic,

    /// <summary>
    /// Weighty enough to link, but the given names differ: queued for review, never linked automatically, because twins
    /// and others born the same day in one household agree on everything else.
    /// </summary>
    GivenNameConflict,
}

/// <summary>
/// The result of comparing two person records. <see cref="Weight"/> and <see cref="Probability"/> are
/// the probabilistic evidence, computed for every pair so a reviewer always sees it; when a
/// deterministic <see cref="Rule"/> decided, the outcome follows the rule instead.
/// </summary>
public sealed record MatchResult(
    PersonRecord Left,
    PersonRecord Right,
    MatchOutcome Outcome,
    MatchGrade? Grade,
    MatchRule Rule,
    double Weight,
    double Probability,
    bool NamesSwapped,
    IReadOnlyList<FieldComparison> Fields)
{
    /// <summary>The fields that agreed, fully or partly.</summary>
    public IEnumerable<FieldComparison> Agreeing => Fields.Where(f => f.Agreement is FieldAgreement.Agrees or FieldAgreement.PartlyAgrees);

    /// <summary>The fields that differed.</summary>
    public IEnumerable<FieldComparison> Differing => Fields.Where(f => f.Agreement == FieldAgreement.Differs);
}

/// <summary>One field of a compared pair, as a review screen shows it.</summary>
/// <param name="Level">The agreement level, or null when a value is missing.</param>
/// <param name="Weight">log2(m/u) of the level; 0 when missing.</param>
public sealed record FieldComparison(MatchField Field, ComparisonLevel? Level, FieldAgreement Agreement, double Weight);
