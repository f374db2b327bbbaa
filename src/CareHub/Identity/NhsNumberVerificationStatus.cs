using Hl7.Fhir.Model;

namespace CareHub.Identity;

/// <summary>
/// How far an NHS Number has been traced and verified against the Personal Demographics Service:
/// the UK Core extension on <c>Patient.identifier:nhsNumber</c> and its England code system, whose codes
/// are the NHS Data Dictionary's "NHS Number Status Indicator Code".
/// </summary>
public static class NhsNumberVerificationStatus
{
    public const string ExtensionUrl = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

    public const string CodeSystem = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";

    public const string NumberPresentAndVerified = "01";
    public const string NumberPresentButNotTraced = "02";
    public const string TraceRequired = "03";
    public const string TraceAttemptedNoMatchOrMultipleMatch = "04";
    public const string TraceNeedsToBeResolved = "05";
    public const string TraceInProgress = "06";
    public const string NumberNotPresentAndTraceNotRequired = "07";
    public const string TracePostponed = "08";

    /// <summary>Every code with its display, in code order.</summary>
    public static IReadOnlyDictionary<string, string> Displays { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        [NumberPresentAndVerified] = "Number present and verified",
        [NumberPresentButNotTraced] = "Number present but not traced",
        [TraceRequired] = "Trace required",
        [TraceAttemptedNoMatchOrMultipleMatch] = "Trace attempted - No match or multiple match found",
        [TraceNeedsToBeResolved] = "Trace needs to be resolved - (NHS number or patient detail conflict)",
        [TraceInProgress] = "Trace in progress",
        [NumberNotPresentAndTraceNotRequired] = "Number not present and trace not required",
        [TracePostponed] = "Trace postponed (baby under six weeks old)",
    };

    /// <summary>True only for "01": the one status under which the number may be relied on to identify the person.</summary>
    public static bool IsVerified(string? code) => string.Equals(code, NumberPresentAndVerified, StringComparison.Ordinal);

    /// <exception cref="ArgumentException"><paramref name="code"/> is not one of 01 to 08.</exception>
    public static Coding ToCoding(string code) =>
        Displays.TryGetValue(code, out var display)
            ? new Coding(CodeSystem, code, display)
            : throw new ArgumentException("Not an NHS Number verification status code (01 to 08).", nameof(code));

    /// <summary>The extension as UK Core places it on the NHS Number identifier (value[x] is a CodeableConcept).</summary>
    public static Extension ToExtension(string code) => new(ExtensionUrl, new CodeableConcept { Coding = [ToCoding(code)] });

    /// <summary>The status code carried by an identifier's extension, or null if it has none.</summary>
    public static string? Of(Identifier identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        var value = identifier.GetExtension(ExtensionUrl)?.Value as CodeableConcept;
        return value?.Coding.FirstOrDefault(c => string.Equals(c.System, CodeSystem, StringComparison.Ordinal))?.Code;
    }
}
