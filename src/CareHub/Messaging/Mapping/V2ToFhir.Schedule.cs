using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

public static partial class V2ToFhir
{
    private static readonly HashSet<string> ScheduleSegments = new(StringComparer.Ordinal) { "SCH", "TQ1", "NTE", "PID", "PD1", "PV1", "PV2", "OBX", "DG1", "RGS", "AIS", "AIL", "AIP", "SFT" };

    /// <summary>
    /// SIU^S12 (new appointment booking) to Appointment (IG segment-sch-to-appointment, AIS/AIL/AIP participants): keyed by
    /// the filler appointment id SCH-2, else the placer's SCH-1. Times from TQ1-7/8, else SCH-11.4/11.5, else the first
    /// AIS/AIL/AIP start and duration. The patient and visit are created if unknown, never overwritten.
    /// </summary>
    private static void MapSchedule(MappingContext context)
    {
        var sch = context.Message.Segment("SCH") ?? throw new V2MappingException(Hl7ErrorCode.SegmentSequenceError, new Hl7ErrorLocation("SCH"), "An SIU message needs an SCH segment.");
        WritePatient(context, ownsDemographics: false);
        WriteEncounter(context, ownsVisit: false);
        var filler = V2Identifiers.FromEi(sch[2], context.Sender, "filler-appointment", context.Options);
        var placer = V2Identifiers.FromEi(sch[1], context.Sender, "placer-appointment", context.Options);
        var key = filler ?? placer ?? throw V2MappingException.RequiredFieldMissing("SCH", 1, 2, "filler appointment id");
        var appointment = new Appointment
        {
            Identifier = [.. new[] { filler, placer }.OfType<Identifier>()],
            Status = AppointmentStatusFor(V2Types.Code(sch[25].Component(1).Value)),
            AppointmentType = context.Concept(sch[8], "0277"),
            Created = context.DateTime(context.Message.Segment("EVN")?[2] ?? default),
        };
        if (context.Concept(sch[7], "0276") is { } reason)
        {
            appointment.ReasonCode.Add(reason);
        }

        var (start, end, minutes) = AppointmentTimes(context, sch);
        if (minutes is > 0)
        {
            appointment.MinutesDuration = minutes;
        }

        if (start is not null && end is not null && end >= start)
        {
            appointment.Start = start;
            appointment.End = end;
        }
        else if (appointment.Status is not (Appointment.AppointmentStatus.Proposed or Appointment.AppointmentStatus.Cancelled or Appointment.AppointmentStatus.Waitlist))
        {
            // R4 app-3: only proposed, cancelled or waitlisted appointments may lack start and end.
            context.Warn(sch, 11, "No start and end time (TQ1-7/8, SCH-11, AIS/AIL/AIP-6 with duration): the appointment is recorded as proposed.");
            appointment.Status = Appointment.AppointmentStatus.Proposed;
        }

        appointment.Participant.Add(new Appointment.ParticipantComponent
        {
            Actor = new ResourceReference(context.PatientUrl),
            Status = ParticipationStatus.Accepted,
        });
        Hl7Segment? previous = null;
        foreach (var segment in Body(context))
        {
            switch (segment.Id)
            {
                case "NTE" when previous?.Id == "SCH":
                    appointment.Comment = string.Join('\n', new[] { appointment.Comment, Joined(context, segment[3]) }.Where(t => t is not null));
                    continue;
                case "AIS":
                    if (context.Concept(segment[3]) is { } service)
                    {
                        appointment.ServiceType.Add(service);
                    }

                    break;
                case "AIL":
                    if (V2Types.LocationText(segment[3]) is { } location)
                    {
                        appointment.Participant.Add(new Appointment.ParticipantComponent
                        {
                            Type = context.Concept(segment[4]) is { } locationType ? [locationType] : [],
                            Actor = new ResourceReference { Display = location },
                            Status = ParticipationStatus.Accepted,
                        });
                    }

                    break;
                case "AIP":
                    foreach (var person in context.Practitioners(segment[3]))
                    {
                        appointment.Participant.Add(new Appointment.ParticipantComponent
                        {
                            Type = context.Concept(segment[4]) is { } role ? [role] : [],
                            Actor = person,
                            Status = ParticipationStatus.Accepted,
                        });
                    }

                    break;
            }

            if (segment.Id != "NTE")
            {
                previous = segment;
            }
        }

        var appointmentUrl = context.Builder.Put(appointment, key);
        if (context.EncounterUrl is not null)
        {
            // The visit PV1 describes is the one the booking is for (Encounter.appointment); set on the resource the
            // transaction writes, whether it is created here or already known.
            foreach (var (_, resource) in context.Builder.Entries)
            {
                if (resource is Encounter encounter && encounter.Appointment.Count == 0)
                {
                    encounter.Appointment.Add(new ResourceReference(appointmentUrl));
                }
            }
        }

        // SIU carries no allergies (AL1 is not part of its structure): it stays an unmapped-segment warning.
        MapClinicalSegments(context, ScheduleSegments, allergies: false);
    }

    /// <summary>SCH-25 (table 0278, filler status) to Appointment.status; an S12 without one is a booking.</summary>
    private static Appointment.AppointmentStatus AppointmentStatusFor(string? code) => code?.ToUpperInvariant() switch
    {
        "PENDING" => Appointment.AppointmentStatus.Pending,
        "WAITLIST" => Appointment.AppointmentStatus.Waitlist,
        "STARTED" => Appointment.AppointmentStatus.Arrived,
        "COMPLETE" => Appointment.AppointmentStatus.Fulfilled,
        "CANCELLED" or "DC" => Appointment.AppointmentStatus.Cancelled,
        "DELETED" => Appointment.AppointmentStatus.EnteredInError,
        "NOSHOW" => Appointment.AppointmentStatus.Noshow,
        _ => Appointment.AppointmentStatus.Booked,
    };

    private static (DateTimeOffset? Start, DateTimeOffset? End, int? Minutes) AppointmentTimes(MappingContext context, Hl7Segment sch)
    {
        var minutes = Minutes(V2Types.Number(sch[9].Value), V2Types.Code(sch[10].Component(1).Value));
        if (context.Message.Segment("TQ1") is { } tq1 && context.Instant(tq1[7]) is { } tqStart)
        {
            return (tqStart, context.Instant(tq1[8]) ?? (minutes is { } m ? tqStart.AddMinutes(m) : null), minutes);
        }

        if (context.Instant(sch[11].Component(4)) is { } schStart)
        {
            return (schStart, context.Instant(sch[11].Component(5)) ?? (minutes is { } m ? schStart.AddMinutes(m) : null), minutes);
        }

        foreach (var (id, startField, durationField) in (ReadOnlySpan<(string, int, int)>)[("AIS", 4, 7), ("AIL", 6, 9), ("AIP", 6, 9)])
        {
            if (context.Message.Segment(id) is { } resource && context.Instant(resource[startField]) is { } start)
            {
                var duration = Minutes(V2Types.Number(resource[durationField].Value), V2Types.Code(resource[durationField + 1].Component(1).Value)) ?? minutes;
                return (start, duration is { } d ? start.AddMinutes(d) : null, minutes ?? duration);
            }
        }

        return (null, null, minutes);
    }

    /// <summary>A duration in whole minutes from a number and its units (ISO+ / ANSI+ style: s, min, h, d).</summary>
    private static int? Minutes(decimal? amount, string? units)
    {
        if (amount is not { } value || value <= 0)
        {
            return null;
        }

        var factor = units?.ToUpperInvariant() switch
        {
            "S" or "SEC" or "SECONDS" => 1m / 60,
            "H" or "HR" or "HOURS" => 60m,
            "D" or "DAY" or "DAYS" => 1440m,
            _ => 1m,
        };
        var minutes = (int)Math.Round(value * factor, MidpointRounding.AwayFromZero);
        return minutes > 0 ? minutes : null;
    }
}
