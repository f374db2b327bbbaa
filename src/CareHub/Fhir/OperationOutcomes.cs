using Hl7.Fhir.Model;

namespace CareHub.Fhir;

public static class OperationOutcomes
{
    public static OperationOutcome From(FhirException exception) => new()
    {
        Id = FhirIds.NewId(),
        Issue = exception.Issues.Select(i => new OperationOutcome.IssueComponent
        {
            Severity = i.Severity,
            Code = i.Code,
            Diagnostics = i.Diagnostics,
            Expression = i.Expression is null ? [] : [i.Expression],
        }).ToList(),
    };

    public static OperationOutcome Information(string text) => new()
    {
        Id = FhirIds.NewId(),
        Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Information, Code = OperationOutcome.IssueType.Informational, Diagnostics = text }],
    };
}
