using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Governance;

/// <summary>
/// The access policy refused the request. It carries what the failure's audit record needs: the rule that refused, the
/// patients the request was about, and whether the refusal was already audited where it was made. A refusal of a record
/// the policy hides (<see cref="Hidden"/>) answers exactly as a missing record does, 404 with "not known", so a hidden
/// record and a missing one look the same to the caller; otherwise it is a 403 that says why.
/// </summary>
public sealed class AccessDeniedException : FhirException
{
    /// <summary>A 403 refusal whose message is the policy's explanation.</summary>
    public AccessDeniedException(string reason, string? rule = null, IReadOnlyCollection<string>? patients = null, bool audited = false)
        : this(OperationOutcome.IssueType.Forbidden, reason, rule, patients, audited)
    {
    }

    private AccessDeniedException(OperationOutcome.IssueType code, string message, string? rule, IReadOnlyCollection<string>? patients, bool audited)
        : base(code, message)
    {
        Rule = rule;
        Patients = patients ?? [];
        Audited = audited;
    }

    /// <summary>A refusal of a record the caller may not know exists, worded as a missing record's <paramref name="notFound"/> message.</summary>
    public static AccessDeniedException HiddenRecord(string notFound, string? rule = null, IReadOnlyCollection<string>? patients = null, bool audited = false) =>
        new(OperationOutcome.IssueType.NotFound, notFound, rule, patients, audited);

    /// <summary>The name of the policy rule that refused (e.g. <c>relationship</c>, <c>self-claimed-relationship</c>), when one did.</summary>
    public string? Rule { get; }

    /// <summary>The patients (<c>Patient/id</c>) the refused request was about.</summary>
    public IReadOnlyCollection<string> Patients { get; }

    /// <summary>True when the refusal was audited where it was made, so the request's failure path must not audit it again.</summary>
    public bool Audited { get; }

    /// <summary>True when the caller must not learn the record exists: the refusal reads as not found.</summary>
    public bool Hidden => Issues[0].Code == OperationOutcome.IssueType.NotFound;
}
