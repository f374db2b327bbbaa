using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    private const string ParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

    /// <summary>What an ADT event does to the record (HL7 v2.5.1 chapter 3, the event's definition).</summary>
    private enum AdtAction
    {
        /// <summary>The patient (demographics owned) and the visit of PV1, with the event's encounter status.</summary>
        Visit,

        /// <summary>The patient only: the PV1, if any, is not a visit.</summary>
        Person,

        /// <summary>A29: the person's information is deleted at the sender; the patient record is made inactive.</summary>
        DeletePerson,

        /// <summary>PID / MRG pairs: the prior patient (MRG-1) is merged into the surviving one (PID).</summary>
        Merge,

        /// <summary>A47: the patient known by MRG-1 now has PID-3's identifiers.</summary>
        ChangeIdentifiers,

        /// <summary>A45: the visit of PV1 moves to the patient of PID.</summary>
        MoveVisit,

        /// <summary>A50: the visit known by MRG-5 now has PV1-19's number.</summary>
        ChangeVisitNumber,

        /// <summary>A17: two patients swap locations; two PID / PV1 groups.</summary>
        Swap,

        /// <summary>A60: the patient's allergies (IAM) are updated.</summary>
        Allergies,
    }

    /// <summary>
    /// The ADT events of HL7 v2.5.1 chapter 3 that CareHub maps, and what each does. Events not here (A19 query, A20 bed
    /// status, A24/A37 link and unlink, account and visit merges and moves A35 A41 A42 A43 A44, A46 A48 A49 A51) are
    /// stored and accepted as unmapped by the broker (docs/v2-to-fhir.md has the table).
    /// </summary>
    private static readonly Dictionary<string, AdtAction> AdtActions = new(StringComparer.Ordinal)
    {
        ["A01"] = AdtAction.Visit, ["A02"] = AdtAction.Visit, ["A03"] = AdtAction.Visit, ["A04"] = AdtAction.Visit,
        ["A05"] = AdtAction.Visit, ["A06"] = AdtAction.Visit, ["A07"] = AdtAction.Visit, ["A08"] = AdtAction.Visit,
        ["A09"] = AdtAction.Visit, ["A10"] = AdtAction.Visit, ["A11"] = AdtAction.Visit, ["A12"] = AdtAction.Visit,
        ["A13"] = AdtAction.Visit, ["A14"] = AdtAction.Visit, ["A15"] = AdtAction.Visit, ["A16"] = AdtAction.Visit,
        ["A17"] = AdtAction.Swap, ["A18"] = AdtAction.Merge, ["A21"] = AdtAction.Visit, ["A22"] = AdtAction.Visit,
        ["A23"] = AdtAction.Visit, ["A25"] = AdtAction.Visit, ["A26"] = AdtAction.Visit, ["A27"] = AdtAction.Visit,
        ["A28"] = AdtAction.Person, ["A29"] = AdtAction.DeletePerson, ["A30"] = AdtAction.Merge, ["A31"] = AdtAction.Person,
        ["A32"] = AdtAction.Visit, ["A33"] = AdtAction.Visit, ["A34"] = AdtAction.Merge, ["A36"] = AdtAction.Merge,
        ["A38"] = AdtAction.Visit, ["A39"] = AdtAction.Merge, ["A40"] = AdtAction.Merge, ["A45"] = AdtAction.MoveVisit,
        ["A47"] = AdtAction.ChangeIdentifiers, ["A50"] = AdtAction.ChangeVisitNumber, ["A52"] = AdtAction.Visit,
        ["A53"] = AdtAction.Visit, ["A54"] = AdtAction.Visit, ["A55"] = AdtAction.Visit, ["A60"] = AdtAction.Allergies,
        ["A61"] = AdtAction.Visit, ["A62"] = AdtAction.Visit,
    };

    /// <summary>Events about a visit: without a way to find the visit again, there is nothing to apply them to.</summary>
    private static readonly HashSet<string> VisitEvents = new(StringComparer.Ordinal)
    {
        "A01", "A02", "A03", "A06", "A07", "A11", "A12", "A13", "A21", "A22", "A23", "A45", "A50", "A52", "A53",
    };

    private static readonly HashSet<string> AdtSegments = new(StringComparer.Ordinal) { "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "OBX", "NTE", "AL1", "DG1", "MRG", "SFT", "IAM" };

    private static void MapAdt(MappingContext context)
    {
        switch (AdtActions[context.Trigger])
        {
            case AdtAction.Merge:
                MapMerge(context);
                return;
            case AdtAction.Swap:
                MapSwap(context);
                return;
            case AdtAction.ChangeIdentifiers:
                MapChangeIdentifiers(context);
                return;
            case AdtAction.DeletePerson:
                var deleted = WritePatient(context, ownsDemographics: true);
                deleted.Patient.Active = false;
                return;
            case AdtAction.Person:
                WritePatient(context, ownsDemographics: true);
                break;
            case AdtAction.Allergies:
                // An allergy update names the patient; it does not own the demographics PAS sends in A08.
                WritePatient(context, ownsDemographics: false);
                break;
            case AdtAction.MoveVisit:
                WritePatient(context, ownsDemographics: false);
                WriteEncounter(context, ownsVisit: true);
                break;
            default:
                WritePatient(context, ownsDemographics: true);
                WriteEncounter(context, ownsVisit: true);
                break;
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
                case "AL1" or "IAM" when allergies:
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
    private static void WriteEncounter(MappingContext context, bool ownsVisit, Hl7Segment? visit = null)
    {
        if ((visit ?? context.Message.Segment("PV1")) is not { } pv1)
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

        // A50 (change visit number), and A06/A07 when the visit number changes with the class: the visit is found by
        // its prior number MRG-5, or by its new one if the change was applied already, and takes the new number.
        Identifier[] keys = [key];
        if (context.Trigger is "A50" or "A06" or "A07" && context.Message.Segment("MRG") is { } mrg
            && V2Identifiers.FromCx(Hl7Identifier.From(mrg[5]), context.Sender, "visit-number", context.Options, out _) is { } prior
            && MappingContext.KeyText(prior) != MappingContext.KeyText(key))
        {
            prior.Type = new CodeableConcept(V2Identifiers.V2IdentifierTypes, "VN");
            keys = [key, prior];
        }
        else if (context.Trigger == "A50")
        {
            throw V2MappingException.RequiredFieldMissing("MRG", 1, 5, "prior visit number");
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
        else if (context.Trigger == "A15")
        {
            // A15 (pending transfer): PV1-42 is where the patient is to go; A26 (its cancel) leaves it out again.
            AddLocation(encounter, pv1[42], Encounter.EncounterLocationStatus.Planned);
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

        context.EncounterUrl = ownsVisit ? context.Builder.Put(encounter, keys) : context.Builder.CreateIfNoneExist(encounter, key);
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
    /// Status by event (HL7 v2.5.1 chapter 3): A01, A02, A06, A07, A12 and A13 in progress (A13: discharge cancelled),
    /// A22 and A52 in progress (back from leave, or the leave cancelled); A21 and A53 on leave; A03 finished; A05 and
    /// A14 planned (pre-admitted, admission pending); A11, A27 and A38 cancel an admission or pre-admission (cancelled,
    /// or entered-in-error by option); A23 deletes the visit at the sender (entered-in-error). The other events (A04,
    /// A08, tracking, pending transfer or discharge and their cancels, changes of doctor) and non-ADT messages take
    /// the status from PV1 as the IG does (PV1-45 valued: finished; class P: planned; else in progress).
    /// </summary>
    private static Encounter.EncounterStatus EncounterStatusFor(MappingContext context, Hl7Segment pv1, string? patientClass, bool ownsVisit)
    {
        if (ownsVisit)
        {
            switch (context.Trigger)
            {
                case "A01" or "A02" or "A06" or "A07" or "A12" or "A13" or "A22" or "A52":
                    return Encounter.EncounterStatus.InProgress;
                case "A21" or "A53":
                    return Encounter.EncounterStatus.Onleave;
                case "A03":
                    return Encounter.EncounterStatus.Finished;
                case "A05" or "A14":
                    return Encounter.EncounterStatus.Planned;
                case "A11" or "A27" or "A38":
                    return context.Options.CancelledAdmissionStatus;
                case "A23":
                    return Encounter.EncounterStatus.EnteredInError;
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
            throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MRG"), $"An {context.Trigger} needs a PID followed by an MRG segment.");
        }
    }

    private static void MergeOne(MappingContext context, Hl7Segment pid, Hl7Segment mrg)
    {
        var survivor = MapPid(context, pid);
        var prior = new Patient { Active = false };
        var priorKeys = PriorKeys(context, mrg, prior.Identifier);
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

    /// <summary>
    /// The keys of the prior patient, MRG-1 (its NHS Number and first other identifier), each identifier added to
    /// <paramref name="identifiers"/>. Refused (101 at MRG-1) when MRG-1 holds none.
    /// </summary>
    private static Identifier[] PriorKeys(MappingContext context, Hl7Segment mrg, List<Identifier> identifiers)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Identifier? priorNhs = null;
        Identifier? priorOther = null;
        foreach (var repetition in mrg[1].Repetitions)
        {
            if (V2Identifiers.FromCx(Hl7Identifier.From(repetition), context.Sender, "patient-id", context.Options, out var isNhs) is { } identifier
                && seen.Add(MappingContext.KeyText(identifier)))
            {
                identifiers.Add(identifier);
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

        return priorNhs is null ? [priorOther!] : priorOther is null ? [priorNhs] : [priorNhs, priorOther];
    }

    // ---- A47 change identifiers, A17 swap ------------------------------------------------------------------------

    /// <summary>
    /// A47 (change patient identifier list): the patient the sender knew by MRG-1 now has PID-3's identifiers. The
    /// Patient is found by the prior or the new identifiers (so a repeat finds it again) and takes PID's. If both find
    /// different patients the record answers 412: that is a merge (A40), not a change, and goes to the work queue.
    /// </summary>
    private static void MapChangeIdentifiers(MappingContext context)
    {
        var pid = context.Message.Segment("PID") ?? throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("PID"), "An A47 needs a PID segment.");
        var mrg = context.Message.Segment("MRG") ?? throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("MRG"), "An A47 needs an MRG segment.");
        var map = MapPid(context, pid);
        var priorKeys = PriorKeys(context, mrg, []);
        var keys = map.Keys.Concat(priorKeys).DistinctBy(MappingContext.KeyText).ToArray();
        context.PatientUrl = context.Builder.Put(map.Patient, keys);
        context.PatientKey = map.Keys[0];
    }

    /// <summary>
    /// A17 (swap patients): two PID / PV1 groups, each patient's visit taking the location its PV1-3 gives. Both are
    /// written in the one transaction, so the record never shows the two in one bed.
    /// </summary>
    private static void MapSwap(MappingContext context)
    {
        var groups = 0;
        Hl7Segment? pid = null;
        foreach (var segment in Body(context))
        {
            switch (segment.Id)
            {
                case "PID":
                    pid = segment;
                    var map = MapPid(context, segment);
                    context.PatientUrl = context.Builder.Put(map.Patient, map.Keys);
                    context.PatientKey = map.Keys[0];
                    break;
                case "PV1" when pid is not null:
                    WriteEncounter(context, ownsVisit: true, visit: segment);
                    groups++;
                    pid = null;
                    break;
                case "EVN" or "PD1" or "PV2" or "SFT" or "DB1" or "OBX":
                    break;
                default:
                    context.Unmapped(segment);
                    break;
            }
        }

        if (groups != 2)
        {
            throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("PV1"), "An A17 needs two PID / PV1 groups, one for each patient.");
        }
    }
}
