using Hl7.Fhir.Model;

namespace CareHub.Identity.Matching;

/// <summary>
/// Reads a FHIR R4 Patient (UK Core shape) into a <see cref="PersonRecord"/>: the NHS Number from the
/// identifier with system <c>https://fhir.nhs.uk/Id/nhs-number</c>, the current name and the others as
/// previous or alias names, the current home address, and the first phone and email by rank.
/// </summary>
public static class PatientMapper
{
    public static PersonRecord ToPersonRecord(Patient patient, string sourceSystem)
    {
        ArgumentNullException.ThrowIfNull(patient);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceSystem);

        var names = patient.Name.Where(n => !string.IsNullOrWhiteSpace(n.Family) || n.Given.Any(g => !string.IsNullOrWhiteSpace(g))).ToList();
        var current = names.FirstOrDefault(n => n.Use == HumanName.NameUse.Official && IsCurrent(n.Period))
            ?? names.FirstOrDefault(n => n.Use == HumanName.NameUse.Usual && IsCurrent(n.Period))
            ?? names.FirstOrDefault(n => n.Use is not (HumanName.NameUse.Old or HumanName.NameUse.Maiden) && IsCurrent(n.Period))
            ?? names.FirstOrDefault();

        var address = patient.Address
            .Where(a => a.Use is not (Address.AddressUse.Old or Address.AddressUse.Billing) && IsCurrent(a.Period))
            .OrderBy(a => a.Use == Address.AddressUse.Home ? 0 : a.Use == Address.AddressUse.Temp ? 2 : 1)
            .FirstOrDefault();

        return new PersonRecord(sourceSystem, patient.Id ?? string.Empty)
        {
            NhsNumber = patient.Identifier.FirstOrDefault(i => string.Equals(i.System, NhsNumber.IdentifierSystem, StringComparison.Ordinal))?.Value,
            GivenNames = current is null ? [] : Present(current.Given),
            FamilyName = current?.Family,
            OtherNames = names.Where(n => !ReferenceEquals(n, current))
                .Select(n => new PersonName(Present(n.Given), n.Family))
                .ToArray(),
            BirthDate = PartialDate.TryParse(patient.BirthDate, out var birthDate) ? birthDate : null,
            Sex = patient.Gender switch
            {
                AdministrativeGender.Male => PersonSex.Male,
                AdministrativeGender.Female => PersonSex.Female,
                AdministrativeGender.Other => PersonSex.Other,
                _ => null,
            },
            Postcode = address?.PostalCode,
            AddressLines = address is null ? [] : Present(address.Line),
            Town = address?.City,
            Phone = FirstTelecom(patient, ContactPoint.ContactPointSystem.Phone),
            Email = FirstTelecom(patient, ContactPoint.ContactPointSystem.Email),
        };
    }

    private static string? FirstTelecom(Patient patient, ContactPoint.ContactPointSystem system) =>
        patient.Telecom
            .Where(t => t.System == system && !string.IsNullOrWhiteSpace(t.Value) && t.Use != ContactPoint.ContactPointUse.Old && IsCurrent(t.Period))
            .OrderBy(t => t.Rank ?? int.MaxValue)
            .Select(t => t.Value)
            .FirstOrDefault();

    private static string[] Present(IEnumerable<string?> values) =>
        values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!).ToArray();

    // An element whose period has ended is history (FHIR R4 Period: an absent end means ongoing). The
    // end may be partial ("2019" ends on the last day of 2019).
    private static bool IsCurrent(Period? period)
    {
        if (period?.End is not { } end || !PartialDate.TryParse(end, out var date))
        {
            return true;
        }

        var month = date.Month ?? 12;
        var lastDay = new DateOnly(date.Year, month, date.Day ?? DateTime.DaysInMonth(date.Year, month));
        return lastDay >= DateOnly.FromDateTime(DateTime.UtcNow);
    }
}
