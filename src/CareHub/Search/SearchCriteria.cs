using System.Globalization;
using System.Text;
using CareHub.Fhir;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Search;

/// <summary>
/// Parses one search criterion ("name[:modifier][.chain]=value", or "_has:...") into a query clause, following FHIR R4
/// search.html: parameter types and their value syntax, prefixes, modifiers, chaining, reverse chaining, escaping.
/// Unknown parameters give null (the caller decides between ignoring them and refusing them); unsupported modifiers
/// and malformed values are always a 400.
/// </summary>
public static class SearchCriteria
{
    /// <param name="types">The resource types searched; a parameter must mean the same on all of them.</param>
    /// <param name="baseUrl">The server's base URL: absolute references to it are matched as relative ones.</param>
    /// <param name="terminology">What the parameters look up in the record (<see cref="SearchLookups.LoadAsync"/>): the
    /// ValueSets and CodeSystems of :in, :not-in, :below and :above, the Locations of near; without it those are refused.</param>
    public static QueryClause? Parse(IReadOnlyList<string> types, string rawName, string value, string? baseUrl, TimeProvider clock, SearchLookups? terminology = null)
    {
        terminology ??= NoTerminology;
        if (rawName.StartsWith("_has:", StringComparison.Ordinal))
        {
            return ParseHas(types, rawName, value, baseUrl, clock, terminology);
        }

        var dot = rawName.IndexOf('.', StringComparison.Ordinal);
        var head = dot < 0 ? rawName : rawName[..dot];
        var colon = head.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? head : head[..colon];
        var modifier = colon < 0 ? null : head[(colon + 1)..];
        if (name == SearchLookups.NearParameter && types is ["Location"])
        {
            if (modifier is not null || dot >= 0)
            {
                throw FhirException.BadRequest($"near takes no modifier or chain.", rawName);
            }

            return new IdClause(SplitEscaped(value, ',').SelectMany(v => terminology.NearIds(rawName, v)).Distinct(StringComparer.Ordinal).ToList());
        }

        if (TextSearch.IsTextParameter(name))
        {
            return TextSearch.Parse(rawName, name, modifier, dot >= 0, value);
        }

        var parameter = Lookup(types, name);
        if (parameter is null)
        {
            return null;
        }

        if (dot >= 0)
        {
            return ParseChain(parameter, modifier, rawName, rawName[(dot + 1)..], value, baseUrl, clock, terminology);
        }

        if (modifier == "missing")
        {
            var missing = value switch
            {
                "true" => true,
                "false" => false,
                _ => throw FhirException.BadRequest($"{rawName} takes true or false, not '{value}'.", rawName),
            };
            return parameter.Type == SearchParamType.Composite
                ? new MissingClause(name + "$0", TableOf(parameter.Components[0].Type), missing)
                : new MissingClause(name, TableOf(parameter.Type), missing);
        }

        var values = SplitEscaped(value, ',');
        return parameter.Type switch
        {
            SearchParamType.Token => Token(parameter, rawName, modifier, values, terminology),
            SearchParamType.String => String(rawName, name, modifier, values),
            SearchParamType.Date => NoModifier(rawName, modifier, new DateClause(name, values.Select(v => Date(rawName, v, clock)).ToList())),
            SearchParamType.Number => NoModifier(rawName, modifier, new NumberClause(name, values.Select(v => Number(rawName, v)).ToList())),
            SearchParamType.Quantity => NoModifier(rawName, modifier, new QuantityClause(name, values.Select(v => Quantity(rawName, v)).ToList())),
            SearchParamType.Reference => Reference(parameter, rawName, modifier, values, baseUrl),
            SearchParamType.Uri => Uri(rawName, name, modifier, values),
            SearchParamType.Composite => NoModifier(rawName, modifier, Composite(parameter, rawName, values, baseUrl, clock)),
            _ => null,
        };
    }

    /// <summary>The parameter of this name, when every type has it with the same type of value.</summary>
    public static SearchParameter? Lookup(IReadOnlyList<string> types, string name)
    {
        SearchParameter? first = null;
        foreach (var type in types)
        {
            var parameter = SearchParameterCatalog.Find(type, name);
            if (parameter is null || (first is not null && first.Type != parameter.Type))
            {
                return null;
            }

            first ??= parameter;
        }

        return first;
    }

    public static IndexTable TableOf(SearchParamType type) => type switch
    {
        SearchParamType.Token => IndexTable.Token,
        SearchParamType.String => IndexTable.String,
        SearchParamType.Date => IndexTable.Date,
        SearchParamType.Number => IndexTable.Number,
        SearchParamType.Quantity => IndexTable.Quantity,
        SearchParamType.Reference => IndexTable.Reference,
        _ => IndexTable.Uri,
    };

    private static QueryClause NoModifier(string rawName, string? modifier, QueryClause clause) =>
        modifier is null ? clause : throw UnsupportedModifier(rawName, modifier);

    private static FhirException UnsupportedModifier(string rawName, string modifier) =>
        FhirException.BadRequest($"The modifier ':{modifier}' is not supported on '{rawName[..rawName.IndexOf(':', StringComparison.Ordinal)]}'.", rawName);

    // ---- chaining (search.html#chaining) and reverse chaining (search.html#has) ------------------------------------

    private static readonly SearchLookups NoTerminology = SearchLookups.Unavailable("the terminology modifiers (:in, :not-in, :below, :above) and near cannot be used here (conditional criteria do not look up the record).");

    private static ChainClause ParseChain(SearchParameter parameter, string? modifier, string rawName, string rest, string value, string? baseUrl, TimeProvider clock, SearchLookups terminology)
    {
        if (parameter.Type != SearchParamType.Reference)
        {
            throw FhirException.BadRequest($"Only reference parameters can be chained; '{parameter.Name}' is a {parameter.Type.ToString().ToLowerInvariant()}.", rawName);
        }

        IReadOnlyList<string> targets = parameter.Targets;
        if (modifier is not null)
        {
            if (!FhirIds.IsResourceType(modifier) || (targets.Count > 0 && !targets.Contains(modifier)))
            {
                throw FhirException.BadRequest($"'{parameter.Name}' cannot refer to a '{modifier}'.", rawName);
            }

            targets = [modifier];
        }

        var innerName = rest.Split(':', '.')[0];
        var candidates = targets.Where(t => SearchParameterCatalog.Find(t, innerName) is not null).ToList();
        if (candidates.Count == 0)
        {
            throw FhirException.BadRequest($"No resource '{parameter.Name}' can refer to has a search parameter '{innerName}'.", rawName);
        }

        var inner = Parse(candidates, rest, value, baseUrl, clock, terminology)
            ?? throw FhirException.BadRequest($"'{innerName}' means different things on {string.Join(", ", candidates)}: say which with '{parameter.Name}:[type].{rest}'.", rawName);
        return new ChainClause(parameter.Name, candidates, inner);
    }

    private static HasClause ParseHas(IReadOnlyList<string> types, string rawName, string value, string? baseUrl, TimeProvider clock, SearchLookups terminology)
    {
        var parts = rawName.Split(':', 4);
        if (parts.Length < 4 || parts[3].Length == 0)
        {
            throw FhirException.BadRequest("_has takes the form _has:[type]:[reference parameter]:[parameter]=[value].", rawName);
        }

        var (source, param, rest) = (parts[1], parts[2], parts[3]);
        if (!FhirIds.IsResourceType(source))
        {
            throw FhirException.BadRequest($"'{source}' in {rawName} is not a resource type.", rawName);
        }

        var reference = SearchParameterCatalog.Find(source, param);
        if (reference is null || reference.Type != SearchParamType.Reference)
        {
            throw FhirException.BadRequest($"'{param}' is not a reference parameter of {source}.", rawName);
        }

        if (reference.Targets.Count > 0 && !types.Any(reference.Targets.Contains))
        {
            throw FhirException.BadRequest($"{source}.{param} never refers to a {string.Join(" or ", types)}.", rawName);
        }

        var inner = Parse([source], rest, value, baseUrl, clock, terminology)
            ?? throw FhirException.BadRequest($"'{rest.Split(':', '.')[0]}' is not a search parameter of {source}.", rawName);
        return new HasClause(source, param, inner);
    }

    // ---- parameter types ---------------------------------------------------------------------------------------

    private static QueryClause Token(SearchParameter parameter, string rawName, string? modifier, List<string> values, SearchLookups terminology)
    {
        if (parameter.Name == "_id")
        {
            var ids = new IdClause(values.Select(Unescape).ToList());
            return modifier == "not" ? new NotClause(ids) : NoModifier(rawName, modifier, ids);
        }

        return modifier switch
        {
            null => new TokenClause(parameter.Name, values.Select(v => TokenValue(rawName, v)).ToList()),
            "not" => new TokenClause(parameter.Name, values.Select(v => TokenValue(rawName, v)).ToList(), TokenMode.Not),
            "text" => new TokenClause(parameter.Name, values.Select(v => new TokenMatch(null, SearchValues.Normalize(Unescape(v)), true)).ToList(), TokenMode.Text),
            "of-type" => new TokenClause(parameter.Name, values.Select(v => OfType(rawName, v)).ToList(), TokenMode.OfType),
            // The terminology modifiers become code lists over the ValueSets and CodeSystems the record holds.
            "in" => new TokenClause(parameter.Name, values.SelectMany(v => terminology.Expand(rawName, Unescape(v))).Distinct().ToList()),
            "not-in" => new TokenClause(parameter.Name, values.SelectMany(v => terminology.Expand(rawName, Unescape(v))).Distinct().ToList(), TokenMode.Not),
            "below" or "above" => new TokenClause(parameter.Name, values.SelectMany(v => Subsumption(rawName, v, modifier == "below", terminology)).Distinct().ToList()),
            _ => throw UnsupportedModifier(rawName, modifier),
        };
    }

    private static List<TokenMatch> Subsumption(string rawName, string value, bool below, SearchLookups terminology)
    {
        var token = TokenValue(rawName, value);
        if (token.System is null || token.Code is null)
        {
            throw FhirException.BadRequest($"{rawName} takes system|code: the hierarchy is that of the code system named, not '{value}'.", rawName);
        }

        return terminology.Subsumption(rawName, token.System, token.Code, below);
    }

    /// <summary>system|code, |code (no system), system| (any code), code (any system): search.html#token.</summary>
    public static TokenMatch TokenValue(string rawName, string value)
    {
        var parts = SplitEscaped(value, '|');
        if (parts.Count > 2)
        {
            throw FhirException.BadRequest($"A token has at most one unescaped '|', as system|code: '{value}'.", rawName);
        }

        if (parts.Count == 1)
        {
            return new TokenMatch(null, Unescape(parts[0]), AnySystem: true);
        }

        var system = parts[0].Length == 0 ? null : Unescape(parts[0]);
        var code = parts[1].Length == 0 ? null : Unescape(parts[1]);
        if (system is null && code is null)
        {
            throw FhirException.BadRequest("A token needs a system, a code or both.", rawName);
        }

        return new TokenMatch(system, code, AnySystem: false);
    }

    private static TokenMatch OfType(string rawName, string value)
    {
        var parts = SplitEscaped(value, '|');
        if (parts.Count != 3 || parts.Any(p => p.Length == 0))
        {
            throw FhirException.BadRequest($"{rawName} takes [type system]|[type code]|[identifier value], not '{value}'.", rawName);
        }

        return new TokenMatch(null, Unescape(parts[2]), AnySystem: true, Unescape(parts[0]), Unescape(parts[1]));
    }

    private static StringClause String(string rawName, string name, string? modifier, List<string> values) => modifier switch
    {
        null => new StringClause(name, values.Select(v => SearchValues.Normalize(Unescape(v))).ToList(), StringMode.Prefix),
        "contains" => new StringClause(name, values.Select(v => SearchValues.Normalize(Unescape(v))).ToList(), StringMode.Contains),
        "exact" => new StringClause(name, values.Select(Unescape).ToList(), StringMode.Exact),
        _ => throw UnsupportedModifier(rawName, modifier),
    };

    private static UriClause Uri(string rawName, string name, string? modifier, List<string> values) => modifier switch
    {
        null => new UriClause(name, values.Select(Unescape).ToList(), UriMode.Exact),
        "below" => new UriClause(name, values.Select(Unescape).ToList(), UriMode.Below),
        "above" => new UriClause(name, values.Select(Unescape).ToList(), UriMode.Above),
        _ => throw UnsupportedModifier(rawName, modifier),
    };

    private static (Prefix Prefix, string Text) SplitPrefix(string value)
    {
        if (value.Length > 2)
        {
            var prefix = value[..2] switch
            {
                "eq" => Prefix.Eq,
                "ne" => Prefix.Ne,
                "gt" => Prefix.Gt,
                "lt" => Prefix.Lt,
                "ge" => Prefix.Ge,
                "le" => Prefix.Le,
                "sa" => Prefix.Sa,
                "eb" => Prefix.Eb,
                "ap" => Prefix.Ap,
                _ => (Prefix?)null,
            };
            if (prefix is { } p)
            {
                return (p, value[2..]);
            }
        }

        return (Prefix.Eq, value);
    }

    /// <summary>
    /// A date with its implicit range (search.html#date: "2013-01" means the whole month); ap widens it by a tenth of
    /// its distance from now, as the specification suggests.
    /// </summary>
    public static DateMatch Date(string rawName, string value, TimeProvider clock)
    {
        var (prefix, text) = SplitPrefix(Unescape(value));
        var (low, high) = SearchValues.DateRange(text) ?? throw FhirException.BadRequest($"'{text}' is not a FHIR date, dateTime or instant.", rawName);
        if (prefix == Prefix.Ap)
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            var margin = Math.Abs(now - low) / 10;
            return new DateMatch(prefix, low - margin, high + margin);
        }

        return new DateMatch(prefix, low, high);
    }

    public static NumberMatch Number(string rawName, string value)
    {
        var (prefix, text) = SplitPrefix(Unescape(value));
        var (number, low, high) = SearchValues.Number(text) ?? throw FhirException.BadRequest($"'{text}' is not a number.", rawName);
        if (prefix == Prefix.Ap)
        {
            // ap: within 10% of the value (search.html#prefix).
            var margin = Math.Abs(number) / 10;
            return new NumberMatch(prefix, number, number - margin, number + margin);
        }

        return new NumberMatch(prefix, number, low, high);
    }

    /// <summary>[prefix]number|system|code, or just [prefix]number (search.html#quantity).</summary>
    private static QuantityMatch Quantity(string rawName, string value)
    {
        var parts = SplitEscaped(value, '|');
        if (parts.Count is not (1 or 3))
        {
            throw FhirException.BadRequest($"A quantity is [prefix]number|system|code or [prefix]number, not '{value}'.", rawName);
        }

        var number = Number(rawName, parts[0]);
        if (parts.Count == 1)
        {
            return new QuantityMatch(number, null, null);
        }

        var system = parts[1].Length == 0 ? null : Unescape(parts[1]);
        var code = parts[2].Length == 0 ? null : Unescape(parts[2]);
        // A UCUM unit is compared in canonical units, so 1 g matches 1000 mg (search.html#quantity).
        return system == Ucum.System && Ucum.Canonical(code) is { } canonical
            ? new QuantityMatch(number, system, code)
            {
                CanonicalCode = canonical.Code,
                CanonicalNumber = new NumberMatch(number.Prefix, number.Value * canonical.Factor, number.Low * canonical.Factor, number.High * canonical.Factor),
            }
            : new QuantityMatch(number, system, code);
    }

    private static ReferenceClause Reference(SearchParameter parameter, string rawName, string? modifier, List<string> values, string? baseUrl)
    {
        if (modifier == "identifier")
        {
            return new ReferenceClause(parameter.Name, values.Select(v =>
            {
                var token = TokenValue(rawName, v);
                return new ReferenceMatch(null, null, null, token.System, token.Code, token.AnySystem);
            }).ToList());
        }

        string? type = null;
        if (modifier is not null)
        {
            if (!FhirIds.IsResourceType(modifier) || (parameter.Targets.Count > 0 && !parameter.Targets.Contains(modifier)))
            {
                throw UnsupportedModifier(rawName, modifier);
            }

            type = modifier;
        }

        return new ReferenceClause(parameter.Name, values.Select(v => ReferenceValue(rawName, Unescape(v), type, baseUrl)).ToList());
    }

    /// <summary>[id], [type]/[id], an absolute URL (ours is taken as relative) or a canonical URL (search.html#reference).</summary>
    private static ReferenceMatch ReferenceValue(string rawName, string value, string? type, string? baseUrl)
    {
        if (value.Length == 0)
        {
            throw FhirException.BadRequest("A reference value cannot be empty.", rawName);
        }

        if (baseUrl is not null && value.StartsWith(baseUrl + "/", StringComparison.Ordinal))
        {
            value = value[(baseUrl.Length + 1)..];
        }

        var (targetType, targetId, url) = IndexExtractor.ParseReference(value);
        if (url is not null)
        {
            if (!url.Contains(':', StringComparison.Ordinal))
            {
                // A bare id: any type (or the one the modifier names).
                return new ReferenceMatch(type, url);
            }

            var bar = url.IndexOf('|', StringComparison.Ordinal);
            return new ReferenceMatch(null, null, bar < 0 ? url : url[..bar]);
        }

        if (type is not null && targetType != type)
        {
            throw FhirException.BadRequest($"'{value}' is not a {type}.", rawName);
        }

        return new ReferenceMatch(targetType, targetId);
    }

    /// <summary>Composite values join their components with '$' (search.html#composite); each component parses by its own type.</summary>
    private static CompositeClause Composite(SearchParameter parameter, string rawName, List<string> values, string? baseUrl, TimeProvider clock)
    {
        var alternatives = new List<IReadOnlyList<ValueClause>>();
        foreach (var value in values)
        {
            var parts = SplitEscaped(value, '$');
            if (parts.Count != parameter.Components.Count)
            {
                throw FhirException.BadRequest($"{rawName} takes {parameter.Components.Count} values joined by '$', not '{value}'.", rawName);
            }

            var components = new List<ValueClause>();
            for (var i = 0; i < parts.Count; i++)
            {
                var component = parameter.Components[i];
                var name = $"{parameter.Name}${i.ToString(CultureInfo.InvariantCulture)}";
                var part = parts[i];
                components.Add(component.Type switch
                {
                    SearchParamType.Token => new TokenClause(name, [TokenValue(rawName, part)]),
                    SearchParamType.String => new StringClause(name, [SearchValues.Normalize(Unescape(part))], StringMode.Prefix),
                    SearchParamType.Date => new DateClause(name, [Date(rawName, part, clock)]),
                    SearchParamType.Number => new NumberClause(name, [Number(rawName, part)]),
                    SearchParamType.Quantity => new QuantityClause(name, [Quantity(rawName, part)]),
                    SearchParamType.Reference => new ReferenceClause(name, [ReferenceValue(rawName, Unescape(part), null, baseUrl)]),
                    _ => new UriClause(name, [Unescape(part)], UriMode.Exact),
                });
            }

            alternatives.Add(components);
        }

        return new CompositeClause(parameter.Name, alternatives);
    }

    // ---- escaping (search.html#escaping) -------------------------------------------------------------------------

    /// <summary>Splits on unescaped separators, keeping escapes for <see cref="Unescape"/> (a part may be split again on '|' or '$').</summary>
    public static List<string> SplitEscaped(string value, char separator)
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

    /// <summary>How many unescaped separators the value holds (the parts <see cref="SplitEscaped"/> would give, less one).</summary>
    public static int CountUnescaped(string value, char separator)
    {
        var count = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\')
            {
                i++;
            }
            else if (value[i] == separator)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Removes the escapes \, \$ \| and \\.</summary>
    public static string Unescape(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length && value[i + 1] is ',' or '$' or '|' or '\\')
            {
                i++;
            }

            builder.Append(value[i]);
        }

        return builder.ToString();
    }
}
