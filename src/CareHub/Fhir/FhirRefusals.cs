using Hl7.Fhir.Model;

namespace CareHub.Fhir;

// The refusals a client can meet, one type for each thing that went wrong; FhirStatus gives each its HTTP status
// (R4 http.html, and the status codes it names for each interaction).

/// <summary>The request is malformed or breaks a FHIR rule the server checks before doing anything.</summary>
public sealed class InvalidInputException : FhirException
{
    public InvalidInputException(string message, string? expression = null)
        : base(OperationOutcome.IssueType.Invalid, message, expression)
    {
    }

    public InvalidInputException(IReadOnlyList<Issue> issues)
        : base(issues)
    {
    }
}

/// <summary>The request asks for more work than the server allows (search.html: too-costly), and says which limit.</summary>
public sealed class TooCostlyException(string message, string? expression = null)
    : FhirException(OperationOutcome.IssueType.TooCostly, message, expression);

/// <summary>The request body is larger than the server accepts.</summary>
public sealed class RequestTooLargeException(string message)
    : FhirException(OperationOutcome.IssueType.TooCostly, message);

/// <summary>The request is well formed but its content cannot be acted on (a resource that fails validation, a business rule).</summary>
public sealed class UnprocessableException : FhirException
{
    public UnprocessableException(string message, string? expression = null)
        : base(OperationOutcome.IssueType.Processing, message, expression)
    {
    }

    public UnprocessableException(IReadOnlyList<Issue> issues)
        : base(issues)
    {
    }
}

/// <summary>The caller is not authenticated: no credentials, or credentials the server does not accept.</summary>
public sealed class UnauthenticatedException(string message)
    : FhirException(OperationOutcome.IssueType.Login, message);

/// <summary>
/// Nothing is there: no such record or version, or (with issue code not-supported) no such resource type or interaction
/// (http.html: 404 for a resource type the server does not support).
/// </summary>
public sealed class ResourceNotFoundException(string message, OperationOutcome.IssueType code = OperationOutcome.IssueType.NotFound)
    : FhirException(code, message);

/// <summary>The record was deleted (http.html#read: 410 Gone).</summary>
public sealed class ResourceGoneException(string message)
    : FhirException(OperationOutcome.IssueType.Deleted, message);

/// <summary>The interaction is not allowed on this resource type or path.</summary>
public sealed class MethodNotAllowedException(string message)
    : FhirException(OperationOutcome.IssueType.NotSupported, message);

/// <summary>The client asked for a response format the server cannot produce.</summary>
public sealed class NotAcceptableException(string message)
    : FhirException(OperationOutcome.IssueType.NotSupported, message);

/// <summary>The request body is in a format the server does not read.</summary>
public sealed class UnsupportedMediaTypeException(string message)
    : FhirException(OperationOutcome.IssueType.NotSupported, message);

/// <summary>Another change got there first (a concurrent write, a job already running); the same request may pass later.</summary>
public sealed class ResourceConflictException(string message)
    : FhirException(OperationOutcome.IssueType.Conflict, message);

/// <summary>
/// A condition the request set does not hold: If-Match names another version, conditional criteria match more than one
/// record or none where one is needed (http.html#concurrency, http.html#cond-update).
/// </summary>
public sealed class PreconditionFailedException(string message, OperationOutcome.IssueType code = OperationOutcome.IssueType.Conflict)
    : FhirException(code, message);

/// <summary>The server could not answer in the time it allows; a narrower request may pass.</summary>
public sealed class ServiceUnavailableException(string message)
    : FhirException(OperationOutcome.IssueType.Timeout, message);

/// <summary>The server failed; the message says what to quote to an administrator and nothing of the failure itself.</summary>
public sealed class InternalErrorException(string message)
    : FhirException(OperationOutcome.IssueType.Exception, message);
