using System.Net;
using Hl7.Fhir.Model;

namespace CareHub.Fhir;

/// <summary>
/// An error that reaches a client. It carries the HTTP status and FHIR issues; the server maps it,
/// in one place, to an OperationOutcome. The message must never contain patient data. Messages often quote what the
/// client sent; every message and expression is bounded here (<see cref="Bound"/>), so a 10 MB bad value comes back as
/// a short excerpt whoever wrote the message.
/// </summary>
public class FhirException : Exception
{
    /// <summary>The most characters of client input a message quotes.</summary>
    public const int MaxQuote = 100;

    /// <summary>The longest diagnostics text an issue carries.</summary>
    public const int MaxDiagnostics = 1000;

    public FhirException(HttpStatusCode status, OperationOutcome.IssueType code, string message, string? expression = null)
        : base(Bound(message))
    {
        Status = status;
        Issues = [new Issue(OperationOutcome.IssueSeverity.Error, code, Bound(message), expression is null ? null : Excerpt(expression))];
    }

    public FhirException(HttpStatusCode status, IReadOnlyList<Issue> issues)
        : base(issues.Count > 0 ? Bound(issues[0].Diagnostics) : status.ToString())
    {
        Status = status;
        Issues = issues.Select(i => i with { Diagnostics = Bound(i.Diagnostics), Expression = i.Expression is null ? null : Excerpt(i.Expression) }).ToList();
    }

    /// <summary>At most <paramref name="max"/> characters of <paramref name="value"/>, with an ellipsis when cut.</summary>
    public static string Excerpt(string value, int max = MaxQuote) =>
        value.Length <= max ? value : string.Concat(value.AsSpan(0, char.IsHighSurrogate(value[max - 1]) ? max - 1 : max), "\u2026");

    /// <summary>
    /// A message with every quoted span ('...' or "...") cut to an excerpt, and the whole cut to
    /// <see cref="MaxDiagnostics"/>: messages here and the Firely parser's quote the offending value whole.
    /// </summary>
    public static string Bound(string message)
    {
        if (message.Length <= MaxQuote)
        {
            return message;
        }

        var builder = new System.Text.StringBuilder();
        var i = 0;
        while (i < message.Length)
        {
            var c = message[i];
            var close = c is '\'' or '"' ? message.IndexOf(c, i + 1) : -1;
            if (close > i + MaxQuote + 1)
            {
                builder.Append(c).Append(Excerpt(message[(i + 1)..close])).Append(c);
                i = close + 1;
            }
            else
            {
                builder.Append(c);
                i++;
            }
        }

        return Excerpt(builder.ToString(), MaxDiagnostics);
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
