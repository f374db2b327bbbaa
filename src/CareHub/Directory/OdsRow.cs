using System.Globalization;

namespace CareHub.Directories;

/// <summary>
/// One organisation of an ODS extract, its columns named. Columns are 1-based in NHS Digital's layouts and here; see
/// docs/directories.md for the table of columns and the FHIR elements they fill.
/// </summary>
public sealed record OdsRow(int Line, string Code, string Name, IReadOnlyList<string> AddressLines, string Postcode, DateOnly? OpenDate, DateOnly? CloseDate)
{
    /// <summary>epraccur column 13: A active, C closed, D dormant, P proposed; null for a layout without it.</summary>
    public string? Status { get; init; }

    /// <summary>epraccur column 15, "Commissioner": the organisation the practice is allocated to (its parent in ODS).</summary>
    public string? Parent { get; init; }

    /// <summary>epraccur column 24, "Provider/Purchaser".</summary>
    public string? ProviderPurchaser { get; init; }

    /// <summary>Column 18, the contact telephone number.</summary>
    public string? Phone { get; init; }

    /// <summary>epraccur column 26, the prescribing setting (4 is a GP practice).</summary>
    public int? PrescribingSetting { get; init; }

    /// <summary>Checks the columns of one record of <paramref name="family"/> and names them.</summary>
    public static OdsRow Check(string path, int line, OdsFamily family, string[] fields)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(fields);
        string Column(int number) => fields[number - 1].Trim();
        OdsFormatException Bad(int number, string what) =>
            new(path, line, $"column {number.ToString(CultureInfo.InvariantCulture)} {what}");

        var code = Column(1);
        if (code.Length is < 3 or > 10 || !code.All(char.IsAsciiLetterOrDigit))
        {
            throw Bad(1, $"must be an ODS organisation code (3 to 10 letters and digits), not '{code}'.");
        }

        var name = Column(2);
        if (name.Length == 0)
        {
            throw Bad(2, "(the organisation's name) is empty.");
        }

        DateOnly? Date(int number)
        {
            var value = Column(number);
            if (value.Length == 0)
            {
                return null;
            }

            return DateOnly.TryParseExact(value, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                ? date
                : throw Bad(number, $"must be a date written YYYYMMDD, not '{value}'.");
        }

        string? Optional(int number) => Column(number) is { Length: > 0 } value ? value : null;

        var row = new OdsRow(line, code, name, [.. Enumerable.Range(5, 5).Select(Column).Where(l => l.Length > 0)], Column(10), Date(11), Date(12))
        {
            Phone = Optional(18),
        };
        if (row.CloseDate < row.OpenDate)
        {
            throw Bad(12, $"(close date {row.CloseDate:yyyy-MM-dd}) is before the open date {row.OpenDate:yyyy-MM-dd}.");
        }

        if (family != OdsFamily.GpPractices)
        {
            return row;
        }

        var status = Column(13);
        if (status is not ("A" or "C" or "D" or "P"))
        {
            throw Bad(13, $"(status) must be A, C, D or P, not '{status}'.");
        }

        int? setting = null;
        if (Optional(26) is { } text)
        {
            setting = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                ? number
                : throw Bad(26, $"(prescribing setting) must be a number, not '{text}'.");
        }

        return row with
        {
            Status = status,
            Parent = Column(14) == "B" ? Optional(15) : null,
            ProviderPurchaser = Optional(24),
            PrescribingSetting = setting,
        };
    }
}
