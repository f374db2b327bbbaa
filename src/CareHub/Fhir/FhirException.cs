using Hl7.Fhir.Model;

namespace CareHub.Fhir;

/// <summary>
/// An error that reaches a client. Its type says what happened (<see cref="ResourceNotFoundException"/>,
/// <see cref="Governance.AccessDeniedException"/>, ...) and it carries the FHIR issues; <see cref="FhirStatus"/> decides
/// the HTTP status from the type, and the server writes it, in one place, as an OperationOutcome. The message must never
/// contain patient data. Messages often quote what the client sent; every message and expression is bounded here
/// (<see cref="Bound"/>), so a 10 MB bad value comes back as a short excerpt whoever wrote the message.
/// </summary>
public abstract class FhirException : Exception
{
    /// <summary>The most characters of client input a message quotes.</summary>
    public const int MaxQuote = 100;

    /// <summary>The longest diagnostics text an issue carries.</summary>
    public const int MaxDiagnostics = 1000;

    protected FhirException(OperationOutcome.IssueType code, string message, string? expression = null)
        : base(Bound(message))
    {
        Issues = [new Issue(OperationOutcome.IssueSeverity.Error, code, Bound(message), expression is null ? null : Excerpt(expression))];
    }

    protected FhirException(IReadOnlyList<Issue> issues)
        : base(issues.Count > 0 ? Bound(issues[0].Diagnostics) : "The request was refused.")
    {
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

    /// <summary>The first issue's diagnostics, so a copy with reworded issues (<see cref="WithDiagnosticsPrefix"/>) reads as they do.</summary>
    public override string Message => Issues.Count > 0 ? Issues[0].Diagnostics : base.Message;

    public IReadOnlyList<Issue> Issues { get; private set; }

    public sealed record Issue(OperationOutcome.IssueSeverity Severity, OperationOutcome.IssueType Code, string Diagnostics, string? Expression = null);

    /// <summary>
    /// The same refusal, of the same type and with the same facts, with <paramref name="prefix"/> before each issue's
    /// diagnostics (a transaction names the entry that failed).
    /// </summary>
    public FhirException WithDiagnosticsPrefix(string prefix)
    {
        var copy = (FhirException)MemberwiseClone();
        copy.Issues = Issues.Select(i => i with { Diagnostics = Bound(prefix + i.Diagnostics) }).ToList();
        return copy;
    }

    // Shorthands for the refusals thrown most often.

    public static InvalidInputException BadRequest(string message, string? expression = null) => new(message, expression);

    public static ResourceNotFoundException NotFound(string message) => new(message);

    public static UnprocessableException Unprocessable(string message, string? expression = null) => new(message, expression);

    public static ResourceConflictException Conflict(string message) => new(message);

    public static PreconditionFailedException PreconditionFailed(string message) => new(message);
}
