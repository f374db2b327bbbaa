using System.Globalization;
using System.Text.RegularExpressions;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.FhirPath;
using Hl7.FhirPath.Expressions;

namespace CareHub.Tests.Search;

/// <summary>
/// An independent in-memory evaluation of FHIR R4 search (search.html) for the differential test: the parameter's
/// FHIRPath expression from the SDK's registry is run by Firely's engine on the resource (not by CareHub's
/// IndexExtractor), and matching is decided here in plain C#, rule by rule from search.html. Where a rule is subtle the
/// oracle answers null ("cannot tell") for that resource and the search is not compared:
/// accents (the build runs with invariant globalization, so only ASCII is folded here), codes without a system
/// (a server may index the binding's system), ne on more than one value, numbers inside a search value's implicit
/// precision for gt/lt/ge/le, quantities with a comparator, references that are not relative Type/id, versioned
/// canonicals, Timing, Money, Range and SampledData values. The prefix ap is left out (its 10% is a server's choice).
/// </summary>
public sealed partial class SearchOracle
{
    // The FHIR symbol table adds resolve(), extension() and the other FHIR-specific functions the registry uses.
    private static readonly FhirPathCompiler Compiler = new(new SymbolTable().AddStandardFP().AddFhirExtensions());
    private readonly Dictionary<string, CompiledExpression> compiled = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, Resource> byKey;
    private readonly FhirEvaluationContext context;

    public SearchOracle(IReadOnlyDictionary<string, Resource> byKey)
    {
        this.byKey = byKey;
        context = new FhirEvaluationContext { ElementResolver = Resolve };
    }

    public static readonly SearchParamType[] Supported =
        [SearchParamType.Token, SearchParamType.String, SearchParamType.Date, SearchParamType.Number, SearchParamType.Quantity, SearchParamType.Reference, SearchParamType.Uri];

    /// <summary>The parameter's values on one resource: its whole (multi-type) FHIRPath expression, run by the engine.</summary>
    public IReadOnlyList<Base> Values(Resource resource, string expression)
    {
        if (!compiled.TryGetValue(expression, out var compiledExpression))
        {
            compiledExpression = Compiler.Compile(expression);
            compiled[expression] = compiledExpression;
        }

        return compiledExpression.Invoke([resource.ToPocoNode()], context).Select(v => v.Poco).OfType<Base>().ToList();
    }

    // resolve() (FHIRPath, used by "x.where(resolve() is Patient)") over the loaded resources. A target that is not
    // loaded (a dangling or another server's reference) resolves to an empty resource of the type its URL names: the
    // registry's expressions use resolve() only to test the target's type, which the reference itself states.
    private PocoNode? Resolve(string reference)
    {
        var match = Trailing().Match(reference);
        if (!match.Success)
        {
            return null;
        }

        var type = match.Groups["type"].Value;
        if (byKey.TryGetValue(type + "/" + match.Groups["id"].Value, out var target))
        {
            return target.ToPocoNode();
        }

        return ModelInfo.GetTypeForFhirType(type) is { } poco && Activator.CreateInstance(poco) is Resource stub ? stub.ToPocoNode() : null;
    }

    /// <summary>The searches to try for one sampled value of a parameter, each with its matching rule.</summary>
    public static IEnumerable<Probe> Probes(string type, string name, SearchParamType paramType, Base sample)
    {
        switch (paramType)
        {
            case SearchParamType.Token:
                foreach (var (system, code, known) in Tokens(sample))
                {
                    if (code is not null)
                    {
                        yield return TokenProbe(type, name, null, code, Escape(code));
                    }

                    if (known && system is not null && code is not null)
                    {
                        yield return TokenProbe(type, name, system, code, Escape(system) + "|" + Escape(code));
                        yield return TokenProbe(type, name, system, null, Escape(system) + "|");
                    }

                    if (known && system is null && code is not null)
                    {
                        yield return TokenProbe(type, name, "", code, "|" + Escape(code));
                    }

                    yield break;
                }

                break;
            case SearchParamType.String:
                foreach (var text in Strings(sample) ?? [])
                {
                    var trimmed = text.Trim();
                    if (trimmed.Length == 0 || trimmed.Length > 200 || !IsAscii(trimmed))
                    {
                        continue;
                    }

                    var prefix = trimmed[..Math.Min(5, trimmed.Length)].TrimEnd();
                    yield return new Probe(type, name, name, Escape(prefix), values => AnyString(values, v => StartsWithFolded(v, prefix)));
                    yield return new Probe(type, name, name + ":exact", Escape(trimmed), values => AnyString(values, v => v.Length > 500 ? null : v == trimmed));
                    if (trimmed.Length >= 4)
                    {
                        var middle = trimmed.Substring(1, Math.Min(4, trimmed.Length - 2)).Trim();
                        if (middle.Length > 0)
                        {
                            yield return new Probe(type, name, name + ":contains", Escape(middle), values => AnyString(values, v => v.Length > 500 || !IsAscii(v) ? null : v.Contains(middle, StringComparison.OrdinalIgnoreCase)));
                        }
                    }

                    yield break;
                }

                break;
            case SearchParamType.Date:
                if (DateText(sample) is { Length: >= 4 } text2)
                {
                    var day = text2.Length >= 10 ? text2[..10] : text2;
                    foreach (var prefix in new[] { "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb" })
                    {
                        var range = Range(day)!.Value;
                        yield return new Probe(type, name, name, prefix + day, values => AnyDate(values, prefix, range));
                    }

                    var year = Range(day[..4])!.Value;
                    yield return new Probe(type, name, name, "eq" + day[..4], values => AnyDate(values, "eq", year));
                }

                break;
            case SearchParamType.Number:
                if (NumberOf(sample) is { } number)
                {
                    var text3 = number.ToString(CultureInfo.InvariantCulture);
                    foreach (var prefix in new[] { "eq", "ne", "gt", "lt", "ge", "le" })
                    {
                        yield return new Probe(type, name, name, prefix + text3, values => AnyNumber(values.Select(NumberOf).ToList(), values.Count, prefix, text3));
                    }
                }

                break;
            case SearchParamType.Quantity:
                if (sample is Quantity { Value: { } amount, Comparator: null } quantity)
                {
                    var text4 = amount.ToString(CultureInfo.InvariantCulture);
                    foreach (var prefix in new[] { "eq", "ne", "gt", "lt", "ge", "le" })
                    {
                        yield return new Probe(type, name, name, prefix + text4, values => AnyQuantity(values, prefix, text4, null, null));
                        if (quantity.System is { } system && quantity.Code is { } code && prefix != "ne")
                        {
                            yield return new Probe(type, name, name, $"{prefix}{text4}|{Escape(system)}|{Escape(code)}", values => AnyQuantity(values, prefix, text4, system, code));
                        }
                    }
                }

                break;
            case SearchParamType.Reference:
                if (sample is ResourceReference { Reference: { } reference } && Relative().Match(reference) is { Success: true } relative)
                {
                    var key = relative.Groups["type"].Value + "/" + relative.Groups["id"].Value;
                    var id = relative.Groups["id"].Value;
                    yield return new Probe(type, name, name, key, values => AnyReference(values, r => r == key, key));
                    yield return new Probe(type, name, name, id, values => AnyReference(values, r => r.EndsWith("/" + id, StringComparison.Ordinal), id));
                }

                break;
            case SearchParamType.Uri:
                if (sample is PrimitiveType { JsonValue: string uri } && !uri.Contains('|', StringComparison.Ordinal))
                {
                    yield return new Probe(type, name, name, Escape(uri), values => Any(values, v => v is PrimitiveType { JsonValue: string s } && IsUri(v) ? (s.Contains('|', StringComparison.Ordinal) ? null : s == uri) : null));
                }

                break;
        }
    }

    /// <summary>":missing" (search.html#missing): true when the resource has no value the parameter's type indexes.</summary>
    public static bool? Present(SearchParamType paramType, IReadOnlyList<Base> values)
    {
        if (values.Count == 0)
        {
            return false;
        }

        var supported = values.Any(v => paramType switch
        {
            SearchParamType.Token => Tokens(v).Any(t => t.Code is not null && t.Known),
            SearchParamType.String => Strings(v) is { Count: > 0 } s && s.Any(x => x.Trim().Length > 0),
            SearchParamType.Date => DateRange(v) is not null,
            SearchParamType.Number => NumberOf(v) is not null,
            SearchParamType.Quantity => v is Quantity { Value: not null },
            SearchParamType.Reference => v is ResourceReference { Reference: { } r } && !r.StartsWith('#'),
            SearchParamType.Uri => IsUri(v) && v is PrimitiveType { JsonValue: string },
            _ => false,
        });
        return supported ? true : null;
    }

    // Token values (search.html#token): Coding and Identifier carry their system; a code, boolean or string does not
    // say its system here ("Known" false), so a search naming a system cannot be decided on it.
    private static List<(string? System, string? Code, bool Known)> Tokens(Base value) => value switch
    {
        Coding c => c.Code is null ? [] : [(c.System, c.Code, true)],
        CodeableConcept cc => cc.Coding.Where(c => c.Code is not null).Select(c => ((string?)c.System, (string?)c.Code, true)).ToList(),
        Identifier i => i.Value is null ? [] : [(i.System, i.Value, true)],
        ContactPoint p => p.Value is null ? [] : [(null, p.Value, false)],
        FhirBoolean b => b.Value is null ? [] : [(null, b.Value.Value ? "true" : "false", false)],
        PrimitiveType { JsonValue: string s } => [(null, s, false)],
        _ => [],
    };

    private static Probe TokenProbe(string type, string name, string? system, string? code, string value) =>
        new(type, name, name, value, values =>
        {
            var undecided = false;
            foreach (var token in values.SelectMany(Tokens))
            {
                var codeOk = code is null || token.Code == code;
                if (system is null)
                {
                    if (codeOk)
                    {
                        return true;
                    }

                    continue;
                }

                if (!token.Known)
                {
                    undecided |= codeOk;
                    continue;
                }

                var systemOk = system.Length == 0 ? token.System is null : token.System == system;
                if (codeOk && systemOk)
                {
                    return true;
                }
            }

            return undecided ? null : false;
        });

    // String values (search.html#string): HumanName and Address match on any of their parts.
    private static List<string>? Strings(Base value) => value switch
    {
        HumanName n => [.. new[] { n.Family, n.Text }.OfType<string>(), .. n.Given.OfType<string>(), .. n.Prefix.OfType<string>(), .. n.Suffix.OfType<string>()],
        Address a => [.. a.Line.OfType<string>(), .. new[] { a.City, a.District, a.State, a.PostalCode, a.Country, a.Text }.OfType<string>()],
        FhirString or Markdown => [(string)((PrimitiveType)value).JsonValue!],
        _ => null,
    };

    private static bool? AnyString(IReadOnlyList<Base> values, Func<string, bool?> test)
    {
        var undecided = false;
        foreach (var value in values)
        {
            var strings = Strings(value);
            if (strings is null)
            {
                undecided = true;
                continue;
            }

            foreach (var s in strings)
            {
                var result = test(s);
                if (result == true)
                {
                    return true;
                }

                undecided |= result is null;
            }
        }

        return undecided ? null : false;
    }

    // Default string search: case- and accent-insensitive, matching the start of the value. Only ASCII is folded here.
    private static bool? StartsWithFolded(string value, string prefix)
    {
        var head = value.TrimStart();
        if (head.Length > 500)
        {
            return null;
        }

        var compared = head[..Math.Min(head.Length, prefix.Length)];
        return IsAscii(compared) ? head.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) : null;
    }

    // Dates (search.html#date): every value is a range [Low, High) from its precision; a Period spans start to end,
    // either open if absent. Times without a zone are read as UTC.
    private static string? DateText(Base value) => value switch
    {
        Date or FhirDateTime or Instant => ((PrimitiveType)value).ToString(),
        Period p => p.Start ?? p.End,
        _ => null,
    };

    private static (DateTimeOffset Low, DateTimeOffset High)? DateRange(Base value) => value switch
    {
        Date or FhirDateTime or Instant => Range(((PrimitiveType)value).ToString()!),
        Period p when p.Start is not null || p.End is not null =>
            (p.Start is null ? DateTimeOffset.MinValue : Range(p.Start)?.Low ?? DateTimeOffset.MinValue, p.End is null ? DateTimeOffset.MaxValue : Range(p.End)?.High ?? DateTimeOffset.MaxValue),
        _ => null,
    };

    private static (DateTimeOffset Low, DateTimeOffset High)? Range(string text)
    {
        var match = DatePattern().Match(text);
        if (!match.Success)
        {
            return null;
        }

        int Part(string group, int fallback) => match.Groups[group].Success ? int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : fallback;
        var zone = TimeSpan.Zero;
        if (match.Groups["zone"].Success && match.Groups["zone"].Value != "Z")
        {
            var z = match.Groups["zone"].Value;
            zone = TimeSpan.ParseExact(z[1..], @"hh\:mm", CultureInfo.InvariantCulture);
            zone = z[0] == '-' ? -zone : zone;
        }

        var low = new DateTimeOffset(Part("y", 1), Part("m", 1), Part("d", 1), Part("h", 0), Part("min", 0), Part("s", 0), zone);
        if (match.Groups["f"].Success)
        {
            var fraction = match.Groups["f"].Value;
            low = low.AddTicks(long.Parse(fraction.PadRight(7, '0')[..7], CultureInfo.InvariantCulture));
            return (low, low.AddTicks((long)Math.Pow(10, 7 - Math.Min(7, fraction.Length))));
        }

        var high = match.Groups["s"].Success ? low.AddSeconds(1)
            : match.Groups["min"].Success ? low.AddMinutes(1)
            : match.Groups["d"].Success ? low.AddDays(1)
            : match.Groups["m"].Success ? low.AddMonths(1)
            : low.AddYears(1);
        return (low, high);
    }

    private static bool? AnyDate(IReadOnlyList<Base> values, string prefix, (DateTimeOffset Low, DateTimeOffset High) search)
    {
        if (prefix == "ne" && values.Count > 1)
        {
            return null;
        }

        var undecided = false;
        foreach (var value in values)
        {
            if (DateRange(value) is not { } target)
            {
                undecided = true;
                continue;
            }

            var within = target.Low >= search.Low && target.High <= search.High;
            var result = prefix switch
            {
                "eq" => within,
                "ne" => !within,
                // The range above the search value intersects the target's range.
                "gt" => target.High > search.High,
                "lt" => target.Low < search.Low,
                "ge" => target.High > search.High || within,
                "le" => target.Low < search.Low || within,
                // The target's range starts after / ends before the search value's range, without overlap.
                "sa" => target.Low >= search.High,
                "eb" => target.High <= search.Low,
                _ => throw new ArgumentOutOfRangeException(nameof(prefix)),
            };
            if (result)
            {
                return true;
            }
        }

        return undecided ? null : false;
    }

    private static decimal? NumberOf(Base value) => value switch
    {
        Integer { Value: { } i } => i,
        UnsignedInt { Value: { } u } => u,
        PositiveInt { Value: { } p } => p,
        FhirDecimal { Value: { } d } => d,
        _ => null,
    };

    // Numbers (search.html#number): eq and ne use the search value's implicit precision ("100" is [99.5, 100.5));
    // a target inside that range is left undecided for gt/lt/ge/le, where the spec's wording admits two readings.
    private static bool? AnyNumber(IReadOnlyList<decimal?> targets, int count, string prefix, string text)
    {
        if (prefix == "ne" && count > 1)
        {
            return null;
        }

        var search = decimal.Parse(text, CultureInfo.InvariantCulture);
        var decimals = text.Contains('.', StringComparison.Ordinal) ? text.Length - text.IndexOf('.', StringComparison.Ordinal) - 1 : 0;
        var half = 0.5m / (decimal)Math.Pow(10, decimals);
        var undecided = false;
        foreach (var target in targets)
        {
            if (target is not { } t)
            {
                undecided = true;
                continue;
            }

            var within = t >= search - half && t < search + half;
            if (within && t != search && prefix is "gt" or "lt" or "ge" or "le")
            {
                undecided = true;
                continue;
            }

            var result = prefix switch
            {
                "eq" => within,
                "ne" => !within,
                "gt" => t > search,
                "lt" => t < search,
                "ge" => t >= search,
                "le" => t <= search,
                _ => throw new ArgumentOutOfRangeException(nameof(prefix)),
            };
            if (result)
            {
                return true;
            }
        }

        return undecided ? null : false;
    }

    // Quantities (search.html#quantity): the number as for number parameters, and system and code equal when given.
    private static bool? AnyQuantity(IReadOnlyList<Base> values, string prefix, string text, string? system, string? code)
    {
        if (values.Any(v => v is not Quantity { Comparator: null }))
        {
            return null;
        }

        // A UCUM value in another unit of the same dimension (in against cm) is compared by the database in canonical
        // units (CareHub.Search.Ucum, tested on its own in QuantityUnitTests); this oracle does not convert, so it leaves
        // those undecided rather than contradict a correct conversion.
        if (system == "http://unitsofmeasure.org" && CareHub.Search.Ucum.Canonical(code) is { } searched
            && values.Cast<Quantity>().Any(q => q.System == system && q.Code != code && CareHub.Search.Ucum.Canonical(q.Code)?.Code == searched.Code))
        {
            return null;
        }

        var units = values.Cast<Quantity>().Where(q => system is null || (q.System == system && q.Code == code)).Select(q => q.Value).ToList();
        return AnyNumber(units, values.Count, prefix, text);
    }

    // References (search.html#reference): relative Type/id only; anything else that could name the same target is undecided.
    private static bool? AnyReference(IReadOnlyList<Base> values, Func<string, bool> test, string searched)
    {
        var undecided = false;
        foreach (var value in values)
        {
            if (value is ResourceReference { Reference: { } reference } && Relative().Match(reference) is { Success: true } match)
            {
                if (test(match.Groups["type"].Value + "/" + match.Groups["id"].Value))
                {
                    return true;
                }
            }
            else if (value is not ResourceReference { Reference: { } other } || other.Contains(searched, StringComparison.Ordinal))
            {
                undecided = true;
            }
        }

        return undecided ? null : false;
    }

    private static bool IsUri(Base value) => value is FhirUri or Canonical or FhirUrl or Oid or Uuid;

    private static bool? Any(IReadOnlyList<Base> values, Func<Base, bool?> test)
    {
        var undecided = false;
        foreach (var value in values)
        {
            var result = test(value);
            if (result == true)
            {
                return true;
            }

            undecided |= result is null;
        }

        return undecided ? null : false;
    }

    private static bool IsAscii(string s) => s.All(char.IsAscii);

    // search.html#escaping: "\", ",", "$" and "|" in a value are escaped with a backslash.
    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);

    [GeneratedRegex(@"^(?<type>[A-Z][A-Za-z]+)/(?<id>[A-Za-z0-9\-\.]{1,64})$")]
    private static partial Regex Relative();

    [GeneratedRegex(@"(^|/)(?<type>[A-Z][A-Za-z]+)/(?<id>[A-Za-z0-9\-\.]{1,64})(/_history/[^/]+)?$")]
    private static partial Regex Trailing();

    [GeneratedRegex(@"^(?<y>\d{4})(-(?<m>\d{2})(-(?<d>\d{2})(T(?<h>\d{2}):(?<min>\d{2})(:(?<s>\d{2})(\.(?<f>\d+))?)?(?<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$")]
    private static partial Regex DatePattern();
}

/// <summary>One generated search and how the oracle decides it for one resource's values (null: the oracle cannot tell).</summary>
public sealed record Probe(string Type, string Parameter, string Name, string Value, Func<IReadOnlyList<Base>, bool?> Matches)
{
    public override string ToString() => $"{Type}?{Name}={Value}";
}
