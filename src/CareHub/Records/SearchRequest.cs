using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using CareHub.Fhir;
using CareHub.Search;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Records;

/// <summary>What _summary asks for (search.html#summary).</summary>
public enum SummaryMode
{
    False,
    True,
    Text,
    Data,
    Count,
}

/// <summary>
/// A search as the record understands it (FHIR R4 search.html), parsed from a query string: the criteria as store
/// clauses, and the result parameters (_sort, _count, paging cursors, _total, _summary, _elements, _include,
/// _revinclude). Parameters we do not know are an error under <c>Prefer: handling=strict</c> and otherwise ignored and
/// reported; <see cref="Applied"/> holds exactly what was applied, for the self link.
/// </summary>
public sealed record SearchRequest(
    string Type,
    IReadOnlyList<QueryClause> Clauses,
    int Count,
    PageCursor? After,
    PageCursor? Before,
    bool CountTotal,
    bool SummaryCount,
    IReadOnlyList<KeyValuePair<string, string>> Applied,
    IReadOnlyList<string> Ignored)
{
    public const int DefaultCount = 20;
    public const int MaxCount = 1000;

    /// <summary>Several types (system-level search, compartments); null for a search of <see cref="Type"/>.</summary>
    public IReadOnlyList<string>? Types { get; init; }

    public IReadOnlyList<SortBy> Sort { get; init; } = [];

    public IReadOnlyList<IncludeSpec> Includes { get; init; } = [];

    /// <summary>What was done otherwise than asked (an _include from another type processed as :iterate), for the result's OperationOutcome.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public SummaryMode Summary { get; init; }

    public IReadOnlyList<string>? Elements { get; init; }

    /// <summary>The result parameters, for the CapabilityStatement and for telling them from criteria.</summary>
    private static readonly HashSet<string> ResultParameters = new(StringComparer.Ordinal)
    {
        "_count", "_total", "_summary", "_elements", "_sort", "_include", "_revinclude", "_cursor", "_before", "_format", "_pretty", "_type",
    };

    /// <summary>The search parameters of a type, with their FHIR search type (for the CapabilityStatement).</summary>
    public static IEnumerable<(string Name, string Type, string Documentation)> SupportedFor(string type) =>
        SearchParameterCatalog.For(type).Values
            .OrderBy(p => p.Name.StartsWith('_') ? 0 : 1).ThenBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => (p.Name, p.Type.ToString().ToLowerInvariant(), p.Description))
            .Append(("_list", "special", "Resources that are items of the given List"))
            .Append(("_has", "special", "Reverse chaining: _has:[type]:[reference parameter]:[parameter]"))
            .Append((TextSearch.Text, "special", "Words of the narrative: each word of the value starts a word of it (case- and accent-insensitive)"))
            .Append((TextSearch.Content, "special", "Words of every string value and the narrative: each word of the value starts a word of them"))
            .Concat(type == "Location"
                ? [(SearchLookups.NearParameter, "special", "[latitude]|[longitude]|[distance]|[units]: Locations within the distance (km, m or mi; 10 km when absent) of the point")]
                : Array.Empty<(string, string, string)>());

    /// <summary>The _include values a search of the type accepts: [type]:[reference parameter].</summary>
    public static List<string> IncludesFor(string type) =>
        [.. SearchParameterCatalog.For(type).Values.Where(p => p.Type == SearchParamType.Reference).Select(p => $"{type}:{p.Name}").Order(StringComparer.Ordinal), $"{type}:*"];

    /// <summary>The _revinclude values a search of the type accepts: the reference parameters of any type that can refer to it.</summary>
    public static List<string> RevIncludesFor(string type) =>
        [.. ModelInfo.SupportedResources.Where(FhirIds.IsResourceType)
            .SelectMany(source => SearchParameterCatalog.For(source).Values.Where(p => p.Type == SearchParamType.Reference && p.Targets.Contains(type)).Select(p => $"{source}:{p.Name}"))
            .Order(StringComparer.Ordinal)];

    /// <summary>The query as the caller asked it; the store runs it only after the one door has governed it.</summary>
    public StoreQuery ToStoreQuery() => new(Type, Clauses, Count, After, Before, CountTotal || SummaryCount) { Types = Types, Sort = Sort, Scope = QueryScope.Request };

    public static SearchRequest Parse(string type, IEnumerable<KeyValuePair<string, string>> parameters, bool strict, SearchLimits? limits = null) =>
        Parse([type], parameters, strict, null, TimeProvider.System, limits: limits);

    /// <summary>Parses a search over one or several types (a parameter must mean the same on every one).</summary>
    /// <param name="terminology">What :in, :not-in, :below, :above and near look up in the record; null refuses them.</param>
    /// <param name="limits">How much the search may ask for; <see cref="SearchLimits.Default"/> when null.</param>
    public static SearchRequest Parse(IReadOnlyList<string> types, IEnumerable<KeyValuePair<string, string>> parameters, bool strict, string? baseUrl, TimeProvider clock, SearchLookups? terminology = null, SearchLimits? limits = null)
    {
        limits ??= SearchLimits.Default;
        var materialized = parameters as IReadOnlyCollection<KeyValuePair<string, string>> ?? parameters.ToList();
        CheckLimits(materialized, limits);
        parameters = materialized;
        var clauses = new List<QueryClause>();
        var applied = new List<KeyValuePair<string, string>>();
        var ignored = new List<string>();
        var sort = new List<SortBy>();
        var includes = new List<IncludeSpec>();
        var warnings = new List<string>();
        var count = DefaultCount;
        string? after = null, before = null;
        // Counting is cheap at the sizes the keyset pages serve; _total=none turns it off.
        var total = true;
        var summary = SummaryMode.False;
        List<string>? elements = null;

        void Ignore(string rawName, string why)
        {
            if (strict)
            {
                throw FhirException.BadRequest(why, rawName);
            }

            ignored.Add(rawName);
        }

        foreach (var (rawName, value) in parameters)
        {
            var colon = rawName.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? rawName : rawName[..colon];
            var modifier = colon < 0 ? null : rawName[(colon + 1)..];
            if (ResultParameters.Contains(name) && modifier is not null && !(name is "_include" or "_revinclude" && modifier is "iterate" or "recurse"))
            {
                throw FhirException.BadRequest($"The modifier ':{modifier}' is not supported on '{name}'.", rawName);
            }

            switch (name)
            {
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
                    summary = value switch
                    {
                        "true" => SummaryMode.True,
                        "text" => SummaryMode.Text,
                        "data" => SummaryMode.Data,
                        "count" => SummaryMode.Count,
                        "false" => SummaryMode.False,
                        _ => throw FhirException.BadRequest($"_summary must be true, text, data, count or false, not '{value}'.", "_summary"),
                    };
                    applied.Add(new(rawName, value));
                    break;
                case "_elements":
                    elements = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    applied.Add(new(rawName, value));
                    break;
                case "_sort":
                    var keys = ParseSort(types, value);
                    if (keys is null)
                    {
                        Ignore(rawName, $"_sort={value} names a parameter {string.Join(", ", types)} cannot be sorted by.");
                    }
                    else
                    {
                        sort.AddRange(keys);
                        applied.Add(new(rawName, value));
                    }

                    break;
                case "_include" or "_revinclude":
                    includes.Add(ParseInclude(types, name == "_revinclude", modifier is not null, value, rawName, strict, warnings));
                    applied.Add(new(rawName, value));
                    break;
                case "_cursor":
                    after = value;
                    break;
                case "_before":
                    before = value;
                    break;
                case "_format" or "_pretty" or "_type":
                    break;
                case "_list":
                    if (modifier is not null)
                    {
                        throw FhirException.BadRequest($"The modifier ':{modifier}' is not supported on '_list'.", rawName);
                    }

                    var list = value.StartsWith("List/", StringComparison.Ordinal) ? value[5..] : value;
                    if (!FhirIds.IsValidId(list))
                    {
                        throw FhirException.BadRequest($"_list takes the id of a List, not '{value}' (functional lists such as $current-problems are not supported).", rawName);
                    }

                    clauses.Add(new ListClause(list));
                    applied.Add(new(rawName, value));
                    break;
                default:
                    var clause = SearchCriteria.Parse(types, rawName, value, baseUrl, clock, terminology);
                    if (clause is null)
                    {
                        Ignore(rawName, $"The search parameter '{rawName}' is not supported for {string.Join(", ", types)}.");
                    }
                    else
                    {
                        clauses.Add(clause);
                        applied.Add(new(rawName, value));
                    }

                    break;
            }
        }

        // Cursors are read after _sort, which they must agree with.
        return new SearchRequest(types[0], clauses, count, Cursor(after, sort, "_cursor"), Cursor(before, sort, "_before"), total, summary == SummaryMode.Count, applied, ignored)
        {
            Types = types.Count > 1 ? types : null,
            Sort = sort,
            Includes = includes,
            Warnings = warnings,
            Summary = summary,
            Elements = elements,
        };
    }

    /// <summary>
    /// Refuses a search past <paramref name="limits"/> before any of it is parsed: each bound keeps the SQL the search
    /// becomes bounded (SQLite refuses expressions nested past 1,000, and both stores plan huge OR lists slowly).
    /// </summary>
    public static void CheckLimits(IReadOnlyCollection<KeyValuePair<string, string>> parameters, SearchLimits limits)
    {
        if (parameters.Count > limits.MaxParameters)
        {
            throw TooCostly($"The search has {parameters.Count} parameters; this server's limit is {limits.MaxParameters} (CareHub:Search:MaxParameters).", null);
        }

        foreach (var (rawName, value) in parameters)
        {
            if (ResultParameters.Contains(rawName.Split(':')[0]))
            {
                continue;
            }

            var has = Occurrences(rawName, "_has:");
            if (has > limits.MaxHasDepth)
            {
                throw TooCostly($"The parameter nests _has {has} deep; this server's limit is {limits.MaxHasDepth} (CareHub:Search:MaxHasDepth).", rawName);
            }

            var chain = Occurrences(rawName, ".");
            if (chain > limits.MaxChainDepth)
            {
                throw TooCostly($"The parameter chains {chain} links; this server's limit is {limits.MaxChainDepth} (CareHub:Search:MaxChainDepth).", rawName);
            }

            var or = SearchCriteria.CountUnescaped(value, ',') + 1;
            if (or > limits.MaxOrValues)
            {
                throw TooCostly($"The parameter has {or} values joined by commas; this server's limit is {limits.MaxOrValues} (CareHub:Search:MaxOrValues).", rawName);
            }
        }
    }

    private static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static TooCostlyException TooCostly(string message, string? rawName) => new(message, rawName);

    /// <summary>_sort=a,-b (search.html#sort): parameters of the sortable types, '-' for descending.</summary>
    private static List<SortBy>? ParseSort(IReadOnlyList<string> types, string value)
    {
        var keys = new List<SortBy>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var descending = item.StartsWith('-');
            var name = descending ? item[1..] : item;
            var source = name switch
            {
                "_id" => SortSource.Id,
                "_lastUpdated" => SortSource.LastUpdated,
                _ => SearchCriteria.Lookup(types, name)?.Type switch
                {
                    SearchParamType.String => SortSource.String,
                    SearchParamType.Token => SortSource.Token,
                    SearchParamType.Date => SortSource.Date,
                    SearchParamType.Number => SortSource.Number,
                    SearchParamType.Quantity => SortSource.Quantity,
                    SearchParamType.Reference => SortSource.Reference,
                    SearchParamType.Uri => SortSource.Uri,
                    _ => (SortSource?)null,
                },
            };
            if (source is null)
            {
                return null;
            }

            keys.Add(new SortBy(name, source.Value, descending));
        }

        return keys;
    }

    /// <summary>[source type]:[parameter or *][:target type] (search.html#include).</summary>
    private static IncludeSpec ParseInclude(IReadOnlyList<string> types, bool reverse, bool iterate, string value, string rawName, bool strict, List<string> warnings)
    {
        var parts = value.Split(':');
        if (parts.Length is < 2 or > 3 || !FhirIds.IsResourceType(parts[0]))
        {
            throw FhirException.BadRequest($"{rawName} takes [type]:[parameter][:target type], not '{value}'.", rawName);
        }

        var source = parts[0];
        string? param = parts[1] == "*" ? null : parts[1];
        var target = parts.Length == 3 ? parts[2] : null;
        if (param is not null && SearchParameterCatalog.Find(source, param) is not { Type: SearchParamType.Reference })
        {
            throw FhirException.BadRequest($"'{param}' is not a reference parameter of {source}.", rawName);
        }

        if (target is not null && !FhirIds.IsResourceType(target))
        {
            throw FhirException.BadRequest($"'{target}' is not a resource type.", rawName);
        }

        // R4 search.html#include: an _include whose source is not the searched type SHOULD be processed as :iterate, with a
        // warning; under Prefer: handling=strict it is refused, as anything not done exactly as asked is.
        if (!reverse && !iterate && !types.Contains(source))
        {
            if (strict)
            {
                throw FhirException.BadRequest($"_include={value} starts from {source}, which is not searched here; use _include:iterate to include from included resources.", rawName);
            }

            warnings.Add($"_include={value} starts from {source}, which is not the type searched; it was processed as _include:iterate={value}.");
            iterate = true;
        }

        return new IncludeSpec(source, param, target, reverse, iterate);
    }

    // ---- paging cursors --------------------------------------------------------------------------------------------

    /// <summary>A cursor for a page link: the sort key values, type and id of a row, as base64url JSON (opaque to clients).</summary>
    public static string FormatCursor(PageCursor cursor)
    {
        var values = new List<object?> { cursor.Type, cursor.Id };
        values.AddRange(cursor.Keys);
        return Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(values));
    }

    private static PageCursor? Cursor(string? text, IReadOnlyList<SortBy> sort, string name)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(text));
            var items = document.RootElement.EnumerateArray().ToList();
            if (items.Count != sort.Count + 2 || items[0].GetString() is not { } type || items[1].GetString() is not { } id || !FhirIds.IsValidId(id))
            {
                throw FhirException.BadRequest("The paging cursor does not belong to this search (was _sort changed?).", name);
            }

            var keys = items.Skip(2).Select(item => item.ValueKind switch
            {
                JsonValueKind.String => item.GetString(),
                JsonValueKind.Number => item.TryGetInt64(out var whole) ? whole : (object)item.GetDouble(),
                JsonValueKind.Null => null,
                _ => throw FhirException.BadRequest("The paging cursor is not valid.", name),
            }).ToList();
            return new PageCursor(keys, type, id);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            throw FhirException.BadRequest("The paging cursor is not valid.", name);
        }
    }

    /// <summary>Splits a value on unescaped commas (OR), keeping the escapes (search.html#escaping).</summary>
    public static IReadOnlyList<string> SplitOr(string value) => SearchCriteria.SplitEscaped(value, ',');

    public static TokenMatch ParseToken(string value) => SearchCriteria.TokenValue("identifier", value);
}

/// <summary>
/// One _include or _revinclude (search.html#include): resources that <see cref="SourceType"/> refers to through
/// <see cref="Param"/> (null: every reference parameter, "*"), or, reversed, the <see cref="SourceType"/> resources that
/// refer to the matches. <see cref="Iterate"/> applies it to included resources too.
/// </summary>
public sealed record IncludeSpec(string SourceType, string? Param, string? TargetType, bool Reverse, bool Iterate);
