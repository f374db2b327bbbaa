using System.Globalization;
using System.Text;
using CareHub.Fhir;
using CareHub.Storage;

namespace CareHub.Records;

/// <summary>
/// The search parameters the record understands today, parsed from a query string into a store query (FHIR R4
/// search.html): <c>_id</c>, <c>identifier</c> (token), <c>_lastUpdated</c> (date with prefixes), and the result
/// parameters <c>_count</c>, <c>_total</c>, <c>_summary=count</c> and the paging cursors. Parameters we do not know are
/// an error under <c>Prefer: handling=strict</c> and otherwise ignored and reported.
/// </summary>
public sealed record SearchRequest(
    string Type,
    IReadOnlyList<QueryClause> Clauses,
    int Count,
    string? AfterId,
    string? BeforeId,
    bool CountTotal,
    bool SummaryCount,
    IReadOnlyList<KeyValuePair<string, string>> Applied,
    IReadOnlyList<string> Ignored)
{
    public const int DefaultCount = 20;
    public const int MaxCount = 1000;

    /// <summary>The search parameters supported on every type, with their FHIR search type (for the CapabilityStatement).</summary>
    public static readonly IReadOnlyList<(string Name, string Type, string Documentation)> Supported =
    [
        ("_id", "token", "Logical id of the resource"),
        ("_lastUpdated", "date", "When the resource version last changed (eq, gt, ge, lt, le, sa, eb)"),
        ("identifier", "token", "A business identifier (system|value, |value, system|, value)"),
    ];

    private static readonly HashSet<string> ResultParameters = new(StringComparer.Ordinal) { "_count", "_total", "_summary", "_cursor", "_before", "_format", "_pretty" };

    public StoreQuery ToStoreQuery() => new(Type, Clauses, Count, AfterId, BeforeId, CountTotal || SummaryCount);

    public static SearchRequest Parse(string type, IEnumerable<KeyValuePair<string, string>> parameters, bool strict)
    {
        var clauses = new List<QueryClause>();
        var applied = new List<KeyValuePair<string, string>>();
        var ignored = new List<string>();
        var count = DefaultCount;
        string? after = null, before = null;
        // Counting is cheap at the sizes the keyset pages serve; _total=none turns it off.
        var total = true;
        var summaryCount = false;
        foreach (var (rawName, value) in parameters)
        {
            var colon = rawName.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? rawName : rawName[..colon];
            var modifier = colon < 0 ? null : rawName[(colon + 1)..];
            if (modifier is not null && (name is "_id" or "_lastUpdated" or "identifier" || ResultParameters.Contains(name)))
            {
                throw FhirException.BadRequest($"The modifier ':{modifier}' is not supported on the search parameter '{name}'.", rawName);
            }

            switch (name)
            {
                case "_id":
                    clauses.Add(new IdClause(SplitOr(value)));
                    applied.Add(new(rawName, value));
                    break;
                case "identifier":
                    clauses.Add(new TokenClause("identifier", SplitOr(value).Select(ParseToken).ToList()));
                    applied.Add(new(rawName, value));
                    break;
                case "_lastUpdated":
                    clauses.Add(ParseLastUpdated(value));
                    applied.Add(new(rawName, value));
                    break;
                case "_count":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 0)
                    {
                        throw FhirException.BadRequest($"_count must be a non-negative whole number, not '{value}'.", "_count");
                    }

                    count = Math.Min(count, MaxCount);
                    applied.Add(new(rawName, count.ToString(CultureInfo.InvariantCulture)));
                    break;
                case "_total":
                    if (value is not ("none" or "estimate" or "accurate"))
                    {
                        throw FhirException.BadRequest($"_total must be none, estimate or accurate, not '{value}'.", "_total");
                    }

                    total = value != "none";
                    applied.Add(new(rawName, value));
                    break;
                case "_summary":
                    if (value == "count")
                    {
                        summaryCount = true;
                        applied.Add(new(rawName, value));
                    }
                    else if (value == "false")
                    {
                        applied.Add(new(rawName, value));
                    }
                    else if (strict)
                    {
                        throw FhirException.BadRequest($"_summary={value} is not supported; count and false are.", "_summary");
                    }
                    else
                    {
                        ignored.Add(rawName);
                    }

                    break;
                case "_cursor":
                    after = ValidCursor(value);
                    break;
                case "_before":
                    before = ValidCursor(value);
                    break;
                case "_format" or "_pretty":
                    break;
                default:
                    if (strict)
                    {
                        throw FhirException.BadRequest($"The search parameter '{rawName}' is not supported for {type}.", rawName);
                    }

                    ignored.Add(rawName);
                    break;
            }
        }

        return new SearchRequest(type, clauses, count, after, before, total, summaryCount, applied, ignored);
    }

    private static string ValidCursor(string value) =>
        FhirIds.IsValidId(value) ? value : throw FhirException.BadRequest("The paging cursor is not valid.", "_cursor");

    /// <summary>Splits a value on unescaped commas (OR), then unescapes \, \$ \| and \\ (search.html#escaping).</summary>
    public static IReadOnlyList<string> SplitOr(string value) => SplitEscaped(value, ',').Select(v => v).ToList();

    private static List<string> SplitEscaped(string value, char separator)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\\' && i + 1 < value.Length)
            {
                current.Append(c).Append(value[++i]);
            }
            else if (c == separator)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    private static string Unescape(string value) =>
        value.Contains('\\', StringComparison.Ordinal)
            ? value.Replace("\\,", ",", StringComparison.Ordinal).Replace("\\$", "$", StringComparison.Ordinal).Replace("\\|", "|", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal)
            : value;

    public static TokenMatch ParseToken(string value)
    {
        var parts = SplitEscaped(value, '|');
        if (parts.Count > 2)
        {
            throw FhirException.BadRequest($"A token has at most one unescaped '|', as system|code: '{value}'.", "identifier");
        }

        if (parts.Count == 1)
        {
            return new TokenMatch(null, Unescape(parts[0]), AnySystem: true);
        }

        var system = parts[0].Length == 0 ? null : Unescape(parts[0]);
        var code = parts[1].Length == 0 ? null : Unescape(parts[1]);
        if (system is null && code is null)
        {
            throw FhirException.BadRequest("A token needs a system, a code or both.", "identifier");
        }

        return new TokenMatch(system, code, AnySystem: false);
    }

    /// <summary>_lastUpdated: an instant compared with the implicit range of the (possibly partial) date given.</summary>
    public static LastUpdatedClause ParseLastUpdated(string value)
    {
        var prefix = value.Length >= 2 && char.IsAsciiLetterLower(value[0]) && char.IsAsciiLetterLower(value[1]) ? value[..2] : "eq";
        var text = prefix == "eq" && !value.StartsWith("eq", StringComparison.Ordinal) ? value : value[2..];
        var (start, end) = FhirDates.Range(text) ?? throw FhirException.BadRequest($"'{text}' is not a FHIR date or dateTime.", "_lastUpdated");
        return prefix switch
        {
            "eq" => new LastUpdatedClause(start, end),
            "gt" or "sa" => new LastUpdatedClause(end, null),
            "ge" => new LastUpdatedClause(start, null),
            "lt" or "eb" => new LastUpdatedClause(null, start),
            "le" => new LastUpdatedClause(null, end),
            _ => throw FhirException.BadRequest($"The prefix '{prefix}' is not supported on _lastUpdated (eq, gt, ge, lt, le, sa, eb are).", "_lastUpdated"),
        };
    }
}
