using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private const string MothersMaidenName = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName";
    private const string BirthTime = "http://hl7.org/fhir/StructureDefinition/patient-birthTime";
    private static readonly HashSet<string> MaritalStatusCodes = new(StringComparer.Ordinal) { "A", "D", "I", "L", "M", "P", "S", "T", "U", "W" };

    /// <summary>A mapped PID: the Patient and the identifiers it is found by (NHS Number first, then the primary MRN).</summary>
    private sealed record PatientMap(Patient Patient, Identifier[] Keys);

    /// <summary>
    /// PID to Patient (IG segment-pid-to-patient). Identifiers come from PID-3 (and the pre-v2.5 PID-2 and PID-4); at
    /// least one is required (101 at PID-3) because without one a repeated message could only duplicate the patient.
    /// </summary>
    private static PatientMap MapPid(MappingContext context, Hl7Segment pid)
    {
        var patient = new Patient { Active = true };
        Identifier? nhsNumber = null;
        Identifier? primary = null;
        Identifier? firstOther = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in (int[])[3, 2, 4])
        {
            foreach (var repetition in pid[field].Repetitions)
            {
                var cx = Hl7Identifier.From(repetition);
                if (V2Identifiers.FromCx(cx, context.Sender, "patient-id", context.Options, out var isNhs) is not { } identifier
                    || !seen.Add(MappingContext.KeyText(identifier)))
                {
                    continue;
                }

                if (V2Types.Code(cx.IdentifierTypeCode) is "SS")
                {
                    // A US social security number is no key for a UK record; keep it, but never match on it.
                    patient.Identifier.Add(identifier);
                    continue;
                }

                patient.Identifier.Add(identifier);
                if (isNhs)
                {
                    nhsNumber ??= identifier;
                }
                else if (field == 3 && primary is null && string.Equals(V2Types.Code(cx.IdentifierTypeCode), "MR", StringComparison.OrdinalIgnoreCase))
                {
                    primary = identifier;
                }
                else
                {
                    firstOther ??= identifier;
                }
            }
        }

        primary ??= firstOther;
        if (nhsNumber is null && primary is null)
        {
            throw V2MappingException.RequiredFieldMissing("PID", context.OccurrenceOf(pid), 3, "patient identifier list");
        }

        foreach (var repetition in pid[5].Repetitions)
        {
            if (V2Types.Name(repetition) is { } name)
            {
                patient.Name.Add(name);
            }
        }

        if (V2Types.Text(pid[6].Component(1).Subcomponent(1)) is { } maiden)
        {
            patient.Extension.Add(new Extension(MothersMaidenName, new FhirString(maiden)));
        }

        var birth = V2Types.DateTime(pid[7]);
        if (V2Types.FhirDate(birth) is { } birthDate)
        {
            patient.BirthDateElement = new Date(birthDate);
            if (birth is { Precision: >= Hl7DateTimePrecision.Minute })
            {
                patient.BirthDateElement.Extension.Add(new Extension(BirthTime, new FhirDateTime(V2Types.FhirDateTime(birth, context.Zone))));
            }
        }

        patient.Gender = V2Types.Code(pid[8].Value)?.ToUpperInvariant() switch
        {
            "M" => AdministrativeGender.Male,
            "F" => AdministrativeGender.Female,
            "O" or "A" => AdministrativeGender.Other,
            "U" or "N" => AdministrativeGender.Unknown,
            _ => null,
        };
        foreach (var repetition in pid[11].Repetitions)
        {
            if (V2Types.Address(repetition) is { } address)
            {
                patient.Address.Add(address);
            }
        }

        AddTelecoms(patient.Telecom, pid[13], ContactPoint.ContactPointUse.Home);
        AddTelecoms(patient.Telecom, pid[14], ContactPoint.ContactPointUse.Work);
        if (context.Concept(pid[15], "0296") is { } language)
        {
            patient.Communication.Add(new Patient.CommunicationComponent { Language = language });
        }

        if (context.Concept(pid[16], "0002") is { } marital)
        {
            // Table 0002 codes that are also v3 MaritalStatus codes take that system (IG ConceptMap table-hl70002-to-marital-status).
            foreach (var coding in marital.Coding.Where(c => c.System == V2Codes.V2TablePrefix + "0002" && c.Code is not null && MaritalStatusCodes.Contains(c.Code)))
            {
                coding.System = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus";
            }

            patient.MaritalStatus = marital;
        }

        if (V2Types.Code(pid[24].Value) is { } multiple)
        {
            patient.MultipleBirth = int.TryParse(V2Types.Code(pid[25].Value), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var order) && order > 0
                ? new Integer(order)
                : new FhirBoolean(multiple.Equals("Y", StringComparison.OrdinalIgnoreCase));
        }

        if (context.DateTime(pid[29]) is { } death)
        {
            patient.Deceased = new FhirDateTime(death);
        }
        else if (V2Types.Code(pid[30].Value) is { } deceased)
        {
            patient.Deceased = new FhirBoolean(deceased.Equals("Y", StringComparison.OrdinalIgnoreCase));
        }

        Identifier[] keys = nhsNumber is null ? [primary!] : primary is null ? [nhsNumber] : [nhsNumber, primary];
        return new PatientMap(patient, keys);
    }

    /// <summary>
    /// The patient identifiers of every PID in a message (PID-3, and the pre-v2.5 PID-2 and PID-4) as the mapper writes
    /// them, NHS Numbers under the NHS system: what the message says about whom, e.g. for the audit of a view of it.
    /// </summary>
    public static IReadOnlyList<Identifier> PatientIdentifiers(Hl7Message message, V2MappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(options);
        var context = new MappingContext(message, options, message.TriggerEvent);
        var identifiers = new List<Identifier>();
        foreach (var pid in message.SegmentsWithId("PID"))
        {
            foreach (var field in (int[])[3, 2, 4])
            {
                foreach (var repetition in pid[field].Repetitions)
                {
                    if (V2Identifiers.FromCx(Hl7Identifier.From(repetition), context.Sender, "patient-id", options, out _) is { } identifier)
                    {
                        identifiers.Add(identifier);
                    }
                }
            }
        }

        return identifiers;
    }

    private static void AddTelecoms(List<ContactPoint> telecoms, Hl7Element field, ContactPoint.ContactPointUse use)
    {
        foreach (var repetition in field.Repetitions)
        {
            if (V2Types.Telecom(repetition, use) is { } telecom)
            {
                telecoms.Add(telecom);
            }
        }
    }

    /// <summary>
    /// Maps the (first) PID and writes the Patient: ADT messages own demographics and replace them (conditional update on
    /// NHS Number OR primary MRN, so a patient first known by MRN is found once the NHS Number arrives); results,
    /// documents and bookings only create the patient when it is not known, and never overwrite what ADT said.
    /// </summary>
    private static PatientMap WritePatient(MappingContext context, bool ownsDemographics)
    {
        var pid = context.Message.Segment("PID") ?? throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("PID"), "The message has no PID segment.");
        var map = MapPid(context, pid);
        MapPd1(context, map.Patient);
        var related = new List<RelatedPerson>();
        if (ownsDemographics)
        {
            foreach (var nk1 in context.Message.SegmentsWithId("NK1"))
            {
                if (MapNk1(context, nk1, map.Patient) is { } person)
                {
                    related.Add(person);
                }
            }
        }

        context.PatientUrl = ownsDemographics ? context.Builder.Put(map.Patient, map.Keys) : context.Builder.CreateIfNoneExist(map.Patient, map.Keys);
        context.PatientKey = map.Keys[0];
        foreach (var person in related)
        {
            person.Patient = new ResourceReference(context.PatientUrl);
            context.Builder.Put(person, person.Identifier[0]);
        }

        return map;
    }

    /// <summary>PD1-3 (primary facility, the GP practice) and PD1-4 (primary care provider) to Patient.generalPractitioner.</summary>
    private static void MapPd1(MappingContext context, Patient patient)
    {
        if (context.Message.Segment("PD1") is not { } pd1)
        {
            return;
        }

        foreach (var xon in pd1[3].Repetitions)
        {
            var name = V2Types.Text(xon.Component(1));
            var code = V2Types.Code(V2Types.Text(xon.Component(10))) ?? V2Types.Code(V2Types.Text(xon.Component(3)));
            var authority = Hl7HierarchicDesignator.FromSubcomponents(xon.Component(6));
            if (context.Organization(code, name, authority, null, null) is { } organization)
            {
                patient.GeneralPractitioner.Add(organization);
            }
        }

        patient.GeneralPractitioner.AddRange(context.Practitioners(pd1[4]));
    }

    /// <summary>
    /// NK1 (IG segment-nk1-to-relatedperson). With identifiers in NK1-33 it becomes a RelatedPerson by conditional update;
    /// without, it has nothing a repeated message could find it by, so it goes into Patient.contact, which the patient's
    /// own update replaces (segment-nk1-to-patient).
    /// </summary>
    private static RelatedPerson? MapNk1(MappingContext context, Hl7Segment nk1, Patient patient)
    {
        var name = nk1[2].Repetitions.ToList().Select(V2Types.Name).FirstOrDefault(n => n is not null);
        var relationship = new List<CodeableConcept>();
        if (context.Concept(nk1[3], "0063") is { } relation)
        {
            relationship.Add(relation);
        }

        if (context.Concept(nk1[7], "0131") is { } role)
        {
            relationship.Add(role);
        }

        var telecoms = new List<ContactPoint>();
        AddTelecoms(telecoms, nk1[5], ContactPoint.ContactPointUse.Home);
        AddTelecoms(telecoms, nk1[6], ContactPoint.ContactPointUse.Work);
        var address = nk1[4].Repetitions.ToList().Select(V2Types.Address).FirstOrDefault(a => a is not null);
        var gender = V2Types.Code(nk1[15].Value)?.ToUpperInvariant() switch
        {
            "M" => AdministrativeGender.Male,
            "F" => AdministrativeGender.Female,
            "O" or "A" => AdministrativeGender.Other,
            "U" => AdministrativeGender.Unknown,
            _ => (AdministrativeGender?)null,
        };
        var identifiers = new List<Identifier>();
        foreach (var repetition in nk1[33].Repetitions)
        {
            if (V2Identifiers.FromCx(Hl7Identifier.From(repetition), context.Sender, "related-person", context.Options, out _) is { } identifier)
            {
                identifiers.Add(identifier);
            }
        }

        if (name is null && telecoms.Count == 0 && address is null)
        {
            context.Warn(nk1, 2, "NK1 without a name, telecom or address: nothing to record.");
            return null;
        }

        if (identifiers.Count > 0)
        {
            var related = new RelatedPerson
            {
                Identifier = identifiers,
                Active = true,
                Relationship = relationship,
                Telecom = telecoms,
                Gender = gender,
            };
            if (name is not null)
            {
                related.Name.Add(name);
            }

            if (address is not null)
            {
                related.Address.Add(address);
            }

            return related;
        }

        var contact = new Patient.ContactComponent { Relationship = relationship, Name = name, Telecom = telecoms, Address = address, Gender = gender };
        patient.Contact.Add(contact);
        return null;
    }
}
