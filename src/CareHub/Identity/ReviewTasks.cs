using System.Globalization;
using CareHub.Identity.Matching;
using Hl7.Fhir.Model;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Identity;

/// <summary>
/// The MPI's decisions about pairs of Patients, held as FHIR Task resources tagged <see cref="MpiCodes.ManagedTag"/>:
/// <c>focus</c> and <c>for</c> are the two Patients; <c>code</c> is <see cref="MpiCodes.ReviewCode"/> (a pair the matcher
/// queued) or <see cref="MpiCodes.NoLinkCode"/> (a person said "different people"); <c>status</c> is
/// <c>requested</c> while awaiting a decision, <c>completed</c> when accepted (linked) and <c>rejected</c> when the pair
/// must never link automatically. The inputs carry the score and each field's agreement, as the reviewer sees them.
/// </summary>
public static class ReviewTasks
{
    public const string InputWeight = "weight";
    public const string InputProbability = "probability";
    public const string InputGrade = "grade";
    public const string InputRule = "rule";
    public const string InputAgrees = "agrees";
    public const string InputDiffers = "differs";

    /// <summary>The two Patient ids of an MPI Task, or null when it is not one.</summary>
    public static (string A, string B)? Pair(FhirTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var a = PatientId(task.Focus);
        var b = PatientId(task.For);
        return a is null || b is null ? null : (a, b);
    }

    /// <summary>The index value of a Task's code and status, e.g. <c>review:requested</c>.</summary>
    public static string StatusKey(FhirTask task) => Code(task) + ":" + Status(task);

    public static string StatusKey(string code, FhirTask.TaskStatus status) => code + ":" + Hl7.Fhir.Utility.EnumUtility.GetLiteral(status);

    public static string Code(FhirTask task) =>
        task.Code?.Coding.FirstOrDefault(c => c.System == MpiCodes.System)?.Code ?? string.Empty;

    private static string Status(FhirTask task) => task.Status is { } s ? Hl7.Fhir.Utility.EnumUtility.GetLiteral(s) : string.Empty;

    /// <summary>A review task for a pair the matcher could not decide alone.</summary>
    public static FhirTask ForReview(string a, string b, MatchResult result, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(result);
        var task = New(a, b, MpiCodes.ReviewCode, FhirTask.TaskStatus.Requested, now,
            "Are these two Patient records the same person? Accept to link them, reject to keep them apart.");
        task.Input.Add(Input(InputWeight, new FhirDecimal((decimal)Math.Round(result.Weight, 2))));
        task.Input.Add(Input(InputProbability, new FhirDecimal((decimal)Math.Round(result.Probability, 6))));
        if (result.Grade is { } grade)
        {
            task.Input.Add(Input(InputGrade, new Code(GradeCode(grade))));
        }

        task.Input.Add(Input(InputRule, new Code(result.Rule.ToString())));
        foreach (var field in result.Agreeing)
        {
            task.Input.Add(Input(InputAgrees, new FhirString(Describe(field))));
        }

        foreach (var field in result.Differing)
        {
            task.Input.Add(Input(InputDiffers, new FhirString(Describe(field))));
        }

        return task;
    }

    /// <summary>A person's decision that two records are different people.</summary>
    public static FhirTask NoLink(string a, string b, DateTimeOffset now) =>
        New(a, b, MpiCodes.NoLinkCode, FhirTask.TaskStatus.Rejected, now, "These two Patient records are different people: never link them automatically.");

    /// <summary>The FHIR match-grade code (value set http://hl7.org/fhir/ValueSet/match-grade).</summary>
    public static string GradeCode(MatchGrade grade) => grade switch
    {
        MatchGrade.Certain => "certain",
        MatchGrade.Probable => "probable",
        MatchGrade.Possible => "possible",
        _ => "certainly-not",
    };

    /// <summary>"FamilyName: FamilyNameExact (+8.73)": the field, its level and the level's weight.</summary>
    private static string Describe(FieldComparison field) =>
        string.Create(CultureInfo.InvariantCulture, $"{field.Field}: {field.Level} ({field.Weight:+0.00;-0.00;0})");

    private static FhirTask New(string a, string b, string code, FhirTask.TaskStatus status, DateTimeOffset now, string description) => new()
    {
        Meta = new Meta { Tag = [MpiCodes.ManagedTag] },
        Status = status,
        Intent = FhirTask.TaskIntent.Proposal,
        Code = new CodeableConcept(MpiCodes.System, code),
        Description = description,
        Focus = new ResourceReference("Patient/" + a),
        For = new ResourceReference("Patient/" + b),
        AuthoredOnElement = new FhirDateTime(now),
        LastModifiedElement = new FhirDateTime(now),
    };

    private static FhirTask.ParameterComponent Input(string name, DataType value) =>
        new() { Type = new CodeableConcept(MpiCodes.System, name), Value = value };

    private static string? PatientId(ResourceReference? reference) =>
        reference?.Reference is { } text && text.StartsWith("Patient/", StringComparison.Ordinal) ? text["Patient/".Length..] : null;
}
