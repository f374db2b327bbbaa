using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    private const string ParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

    /// <summary>Events about a visit: without a way to find the visit again, there is nothing to apply them to.</summary>
    private static readonly HashSet<string> VisitEvents = new(StringComparer.Ordinal) { "A01", "A02", "A03", "A11", "A13" };

    /// <summary>Events about the person only (A28/A31 add and update person information, A40 merges): their PV1, if any, is not a visit.</summary>
    private static readonly HashSet<string> PersonEvents = new(StringComparer.Ordinal) { "A28", "A31", "A40" };

    private static readonly HashSet<string> AdtSegments = new(StringComparer.Ordinal) { "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "OBX", "NTE", "AL1", "DG1", "MRG", "SFT" };

    private static void MapAdt(MappingContext context)
    {
        if (context.Trigger == "A40")
        {
            MapMerge(context);
            return;
        }

        WritePatient(context, ownsDemographics: true);
        if (!PersonEvents.Contains(context.Trigger))
        {
            WriteEncounter(context, ownsVisit: true);
        }

        MapClinicalSegments(context, AdtSegments);
    }

    /// <summary>
    /// OBX (with its NTE), DG1 and, when <paramref name="allergies"/>, AL1 found anywhere in the message, and a warning for
    /// each segment type nobody maps.
    /// </summary>
    private static void MapClinicalSegments(MappingContext context, HashSet<string> mapped, bool allergies = true)
    {
        Observation? last = null;
        foreach (var segment in Body(context))
        {
            switch (segment.Id)
            {
                case "OBX":
                    last = MapStandaloneObservation(context, segment);
                    break;
                case "NTE" when last is not null:
                    AddNote(context, last.Note, segment);
                    break;
                case "AL1" when allergies:
                    last = null;
                    MapAllergy(context, segment);
                    break;
                case "DG1":
                    last = null;
                    MapDiagnosis(context, segment);
                    break;
                default:
                    last = null;
                    if (!mapped.Contains(segment.Id))
                    {
                        context.Unmapped(segment);
                    }

                    break;
            }
        }
    }

    // ---- Encounter -----------------------------------------------------------------------------------------------

    /// <summary>
    /// PV1 (and PV2) to Encounter (IG segment-pv1-to-encounter), keyed by the visit number PV1-19. ADT owns the visit
    /// and replaces it (conditional update); other messages only create it when it is not known. Without PV1-19 the
    /// visit is keyed by the patient and the admit time PV1-44 (a warning says so); without either, a visit event is
    /// refused (101 at PV1-19) and other events go without an Encounter.
    /// </summary>
    private static void WriteEncounter(MappingContext context, bool ownsVisit)
    {
        if (context.Message.Segment("PV1") is not { } pv1)
        {
            if (ownsVisit && VisitEvents.Contains(context.Trigger))
            {
                throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("PV1"), $"An {context.Trigger} needs a PV1 segment.");
            }

            return;
        }

        var patientClass = V2Types.Code(pv1[2].Component(1).Value)?.ToUpperInvariant();
        if (patientClass == "N")
        {
            // Table 0004 "N - Not Applicable": the PV1 carries no visit.
            return;
        }

        var key = VisitKey(context, pv1, ownsVisit);
        if (key is null)
        {
            return;
        }

        var encounter = new Encounter
        {
            Identifier = [key],
            Class = EncounterClass(patientClass),
            Subject = new ResourceReference(context.PatientUrl),
            ServiceProvider = context.SenderOrganization?.Reference is null ? null : context.SenderOrganization,
        };
        encounter.Status = EncounterStatusFor(context, pv1, patientClass, ownsVisit);
        encounter.Period = EncounterPeriod(context, pv1, encounter.Status.Value);
        if (context.Concept(pv1[4], "0007") is { } admissionType)
        {
            encounter.Type.Add(admissionType);
        }

        encounter.ServiceType = context.Concept(pv1[10], "0069");
        AddLocation(encounter, pv1[3], encounter.Status switch
        {
            Encounter.EncounterStatus.Planned => Encounter.EncounterLocationStatus.Planned,
            Encounter.EncounterStatus.InProgress => Encounter.EncounterLocationStatus.Active,
            _ => Encounter.EncounterLocationStatus.Completed,
        });
        if (context.Trigger == "A02")
        {
            // A02 (transfer): PV1-3 is the new location, PV1-6 the one the patient left.
            AddLocation(encounter, pv1[6], Encounter.EncounterLocationStatus.Completed);
        }

        AddParticipants(context, encounter, pv1[7], "ATND", "attender");
        AddParticipants(context, encounter, pv1[8], "REF", "referrer");
        AddParticipants(context, encounter, pv1[9], "CON", "consultant");
        AddParticipants(context, encounter, pv1[17], "ADM", "admitter");
        var admitSource = context.Concept(pv1[14], "0023");
        var discharge = encounter.Status == Encounter.EncounterStatus.Finished ? context.Concept(pv1[36], "0112") : null;
        if (admitSource is not null || discharge is not null)
        {
            encounter.Hospitalization = new Encounter.HospitalizationComponent { AdmitSource = admitSource, DischargeDisposition = discharge };
        }

        if (context.Message.Segment("PV2") is { } pv2 && context.Concept(pv2[3]) is { } reason)
        {
            encounter.ReasonCode.Add(reason);
        }

        context.EncounterUrl = ownsVisit ? context.Builder.Put(encounter, key) : context.Builder.CreateIfNoneExist(encounter, key);
        context.EncounterKey = key;
    }

    private static Identifier? VisitKey(MappingContext context, Hl7Segment pv1, bool ownsVisit)
    {
        var cx = Hl7Identifier.From(pv1[19]);
        if (V2Identifiers.FromCx(cx, context.Sender, "visit-number", context.Options, out _) is { } visit)
        {
            visit.Type = new CodeableConcept(V2Identifiers.V2IdentifierTypes, "VN");
            return visit;
        }

        if (V2Types.DateTime(pv1[44]) is { } admitted)
        {
            context.Warn(pv1, 19, "No visit number (PV1-19): the encounter is keyed by the patient and the admit date/time (PV1-44).");
            var derived = context.DerivedKey("visit", MappingContext.KeyText(context.PatientKey), admitted.ToString());
            derived.Type = new CodeableConcept(V2Identifiers.V2IdentifierTypes, "VN");
            return derived;
        }

        if (ownsVisit && VisitEvents.Contains(context.Trigger))
        {
            throw V2MappingException.RequiredFieldMissing("PV1", context.OccurrenceOf(pv1), 19, "visit number");
        }

        context.Warn(pv1, 19, "No visit number (PV1-19) or admit date/time (PV1-44): no Encounter is written, as a repeated message could not find it again.");
        return null;
    }

    /// <summary>PV1-2 (table 0004) to Encounter.class (IG ConceptMap table-hl70004-to-encounter-class); unknown classes keep the v2 code.</summary>
    private static Coding EncounterClass(string? patientClass) => patientClass switch
    {
        "E" => new Coding(ActCode, "EMER", "emergency"),
        "I" => new Coding(ActCode, "IMP", "inpatient encounter"),
        "O" => new Coding(ActCode, "AMB", "ambulatory"),
        "P" => new Coding(ActCode, "PRENC", "pre-admission"),
        "B" => new Coding(ActCode, "IMP", "inpatient encounter"),
        null => new Coding("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", "unknown"),
        _ => new Coding(V2Codes.V2TablePrefix + "0004", patientClass),
    };

    /// <summary>
    /// Status by event: A01/A02 in progress, A03 finished, A05 planned, A11 cancelled (or entered-in-error by option),
    /// A13 in progress again (discharge cancelled); A04, A08 and non-ADT messages from PV1 as the IG does (PV1-45
    /// valued: finished; class P: planned; else in progress).
    /// </summary>
    private static Encounter.EncounterStatus EncounterStatusFor(MappingContext context, Hl7Segment pv1, string? patientClass, bool ownsVisit)
    {
        if (ownsVisit)
        {
            switch (context.Trigger)
            {
                case "A01" or "A02" or "A13":
                    return Encounter.EncounterStatus.InProgress;
                case "A03":
                    return Encounter.EncounterStatus.Finished;
                case "A05":
                    return Encounter.EncounterStatus.Planned;
                case "A11":
                    return context.Options.CancelledAdmissionStatus;
            }
        }

        if (V2Types.DateTime(pv1[45]) is not null)
        {
            return Encounter.EncounterStatus.Finished;
        }

        return patientClass == "P" ? Encounter.EncounterStatus.Planned : Encounter.EncounterStatus.InProgress;
    }

    /// <summary>PV1-44 admit and PV1-45 discharge date/times; A01 and A03 fall back to the event time (EVN-6, else EVN-2); A13 drops the end.</summary>
    private static Period? EncounterPeriod(MappingContext context, Hl7Segment pv1, Encounter.EncounterStatus status)
    {
        var evn = context.Message.Segment("EVN");
        var eventTime = evn is null ? null : V2Types.DateTime(evn[6]) ?? V2Types.DateTime(evn[2]);
        var start = V2Types.DateTime(pv1[44]);
        var end = status == Encounter.EncounterStatus.Finished ? V2Types.DateTime(pv1[45]) : null;
        if (context.Trigger == "A01")
        {
            start ??= eventTime;
        }
        else if (context.Trigger == "A03")
        {
            end ??= eventTime;
        }

        if (start is { } s && end is { } e && V2Types.Earliest(s, context.Zone) > V2Types.Earliest(e, context.Zone))
        {
            // A period cannot end before it starts (R4 per-1): keep the admit time, drop the end the sender got wrong.
            context.Warn(pv1, 45, "The discharge date/time is before the admit date/time; the period's end is left out.");
            end = null;
        }

        return start is null && end is null
            ? null
            : new Period { Start = V2Types.FhirDateTime(start, context.Zone), End = V2Types.FhirDateTime(end, context.Zone) };
    }

    private static void AddLocation(Encounter encounter, Hl7Element pl, Encounter.EncounterLocationStatus status)
    {
        if (V2Types.LocationText(pl) is { } text)
        {
            // Locations are carried by display: the record finds resources by identifier only, and a PL is no identifier.
            encounter.Location.Add(new Encounter.LocationComponent { Location = new ResourceReference { Display = text }, Status = status });
        }
    }

    private static void AddParticipants(MappingContext context, Encounter encounter, Hl7Element field, string code, string display)
    {
        foreach (var reference in context.Practitioners(field))
        {
            encounter.Participant.Add(new Encounter.ParticipantComponent
            {
                Type = [new CodeableConcept(ParticipationType, code, display)],
                Individual = reference,
            });
        }
    }

    // ---- A40 merge -----------------------------------------------------------------------------------------------

    /// <summary>
    /// A40 (merge patient, patient identifier list): for each PID / MRG pair, the surviving patient (PID) gets a
    /// <c>replaces</c> link to the prior one (MRG-1), and the prior patient is written inactive with a <c>replaced-by</c>
    /// link (R4 patient.html#links). Both are found by identifier; the prior record is rewritten with the survivor's
    /// demographics, since a merge says they are the same person. Moving the prior patient's encounters and results is
    /// not done: the record cannot yet search them by patient. With the master person index on, the door's MPI hook puts
    /// the two in one Person when the prior record is written, as Patient/$merge does (docs/mpi.md).
    /// </summary>
    private static void MapMerge(MappingContext context)
    {
        Hl7Segment? pid = null;
        var merged = 0;
        foreach (var segment in Body(context))
        {
            if (segment.Id == "PID")
            {
                pid = segment;
            }
            else if (segment.Id == "MRG" && pid is not null)
            {
                MergeOne(context, pid, segment);
                merged++;
                pid = null;
            }
            else if (segment.Id is not ("EVN" or "PD1" or "PV1" or "SFT"))
            {
                context.Unmapped(segment);
            }
        }

        if (merged == 0)
        {
            throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MRG"), "An A40 needs a PID followed by an MRG segment.");
        }
    }

    private static void MergeOne(MappingContext context, Hl7Segment pid, Hl7Segment mrg)
    {
        var survivor = MapPid(context, pid);
        var prior = new Patient { Active = false };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Identifier? priorNhs = null;
        Identifier? priorOther = null;
        foreach (var repetition in mrg[1].Repetitions)
        {
            if (V2Identifiers.FromCx(Hl7Identifier.From(repetition), context.Sender, "patient-id", context.Options, out var isNhs) is { } identifier
                && seen.Add(MappingContext.KeyText(identifier)))
            {
                prior.Identifier.Add(identifier);
                if (isNhs)
                {
                    priorNhs ??= identifier;
                }
                else
                {
                    priorOther ??= identifier;
                }
            }
        }

        if (priorNhs is null && priorOther is null)
        {
            throw V2MappingException.RequiredFieldMissing("MRG", context.OccurrenceOf(mrg), 1, "prior patient identifier list");
        }

        Identifier[] priorKeys = priorNhs is null ? [priorOther!] : priorOther is null ? [priorNhs] : [priorNhs, priorOther];
        var survivorKeys = survivor.Keys.Select(MappingContext.KeyText).ToHashSet(StringComparer.Ordinal);
        if (priorKeys.Any(k => survivorKeys.Contains(MappingContext.KeyText(k))))
        {
            context.Warn(mrg, 1, "The prior identifier is also the surviving patient's: nothing to merge.");
            context.PatientUrl = context.Builder.Put(survivor.Patient, survivor.Keys);
            return;
        }

        prior.Name = [.. survivor.Patient.Name.Select(n => (HumanName)n.DeepCopy())];
        prior.BirthDateElement = (Date?)survivor.Patient.BirthDateElement?.DeepCopy();
        prior.Gender = survivor.Patient.Gender;
        var survivorUrl = context.Builder.Put(survivor.Patient, survivor.Keys);
        var priorUrl = context.Builder.Put(prior, priorKeys);
        survivor.Patient.Link.Add(new Patient.LinkComponent { Other = new ResourceReference(priorUrl), Type = Patient.LinkType.Replaces });
        prior.Link.Add(new Patient.LinkComponent { Other = new ResourceReference(survivorUrl), Type = Patient.LinkType.ReplacedBy });
        context.PatientUrl = survivorUrl;
        context.PatientKey = survivor.Keys[0];
    }
}
