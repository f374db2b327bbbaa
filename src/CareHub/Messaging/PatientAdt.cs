using System.Globalization;
using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging;

/// <summary>
/// Builds an ADT^A08 (update patient information, HL7 v2.5.1 chapter 3.3.8) from a FHIR Patient, for outbound channels
/// that send record changes on. PID carries identifiers (NHS Number with assigning authority NHS and type NH, as NHS
/// HL7 v2 interfaces use it; others as MR), name, birth date, administrative sex and address; PV1 says the patient
/// class is not applicable (N), as an A08 about a person rather than a visit does.
/// </summary>
public static class PatientAdt
{
    private const string NhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number";

    public static Hl7Message Build(Patient patient, string sendingApplication, string sendingFacility, DateTimeOffset recorded)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var message = Hl7Message.Create("ADT^A08^ADT_A01", "2.5.1", timestamp: recorded);
        message.Set("MSH-3", sendingApplication);
        message.Set("MSH-4", sendingFacility);
        message.Set("EVN-1", "A08");
        message.Set("EVN-2", Hl7DateTime.FromDateTimeOffset(recorded, Hl7DateTimePrecision.Second).ToString());
        message.Set("PID-1", "1");

        var repetition = 1;
        foreach (var identifier in patient.Identifier.Where(i => !string.IsNullOrEmpty(i.Value)))
        {
            var nhs = identifier.System == NhsNumberSystem;
            var r = repetition.ToString(CultureInfo.InvariantCulture);
            message.Set($"PID-3[{r}].1", identifier.Value);
            message.Set($"PID-3[{r}].4", nhs ? "NHS" : identifier.System ?? "");
            message.Set($"PID-3[{r}].5", nhs ? "NH" : "MR");
            repetition++;
        }

        if (repetition == 1 && !string.IsNullOrEmpty(patient.Id))
        {
            message.Set("PID-3[1].1", patient.Id);
            message.Set("PID-3[1].4", "CAREHUB");
            message.Set("PID-3[1].5", "PI");
        }

        if ((patient.Name.FirstOrDefault(n => n.Use is null or HumanName.NameUse.Official) ?? patient.Name.FirstOrDefault()) is { } name)
        {
            message.Set("PID-5.1", name.Family);
            var given = name.Given.ToList();
            if (given.Count > 0)
            {
                message.Set("PID-5.2", given[0]);
            }

            if (given.Count > 1)
            {
                message.Set("PID-5.3", string.Join(' ', given.Skip(1)));
            }

            if (name.Prefix.FirstOrDefault() is { } prefix)
            {
                message.Set("PID-5.5", prefix);
            }
        }

        if (patient.BirthDate is { Length: >= 4 } birth)
        {
            message.Set("PID-7", birth.Replace("-", "", StringComparison.Ordinal));
        }

        // HL7 table 0001: F, M, O (other), U (unknown).
        message.Set("PID-8", patient.Gender switch
        {
            AdministrativeGender.Female => "F",
            AdministrativeGender.Male => "M",
            AdministrativeGender.Other => "O",
            _ => "U",
        });

        if (patient.Address.FirstOrDefault() is { } address)
        {
            var lines = address.Line.ToList();
            message.Set("PID-11.1", lines.ElementAtOrDefault(0));
            message.Set("PID-11.2", lines.ElementAtOrDefault(1));
            message.Set("PID-11.3", address.City);
            message.Set("PID-11.4", address.District);
            message.Set("PID-11.5", address.PostalCode);
        }

        message.Set("PV1-1", "1");
        message.Set("PV1-2", "N");
        return message;
    }
}
