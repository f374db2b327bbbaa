using System.Net;
using Hl7.Fhir.Model;

namespace CareHub.Fhir;

/// <summary>
/// An error that reaches a client. It carries the HTTP status and FHIR issues; the server maps it,
/// in one place, to an OperationOutcome. The message must never contain patient data.
/// </summary>
public class FhirException : Exception
{
    public FhirException(HttpStatusCode status, OperationOutcome.IssueType code, string message, string? expression = null)
        : base(message)
    {
        Status = status;
        Issues = [new Issue(OperationOutcome.IssueSeverity.Error, code, message, expression)];
    }

    public FhirException(HttpStatusCode status, IReadOnlyList<Issue> issues)
        : base(issues.Count > 0 ? issues[0].Diagnostics : status.ToString())
    {
        Status = status;
        Issues = issues;
    }

    public HttpStatusCode Status { get; }

    public IReadOnlyList<Issue> Issues { get; }

    public sealed record Issue(OperationOutcome.IssueSeverity Severity, OperationOutcome.IssueType Code, string Diagnostics, string? Expression = null);

    public static FhirException BadRequest(string message, string? expression = null) =>
        new(HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid, message, expression);

    public static FhirException NotFound(string message) =>
        new(HttpStatusCode.NotFound, OperationOutcome.IssueType.NotFound, message);

    public static FhirException Unprocessable(string message, string? expression = null) =>
        new(HttpStatusCode.UnprocessableEntity, OperationOutcome.IssueType.Processing, message, expression);

    public static FhirException Conflict(string message) =>
        new(HttpStatusCode.Conflict, OperationOutcome.IssueType.Conflict, message);

    public static FhirException PreconditionFailed(string message) =>
        new(HttpStatusCode.PreconditionFailed, OperationOutcome.IssueType.Conflict, message);
}
