using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private static readonly HashSet<string> ResultSegments = new(StringComparer.Ordinal) { "PID", "PD1", "PV1", "PV2", "ORC", "OBR", "OBX", "NTE", "SFT" };

    /// <summary>
    /// ORU^R01 (IG message-oru-r01), and the point-of-care ORU^R30, R31 and R32 (structure ORU_R30, the same groups):
    /// per OBR a DiagnosticReport (keyed by the filler order number OBR-3, else the placer
    /// OBR-2, conditional update, so a corrected result replaces the preliminary one), a ServiceRequest for the placer
    /// order when OBR-2 / ORC-2 is sent, and an Observation per OBX; ED and RP results become the report's presentedForm.
    /// The patient and visit are created if unknown, never overwritten: results do not own demographics.
    /// </summary>
    private static void MapResults(MappingContext context)
    {
        WritePatient(context, ownsDemographics: false);
        WriteEncounter(context, ownsVisit: false);
        Hl7Segment? orc = null;
        ReportGroup? report = null;
        Observation? lastObservation = null;
        foreach (var segment in Body(context))
        {
            switch (segment.Id)
            {
                case "ORC":
                    Finish(context, report);
                    report = null;
                    orc = segment;
                    lastObservation = null;
                    break;
                case "OBR":
                    Finish(context, report);
                    report = StartReport(context, segment, orc);
                    orc = null;
                    lastObservation = null;
                    break;
                case "OBX" when report is not null:
                    lastObservation = AddResult(context, report, segment);
                    break;
                case "OBX":
                    lastObservation = MapStandaloneObservation(context, segment);
                    break;
                case "NTE" when lastObservation is not null:
                    AddNote(context, lastObservation.Note, segment);
                    break;
                case "NTE" when report?.Request is not null:
                    AddNote(context, report.Request.Note, segment);
                    break;
                default:
                    if (!ResultSegments.Contains(segment.Id))
                    {
                        context.Unmapped(segment);
                        lastObservation = null;
                    }

                    break;
            }
        }

        Finish(context, report);
    }

    private sealed class ReportGroup(DiagnosticReport report, Identifier key, string? effective)
    {
        public DiagnosticReport Report { get; } = report;

        public Identifier Key { get; } = key;

        public string? Effective { get; } = effective;

        public ServiceRequest? Request { get; set; }

        public Identifier? RequestKey { get; set; }
    }

    /// <summary>
    /// A report code when OBR-4 is empty (vital-signs feeds often leave it so): the OBX-3 of the OBR's results when they
    /// all share one, else a text naming the results, so that the observations are not lost for want of an order code.
    /// Null when the OBR has no coded result either.
    /// </summary>
    private static CodeableConcept? CodeFromResults(MappingContext context, Hl7Segment obr)
    {
        var codes = new List<CodeableConcept>();
        var after = false;
        foreach (var segment in Body(context))
        {
            if (ReferenceEquals(segment, obr))
            {
                after = true;
            }
            else if (after && segment.Id is "OBR" or "ORC")
            {
                break;
            }
            else if (after && segment.Id == "OBX" && context.Concept(segment[3]) is { } observed)
            {
                codes.Add(observed);
            }
        }

        if (codes.Count == 0)
        {
            return null;
        }

        var distinct = codes.DistinctBy(c => c.Coding.FirstOrDefault() is { } first ? $"{first.System}|{first.Code}" : c.Text).ToList();
        context.Warn(obr, 4, "No universal service identifier (OBR-4): the report is coded from its results (OBX-3).");
        if (distinct.Count == 1)
        {
            return distinct[0];
        }

        var names = distinct.Select(c => c.Text ?? c.Coding.FirstOrDefault()?.Display ?? c.Coding.FirstOrDefault()?.Code).OfType<string>();
        return new CodeableConcept { Text = "Results: " + string.Join(", ", names) };
    }

    private static ReportGroup StartReport(MappingContext context, Hl7Segment obr, Hl7Segment? orc)
    {
        var code = context.Concept(obr[4]) ?? CodeFromResults(context, obr)
            ?? throw V2MappingException.RequiredFieldMissing("OBR", context.OccurrenceOf(obr), 4, "universal service identifier");
        var filler = V2Identifiers.FromEi(obr[3], context.Sender, "filler-order", context.Options)
            ?? (orc is null ? null : V2Identifiers.FromEi(orc[3], context.Sender, "filler-order", context.Options));
        var placer = V2Identifiers.FromEi(obr[2], context.Sender, "placer-order", context.Options)
            ?? (orc is null ? null : V2Identifiers.FromEi(orc[2], context.Sender, "placer-order", context.Options));
        if (filler is not null)
        {
            filler.Type = new CodeableConcept(V2Identifiers.V2IdentifierTypes, "FILL");
        }

        if (placer is not null)
        {
            placer.Type = new CodeableConcept(V2Identifiers.V2IdentifierTypes, "PLAC");
        }

        var key = filler ?? placer;
        if (key is null)
        {
            context.Warn(obr, 3, "No filler or placer order number (OBR-3, OBR-2): the report is keyed by the message control id.");
            key = context.DerivedKey("report", context.Sender, context.Message.ControlId, MappingContext.Number(context.OccurrenceOf(obr)));
        }

        var effective = context.DateTime(obr[7]);
        var report = new DiagnosticReport
        {
            Identifier = [.. new[] { filler, placer }.OfType<Identifier>()],
            Status = ReportStatusFor(V2Types.Code(obr[25].Value)),
            Code = code,
            Subject = new ResourceReference(context.PatientUrl),
            Encounter = context.EncounterUrl is null ? null : new ResourceReference(context.EncounterUrl),
            Effective = effective is null ? null : new FhirDateTime(effective),
            Issued = context.Instant(obr[22]),
        };
        if (report.Identifier.Count == 0)
        {
            report.Identifier.Add(key);
        }

        if (context.Concept(obr[24], "0074") is { } section)
        {
            report.Category.Add(section);
        }

        var group = new ReportGroup(report, key, effective);
        if (placer is not null)
        {
            var status = report.Status switch
            {
                DiagnosticReport.DiagnosticReportStatus.Final or DiagnosticReport.DiagnosticReportStatus.Corrected or DiagnosticReport.DiagnosticReportStatus.Amended => RequestStatus.Completed,
                DiagnosticReport.DiagnosticReportStatus.Cancelled => RequestStatus.Revoked,
                _ => RequestStatus.Active,
            };
            var request = new ServiceRequest
            {
                Identifier = [.. new[] { placer, filler }.OfType<Identifier>()],
                Status = status,
                Intent = RequestIntent.Order,
                Code = (CodeableConcept)code.DeepCopy(),
                Subject = new ResourceReference(context.PatientUrl),
                Encounter = context.EncounterUrl is null ? null : new ResourceReference(context.EncounterUrl),
                AuthoredOn = orc is null ? null : context.DateTime(orc[9]),
                Requester = context.Practitioner(obr[16].Repetition(1)),
            };
            group.Request = request;
            group.RequestKey = placer;
        }

        return group;
    }

    private static Observation? AddResult(MappingContext context, ReportGroup group, Hl7Segment obx)
    {
        var observation = MapObx(context, obx, group.Effective, out var attachment);
        if (attachment is not null)
        {
            group.Report.PresentedForm.Add(attachment);
        }

        if (observation is null)
        {
            return null;
        }

        if (observation.Value is null && attachment is not null)
        {
            // The OBX only carried the rendered report: it is the presentedForm, not a result.
            return null;
        }

        var key = ObservationKey(context, obx, MappingContext.KeyText(group.Key), observation);
        observation.Identifier.Add(key);
        var url = context.Builder.Put(observation, key);
        group.Report.Result.Add(new ResourceReference(url));
        return observation;
    }

    private static void Finish(MappingContext context, ReportGroup? group)
    {
        if (group is null)
        {
            return;
        }

        if (group.Request is not null)
        {
            var requestUrl = context.Builder.Put(group.Request, group.RequestKey!);
            group.Report.BasedOn.Add(new ResourceReference(requestUrl));
        }

        context.Builder.Put(group.Report, group.Key);
    }

    /// <summary>OBR-25 (table 0123) to DiagnosticReport.status (IG ConceptMap table-hl70123-to-diagnostic-report-status).</summary>
    private static DiagnosticReport.DiagnosticReportStatus ReportStatusFor(string? code) => code?.ToUpperInvariant() switch
    {
        "O" or "I" or "S" => DiagnosticReport.DiagnosticReportStatus.Registered,
        "A" or "R" => DiagnosticReport.DiagnosticReportStatus.Partial,
        "P" => DiagnosticReport.DiagnosticReportStatus.Preliminary,
        "C" => DiagnosticReport.DiagnosticReportStatus.Corrected,
        "M" => DiagnosticReport.DiagnosticReportStatus.Amended,
        "F" => DiagnosticReport.DiagnosticReportStatus.Final,
        "X" => DiagnosticReport.DiagnosticReportStatus.Cancelled,
        _ => DiagnosticReport.DiagnosticReportStatus.Unknown,
    };

    // ---- AL1 and DG1 ---------------------------------------------------------------------------------------------

    /// <summary>
    /// AL1 (and IAM) to AllergyIntolerance (IG segment-al1-to-allergyintolerance). v2 gives an allergy no identifier, but
    /// a patient has one allergy record per allergen, so the key is derived from patient and allergen (AL1-3 / IAM-3):
    /// an A60 about an allergen an earlier AL1 sent updates that record. An IAM that deletes (IAM-6 D) marks it
    /// entered-in-error (FHIR R4 allergyintolerance-verification), keeping what was sent.
    /// </summary>
    private static void MapAllergy(MappingContext context, Hl7Segment al1)
    {
        var code = context.Concept(al1[3]);
        if (code is null || context.PatientUrl is null)
        {
            context.Warn(al1, 3, $"{al1.Id} without an allergen code ({al1.Id}-3) is not mapped.", Hl7ErrorCode.RequiredFieldMissing);
            return;
        }

        // IAM (ADT^A60, HL7 v2.5.1 chapter 3.4.7) shares AL1's fields 2 to 5; its onset is IAM-11, and IAM-6 (table
        // 0323) says whether the sender adds, updates or deletes the allergy.
        var isIam = al1.Id == "IAM";
        var onsetField = isIam ? 11 : 6;
        var deleted = isIam && V2Types.Code(al1[6].Component(1).Value)?.ToUpperInvariant() == "D";

        var allergen = code.Coding.FirstOrDefault() is { } c ? $"{c.System}|{c.Code}" : code.Text;
        var key = context.DerivedKey("allergy", MappingContext.KeyText(context.PatientKey), allergen);
        var allergy = new AllergyIntolerance
        {
            Identifier = [key],
            ClinicalStatus = deleted ? null : new CodeableConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"),
            VerificationStatus = deleted ? new CodeableConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "entered-in-error") : null,
            Code = code,
            Patient = new ResourceReference(context.PatientUrl),
            Onset = context.DateTime(al1[onsetField]) is { } onset ? new FhirDateTime(onset) : null,
        };
        var category = V2Types.Code(al1[2].Component(1).Value)?.ToUpperInvariant() switch
        {
            "DA" or "MA" => AllergyIntolerance.AllergyIntoleranceCategory.Medication,
            "FA" => AllergyIntolerance.AllergyIntoleranceCategory.Food,
            "EA" or "PA" or "LA" or "AA" => AllergyIntolerance.AllergyIntoleranceCategory.Environment,
            _ => (AllergyIntolerance.AllergyIntoleranceCategory?)null,
        };
        if (category is { } cat)
        {
            allergy.Category = [cat];
        }

        allergy.Criticality = V2Types.Code(al1[4].Component(1).Value)?.ToUpperInvariant() switch
        {
            "SV" => AllergyIntolerance.AllergyIntoleranceCriticality.High,
            "MO" or "MI" => AllergyIntolerance.AllergyIntoleranceCriticality.Low,
            "U" => AllergyIntolerance.AllergyIntoleranceCriticality.UnableToAssess,
            _ => null,
        };
        var manifestations = new List<CodeableConcept>();
        foreach (var repetition in al1[5].Repetitions)
        {
            if (V2Types.Text(repetition) is { } reaction)
            {
                manifestations.Add(new CodeableConcept { Text = reaction });
            }
        }

        if (manifestations.Count > 0)
        {
            allergy.Reaction.Add(new AllergyIntolerance.ReactionComponent { Manifestation = manifestations });
        }

        context.Builder.Put(allergy, key);
    }

    /// <summary>
    /// DG1 to Condition (IG segment-dg1-to-condition), an encounter diagnosis: keyed by DG1-20 (diagnosis identifier)
    /// when sent, else by patient, visit and code. DG1-6 (table 0052) sets the verification status: final confirmed,
    /// admitting and working provisional.
    /// </summary>
    private static void MapDiagnosis(MappingContext context, Hl7Segment dg1)
    {
        var code = context.Concept(dg1[3]) ?? (V2Types.Text(dg1[4]) is { } description ? new CodeableConcept { Text = description } : null);
        if (code is null || context.PatientUrl is null)
        {
            context.Warn(dg1, 3, "DG1 without a diagnosis code (DG1-3) or description (DG1-4) is not mapped.", Hl7ErrorCode.RequiredFieldMissing);
            return;
        }

        var key = V2Identifiers.FromEi(dg1[20], context.Sender, "diagnosis", context.Options);
        if (key is null)
        {
            var diagnosis = code.Coding.FirstOrDefault() is { } c ? $"{c.System}|{c.Code}" : code.Text;
            key = context.DerivedKey("diagnosis", MappingContext.KeyText(context.PatientKey), MappingContext.KeyText(context.EncounterKey), diagnosis);
        }

        var condition = new Condition
        {
            Identifier = [key],
            Code = code,
            Subject = new ResourceReference(context.PatientUrl),
            Encounter = context.EncounterUrl is null ? null : new ResourceReference(context.EncounterUrl),
            Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")],
            RecordedDateElement = context.DateTime(dg1[5]) is { } recorded ? new FhirDateTime(recorded) : null,
            Asserter = context.Practitioner(dg1[16].Repetition(1)),
        };
        var verification = V2Types.Code(dg1[6].Component(1).Value)?.ToUpperInvariant() switch
        {
            "F" => "confirmed",
            "A" or "W" => "provisional",
            _ => null,
        };
        if (verification is not null)
        {
            condition.VerificationStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification);
        }

        context.Builder.Put(condition, key);
    }
}
