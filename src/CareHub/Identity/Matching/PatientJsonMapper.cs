using System.Text.Json;

namespace CareHub.Identity.Matching;

/// <summary>
/// Reads a stored Patient's JSON (FHIR R4 JSON as the record store holds it: already parsed strictly and valid) into a
/// <see cref="PersonRecord"/> with the same rules as <see cref="PatientMapper"/>, without building the Firely object model.
/// Matching reads every blocking candidate it has not prepared before; a full FHIR parse of each was most of the cost of
/// matching, and the comparison needs only a dozen elements. The two mappers must agree: a test holds them together.
/// </summary>
public static class PatientJsonMapper
{
    private const string ReplacedBy = "replaced-by";

    /// <summary>The person the Patient describes, and whether it was merged into another (a <c>replaced-by</c> link).</summary>
    public static (PersonRecord Person, bool Merged) Read(string json, string sourceSystem)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceSystem);
        using var document = JsonDocument.Parse(json);
        var patient = document.RootElement;
        var today = DateOnly.FromDateTime(DateTime.UtcNow);

        var names = Array(patient, "name")
            .Where(n => !string.IsNullOrWhiteSpace(String(n, "family")) || Strings(n, "given").Any(g => !string.IsNullOrWhiteSpace(g)))
            .ToList();
        int? current = First(names, n => String(n, "use") == "official" && IsCurrent(n, today))
            ?? First(names, n => String(n, "use") == "usual" && IsCurrent(n, today))
            ?? First(names, n => String(n, "use") is not ("old" or "maiden") && IsCurrent(n, today))
            ?? (names.Count > 0 ? 0 : null);

        var address = Array(patient, "address")
            .Where(a => String(a, "use") is not ("old" or "billing") && IsCurrent(a, today))
            .OrderBy(a => String(a, "use") switch { "home" => 0, "temp" => 2, _ => 1 })
            .Cast<JsonElement?>()
            .FirstOrDefault();

        var person = new PersonRecord(sourceSystem, String(patient, "id") ?? string.Empty)
        {
            NhsNumber = Array(patient, "identifier")
                .Where(i => string.Equals(String(i, "system"), NhsNumber.IdentifierSystem, StringComparison.Ordinal))
                .Select(i => String(i, "value"))
                .FirstOrDefault(),
            GivenNames = current is { } c ? Present(Strings(names[c], "given")) : [],
            FamilyName = current is { } f ? String(names[f], "family") : null,
            OtherNames = names.Where((_, i) => i != current)
                .Select(n => new PersonName(Present(Strings(n, "given")), String(n, "family")))
                .ToArray(),
            BirthDate = PartialDate.TryParse(String(patient, "birthDate"), out var birthDate) ? birthDate : null,
            Sex = String(patient, "gender") switch
            {
                "male" => PersonSex.Male,
                "female" => PersonSex.Female,
                "other" => PersonSex.Other,
                _ => null,
            },
            Postcode = address is { } p ? String(p, "postalCode") : null,
            AddressLines = address is { } l ? Present(Strings(l, "line")) : [],
            Town = address is { } t ? String(t, "city") : null,
            Phone = FirstTelecom(patient, "phone", today),
            Email = FirstTelecom(patient, "email", today),
        };
        var merged = Array(patient, "link").Any(l => String(l, "type") == ReplacedBy);
        return (person, merged);
    }

    private static int? First(List<JsonElement> items, Func<JsonElement, bool> predicate)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (predicate(items[i]))
            {
                return i;
            }
        }

        return null;
    }

    private static string? FirstTelecom(JsonElement patient, string system, DateOnly today) =>
        Array(patient, "telecom")
            .Where(t => String(t, "system") == system && !string.IsNullOrWhiteSpace(String(t, "value")) && String(t, "use") != "old" && IsCurrent(t, today))
            .OrderBy(t => t.TryGetProperty("rank", out var rank) && rank.ValueKind == JsonValueKind.Number ? rank.GetInt32() : int.MaxValue)
            .Select(t => String(t, "value"))
            .FirstOrDefault();

    /// <summary>As <see cref="PatientMapper"/>: an element whose period has ended is history; a partial end ends at its last day.</summary>
    private static bool IsCurrent(JsonElement element, DateOnly today)
    {
        if (!element.TryGetProperty("period", out var period) || String(period, "end") is not { } end || !PartialDate.TryParse(end, out var date))
        {
            return true;
        }

        var month = date.Month ?? 12;
        var lastDay = new DateOnly(date.Year, month, date.Day ?? DateTime.DaysInMonth(date.Year, month));
        return lastDay >= today;
    }

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : [];

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A repeating string element; a repetition with only an extension (<c>null</c> in the array) has no value.</summary>
    private static IEnumerable<string?> Strings(JsonElement element, string name) =>
        Array(element, name).Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : null);

    private static string[] Present(IEnumerable<string?> values) =>
        values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!).ToArray();
}
