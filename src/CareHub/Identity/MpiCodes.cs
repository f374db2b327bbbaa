using Hl7.Fhir.Model;

namespace CareHub.Identity;

/// <summary>The MPI's vocabulary: its tag, extensions and the index parameters it owns.</summary>
public static class MpiCodes
{
    /// <summary>The scope of the MPI's own look-ups; an operation's reader narrows them to what its caller may see.</summary>
    public static Storage.QueryScope Lookup { get; } = Storage.QueryScope.Internal("the MPI's own look-up");

    /// <summary>The code system of the MPI's tags and Task codes.</summary>
    public const string System = "https://carehub.local/fhir/CodeSystem/mpi";

    /// <summary>Tag of the Person and Task resources the MPI manages; clients cannot write resources carrying it.</summary>
    public static Coding ManagedTag => new(System, "managed", "Managed by the master person index");

    /// <summary>Tag of a Patient stored with an NHS Number that fails the Modulus 11 check (accept-and-flag mode).</summary>
    public static Coding InvalidNhsNumberTag => new(System, "invalid-nhs-number", "NHS Number fails the Modulus 11 check");

    /// <summary>Task.code of a pair awaiting a person's decision.</summary>
    public const string ReviewCode = "review";

    /// <summary>Task.code of a decision that two records are different people (an unlink).</summary>
    public const string NoLinkCode = "no-link";

    private const string Extensions = "https://carehub.local/fhir/StructureDefinition/";

    /// <summary>Person.link extension: how the link was made (<c>automatic</c> or <c>manual</c>).</summary>
    public const string LinkOrigin = Extensions + "mpi-link-origin";

    /// <summary>Person.link extension: the match weight (log2 likelihood ratio) that made an automatic link.</summary>
    public const string LinkScore = Extensions + "mpi-link-score";

    /// <summary>Person.link extension: when the link was made.</summary>
    public const string LinkDate = Extensions + "mpi-link-date";

    /// <summary>Person.link extension: the rule that decided (e.g. <c>SameNhsNumberAndBirthDate</c>, <c>Probabilistic</c>).</summary>
    public const string LinkRule = Extensions + "mpi-link-rule";

    /// <summary>The match-grade extension on a $match entry's search element (FHIR R4 Patient $match).</summary>
    public const string MatchGrade = "http://hl7.org/fhir/StructureDefinition/match-grade";

    /// <summary>Index rows of a Patient: its blocking keys.</summary>
    public const string BlockParam = "_mpi-block";

    /// <summary>Index rows of an MPI Person: the id of each linked Patient.</summary>
    public const string LinkParam = "_mpi-link";

    /// <summary>Index rows of an MPI Task: the ids of its two Patients, and "a|b" of the pair.</summary>
    public const string SubjectParam = "_mpi-subject";

    public const string PairParam = "_mpi-pair";

    /// <summary>Index row of an MPI Task: its status, so the review queue is one query.</summary>
    public const string StatusParam = "_mpi-status";

    /// <summary>The <c>Patient/[id]/$everything</c> parameter that includes the records linked to the same Person.</summary>
    public const string EverythingParam = "_mpi-linked";

    public const string Automatic = "automatic";
    public const string Manual = "manual";

    /// <summary>The pair key of two Patient ids, the same in either order.</summary>
    public static string PairKey(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? a + "|" + b : b + "|" + a;

    public static bool IsManaged(Resource resource) =>
        resource.Meta?.Tag.Any(t => t.System == System && t.Code == "managed") ?? false;
}
