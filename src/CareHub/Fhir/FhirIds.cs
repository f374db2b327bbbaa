using System.Globalization;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;

namespace CareHub.Fhir;

/// <summary>Rules for ids and resource type names (FHIR R4 datatypes.html#id, resource.html).</summary>
public static partial class FhirIds
{
    [GeneratedRegex("^[A-Za-z0-9\\-\\.]{1,64}$")]
    private static partial Regex IdPattern();

    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>A concrete R4 resource type (not the abstract Resource or DomainResource).</summary>
    public static bool IsResourceType(string? type) =>
        type is not null && type is not ("Resource" or "DomainResource") && ModelInfo.IsKnownResource(type);

    public static string NewId() => Guid.CreateVersion7().ToString();

    public static string FormatVersion(int version) => version.ToString(CultureInfo.InvariantCulture);
}

/// <summary>FHIR date, dateTime and instant values as the half-open ranges of time they stand for (search.html#date).</summary>
public static partial class FhirDates
{
    [GeneratedRegex("^(?<y>\\d{4})(-(?<m>\\d{2})(-(?<d>\\d{2})(T(?<h>\\d{2}):(?<mi>\\d{2})(:(?<s>\\d{2})(?<f>\\.\\d+)?)?(?<tz>Z|[+-]\\d{2}:\\d{2})?)?)?)?$")]
    private static partial Regex DatePattern();

    public static (DateTimeOffset Start, DateTimeOffset End)? Range(string text)
    {
        var match = DatePattern().Match(text);
        if (!match.Success)
        {
            return null;
        }

        int Part(string name, int fallback) => match.Groups[name].Success ? int.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : fallback;
        try
        {
            var offset = TimeSpan.Zero;
            if (match.Groups["tz"].Success && match.Groups["tz"].Value != "Z")
            {
                offset = TimeSpan.Parse(match.Groups["tz"].Value.TrimStart('+'), CultureInfo.InvariantCulture);
            }

            var start = new DateTimeOffset(Part("y", 1), Part("m", 1), Part("d", 1), Part("h", 0), Part("mi", 0), Part("s", 0), offset);
            if (match.Groups["f"].Success)
            {
                var fraction = double.Parse("0" + match.Groups["f"].Value, CultureInfo.InvariantCulture);
                start = start.AddTicks((long)Math.Round(fraction * TimeSpan.TicksPerSecond));
                return (start, start.AddMilliseconds(1));
            }

            var end = match.Groups["s"].Success ? start.AddSeconds(1)
                : match.Groups["mi"].Success ? start.AddMinutes(1)
                : match.Groups["d"].Success ? start.AddDays(1)
                : match.Groups["m"].Success ? start.AddMonths(1)
                : start.AddYears(1);
            return (start, end);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
