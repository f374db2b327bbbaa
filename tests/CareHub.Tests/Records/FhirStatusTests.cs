using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Records;

/// <summary>The one mapping from a refusal to the HTTP status a client sees (R4 http.html).</summary>
public sealed class FhirStatusTests
{
    private static readonly FhirException.Issue Parsed = new(OperationOutcome.IssueSeverity.Error, OperationOutcome.IssueType.Structure, "bad");

    /// <summary>Every refusal CareHub throws, with the status and issue code its clients have always seen.</summary>
    private static readonly (FhirException Refusal, HttpStatusCode Status, OperationOutcome.IssueType Code)[] Expected =
    [
        (new InvalidInputException("bad"), HttpStatusCode.BadRequest, OperationOutcome.IssueType.Invalid),
        (new InvalidInputException([Parsed]), HttpStatusCode.BadRequest, OperationOutcome.IssueType.Structure),
        (new TooCostlyException("too much"), HttpStatusCode.BadRequest, OperationOutcome.IssueType.TooCostly),
        (new UnauthenticatedException("no token"), HttpStatusCode.Unauthorized, OperationOutcome.IssueType.Login),
        (new AccessDeniedException("no"), HttpStatusCode.Forbidden, OperationOutcome.IssueType.Forbidden),
        (AccessDeniedException.HiddenRecord("Patient/1 is not known."), HttpStatusCode.NotFound, OperationOutcome.IssueType.NotFound),
        (new ResourceNotFoundException("Patient/1 is not known."), HttpStatusCode.NotFound, OperationOutcome.IssueType.NotFound),
        (new ResourceNotFoundException("'Foo' is not a type.", OperationOutcome.IssueType.NotSupported), HttpStatusCode.NotFound, OperationOutcome.IssueType.NotSupported),
        (new MethodNotAllowedException("no"), HttpStatusCode.MethodNotAllowed, OperationOutcome.IssueType.NotSupported),
        (new NotAcceptableException("no"), HttpStatusCode.NotAcceptable, OperationOutcome.IssueType.NotSupported),
        (new ResourceConflictException("later"), HttpStatusCode.Conflict, OperationOutcome.IssueType.Conflict),
        (new ResourceGoneException("deleted"), HttpStatusCode.Gone, OperationOutcome.IssueType.Deleted),
        (new PreconditionFailedException("not current"), HttpStatusCode.PreconditionFailed, OperationOutcome.IssueType.Conflict),
        (new PreconditionFailedException("criteria", OperationOutcome.IssueType.Required), HttpStatusCode.PreconditionFailed, OperationOutcome.IssueType.Required),
        (new RequestTooLargeException("big"), HttpStatusCode.RequestEntityTooLarge, OperationOutcome.IssueType.TooCostly),
        (new UnsupportedMediaTypeException("no"), HttpStatusCode.UnsupportedMediaType, OperationOutcome.IssueType.NotSupported),
        (new UnprocessableException("no"), HttpStatusCode.UnprocessableEntity, OperationOutcome.IssueType.Processing),
        (new UnprocessableException([Parsed]), HttpStatusCode.UnprocessableEntity, OperationOutcome.IssueType.Structure),
        (new ServiceUnavailableException("slow"), HttpStatusCode.ServiceUnavailable, OperationOutcome.IssueType.Timeout),
        (new InternalErrorException("quote the id"), HttpStatusCode.InternalServerError, OperationOutcome.IssueType.Exception),
    ];

    public static IEnumerable<TheoryDataRow<int>> Rows() => Enumerable.Range(0, Expected.Length).Select(i => new TheoryDataRow<int>(i));

    [Theory]
    [MemberData(nameof(Rows))]
    public void each_refusal_answers_with_its_status_and_issue_code(int row)
    {
        var (refusal, status, code) = Expected[row];

        Assert.Equal(status, FhirStatus.Of(refusal));
        Assert.Equal(code, Assert.Single(refusal.Issues).Code);
    }

    [Fact]
    public void every_refusal_type_is_in_the_table()
    {
        var types = typeof(FhirException).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(FhirException)) && !t.IsAbstract);

        Assert.Equal(types.OrderBy(t => t.Name, StringComparer.Ordinal), Expected.Select(e => e.Refusal.GetType()).Distinct().OrderBy(t => t.Name, StringComparer.Ordinal));
    }

    [Fact]
    public void the_shorthands_throw_the_typed_refusals()
    {
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(FhirException.BadRequest("bad")));
        Assert.Equal(HttpStatusCode.NotFound, FhirStatus.Of(FhirException.NotFound("gone")));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(FhirException.Unprocessable("no")));
        Assert.Equal(HttpStatusCode.Conflict, FhirStatus.Of(FhirException.Conflict("later")));
        Assert.Equal(HttpStatusCode.PreconditionFailed, FhirStatus.Of(FhirException.PreconditionFailed("not current")));
    }

    [Fact]
    public void a_response_line_says_the_status_and_its_reason_phrase()
    {
        Assert.Equal("404 Not Found", FhirStatus.Line(new ResourceNotFoundException("Patient/1 is not known.")));
        Assert.Equal("422 Unprocessable Entity", FhirStatus.Line(new UnprocessableException("no")));
        Assert.Equal("403 Forbidden", FhirStatus.Line(new AccessDeniedException("no")));
    }

    [Fact]
    public void a_hidden_record_is_refused_exactly_as_a_missing_one_is()
    {
        var hidden = AccessDeniedException.HiddenRecord("Patient/1 is not known.", "relationship", ["Patient/1"]);
        var missing = new ResourceNotFoundException("Patient/1 is not known.");

        Assert.True(hidden.Hidden);
        Assert.Equal(FhirStatus.Line(missing), FhirStatus.Line(hidden));
        Assert.Equal(missing.Issues, hidden.Issues);
        Assert.Equal(missing.Message, hidden.Message);
    }

    [Fact]
    public void a_transaction_names_the_failed_entry_and_keeps_the_refusal_and_its_facts()
    {
        var refusal = new AccessDeniedException("not yours", "relationship", ["Patient/1"], audited: true);

        var named = Assert.IsType<AccessDeniedException>(refusal.WithDiagnosticsPrefix("Bundle.entry[2]: "));

        Assert.Equal("Bundle.entry[2]: not yours", named.Message);
        Assert.Equal("Bundle.entry[2]: not yours", Assert.Single(named.Issues).Diagnostics);
        Assert.Equal(("relationship", "Patient/1", true), (named.Rule, Assert.Single(named.Patients), named.Audited));
        Assert.Equal("not yours", refusal.Message);
    }
}
