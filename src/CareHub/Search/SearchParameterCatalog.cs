using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.FhirPath;

namespace CareHub.Search;

/// <summary>
/// The R4 search parameters CareHub indexes and searches: every parameter the Firely SDK defines
/// (<see cref="ModelInfo.SearchParameters"/>, generated from the R4 SearchParameter registry) plus the parameters for all
/// resources (R4 search.html#all: _id, _lastUpdated, _tag, _profile, _security, _source), which the SDK leaves out, plus
/// the custom SearchParameter resources stored in the record (<see cref="UseCustom(IEnumerable{Hl7.Fhir.Model.SearchParameter})"/>). Custom parameters are
/// process-wide: they are loaded from the store at start and by every reindex, which is when they take effect
/// (R4 searchparameter.html leaves it to the server when a new parameter is indexed).
/// </summary>
public static partial class SearchParameterCatalog
{
    private static readonly FhirPathCompiler Compiler = new();

    /// <summary>The custom parameters and the per-type catalogue built with them, swapped as one so no build mixes two sets.</summary>
    private sealed record State(IReadOnlyList<Hl7.Fhir.Model.SearchParameter> Custom, ConcurrentDictionary<string, FrozenDictionary<string, SearchParameter>> ByType);

    private static volatile State state = new([], new(StringComparer.Ordinal));
    private static readonly Lazy<FrozenDictionary<string, SearchParamDefinition>> ByUrl = new(() =>
        ModelInfo.SearchParameters.Where(p => p.Url is not null).GroupBy(p => p.Url!, StringComparer.Ordinal).ToFrozenDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal));

    /// <summary>The parameters for all resources (R4 search.html#all), indexed from meta except _id and _lastUpdated, which are columns.</summary>
    private static readonly (string Name, SearchParamType Type, string Expression, string Description)[] Common =
    [
        ("_id", SearchParamType.Token, "id", "Logical id of the resource"),
        ("_lastUpdated", SearchParamType.Date, "meta.lastUpdated", "When the resource version last changed"),
        ("_tag", SearchParamType.Token, "meta.tag", "Tags applied to the resource"),
        ("_profile", SearchParamType.Uri, "meta.profile", "Profiles the resource claims to conform to"),
        ("_security", SearchParamType.Token, "meta.security", "Security labels applied to the resource"),
        ("_source", SearchParamType.Uri, "meta.source", "Where the resource comes from"),
    ];

    /// <summary>The search parameters of a resource type by name; empty for an unknown type.</summary>
    public static FrozenDictionary<string, SearchParameter> For(string resourceType)
    {
        var current = state;
        return current.ByType.GetOrAdd(resourceType, type => Build(type, current.Custom));
    }

    /// <summary>The custom SearchParameter resources in use.</summary>
    public static IReadOnlyList<Hl7.Fhir.Model.SearchParameter> Custom => state.Custom;

    /// <summary>
    /// Replaces the custom SearchParameter resources (R4 searchparameter.html): each active or draft one with a code, a
    /// FHIRPath expression and a type other than special becomes a parameter of every type in its base ("Resource" and
    /// "DomainResource" mean all of them). A custom parameter never replaces one the specification defines.
    /// </summary>
    public static void UseCustom(IEnumerable<Hl7.Fhir.Model.SearchParameter> parameters) => UseCustom(DefaultSource, parameters);

    /// <summary>
    /// Replaces the custom parameters that come from one source (a store); the catalogue uses those of every source. A
    /// process normally has one store; with several (tests), loading one store's parameters leaves the others' in place.
    /// </summary>
    public static void UseCustom(object source, IEnumerable<Hl7.Fhir.Model.SearchParameter> parameters)
    {
        var usable = parameters.Where(p => p.Status is not PublicationStatus.Retired && !string.IsNullOrEmpty(p.Code) && !string.IsNullOrEmpty(p.Expression)
            && p.Type is { } type && type != SearchParamType.Special).ToList();
        lock (Sources)
        {
            Sources.AddOrUpdate(source, usable);
            state = new State([.. Sources.SelectMany(s => s.Value)], new(StringComparer.Ordinal));
        }
    }

    private static readonly object DefaultSource = new();

    /// <summary>The custom parameters by source; weak, so a disposed store's go with it.</summary>
    private static readonly ConditionalWeakTable<object, List<Hl7.Fhir.Model.SearchParameter>> Sources = new();

    public static SearchParameter? Find(string resourceType, string name) =>
        For(resourceType).GetValueOrDefault(name);

    private static FrozenDictionary<string, SearchParameter> Build(string type, IReadOnlyList<Hl7.Fhir.Model.SearchParameter> custom)
    {
        var result = new Dictionary<string, SearchParameter>(StringComparer.Ordinal);
        if (!ModelInfo.IsKnownResource(type))
        {
            return result.ToFrozenDictionary(StringComparer.Ordinal);
        }

        foreach (var (name, valueType, expression, description) in Common)
        {
            var indexed = name is not ("_id" or "_lastUpdated");
            result[name] = new SearchParameter(type, name, valueType, description, [],
                indexed ? [new Branch(expression.Split('.')[0], Compiler.Compile(expression), null, new MemberPath(expression.Split('.'), null))] : [], [], Column: !indexed);
        }

        foreach (var definition in ModelInfo.SearchParameters.Where(p => p.Resource == type))
        {
            if (definition.Type == SearchParamType.Special || string.IsNullOrEmpty(definition.Expression))
            {
                // Special parameters (near, _text, _content) have no FHIRPath to index; they are not supported.
                continue;
            }

            var branches = Branches(type, definition.Expression);
            if (branches.Count == 0)
            {
                continue;
            }

            var components = new List<Component>();
            if (definition.Type == SearchParamType.Composite)
            {
                foreach (var component in definition.Component ?? [])
                {
                    if (component.Definition is null || !ByUrl.Value.TryGetValue(component.Definition, out var target) || target.Type == SearchParamType.Composite)
                    {
                        components.Clear();
                        break;
                    }

                    components.Add(new Component(target.Name!, target.Type, Compiler.Compile(component.Expression!), target.Target?.Select(t => t.ToString()).ToArray() ?? [], RelativePaths(component.Expression!)));
                }

                if (components.Count == 0)
                {
                    continue;
                }
            }

            var targets = definition.Target?.Select(t => t.ToString()).Where(ModelInfo.IsKnownResource).Order(StringComparer.Ordinal).ToArray() ?? [];
            result[definition.Name!] = new SearchParameter(type, definition.Name!, definition.Type, definition.Description?.Value ?? definition.Name!, targets, branches, components);
        }

        foreach (var definition in custom)
        {
            if (result.ContainsKey(definition.Code!) || !AppliesTo(definition, type) || BuildCustom(type, definition, custom) is not { } parameter)
            {
                continue;
            }

            result[definition.Code!] = parameter;
        }

        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static bool AppliesTo(Hl7.Fhir.Model.SearchParameter definition, string type) =>
        definition.BaseElement.Any(b => b.JsonValue is string name && (name == type || name is "Resource" or "DomainResource"));

    /// <summary>A custom parameter for one type, built like the specification's own; null when nothing of it applies to the type.</summary>
    private static SearchParameter? BuildCustom(string type, Hl7.Fhir.Model.SearchParameter definition, IReadOnlyList<Hl7.Fhir.Model.SearchParameter> custom)
    {
        var branches = Branches(type, definition.Expression!);
        if (branches.Count == 0)
        {
            return null;
        }

        var components = new List<Component>();
        if (definition.Type == SearchParamType.Composite)
        {
            foreach (var component in definition.Component)
            {
                var url = component.Definition;
                (string Name, SearchParamType Type, string[] Targets)? target =
                    url is not null && ByUrl.Value.TryGetValue(url, out var builtIn) && builtIn.Type != SearchParamType.Composite
                        ? (builtIn.Name!, builtIn.Type, builtIn.Target?.Select(t => t.ToString()).ToArray() ?? [])
                        : custom.FirstOrDefault(c => c.Url == url && c.Type != SearchParamType.Composite) is { } other
                            ? (other.Code!, other.Type!.Value, other.TargetElement.Select(t => t.JsonValue as string).OfType<string>().ToArray())
                            : null;
                if (target is not { } found || string.IsNullOrEmpty(component.Expression))
                {
                    return null;
                }

                try
                {
                    components.Add(new Component(found.Name, found.Type, Compiler.Compile(component.Expression), found.Targets, RelativePaths(component.Expression)));
                }
                catch (FormatException)
                {
                    return null;
                }
            }

            if (components.Count == 0)
            {
                return null;
            }
        }

        var targets = definition.TargetElement.Select(t => t.JsonValue as string).OfType<string>().Where(ModelInfo.IsKnownResource).Order(StringComparer.Ordinal).ToArray();
        var description = string.IsNullOrEmpty(definition.Description) ? definition.Name ?? definition.Code! : definition.Description;
        return new SearchParameter(type, definition.Code!, definition.Type!.Value, description, targets, branches, components);
    }

    /// <summary>
    /// The branches of a (possibly shared, multi-resource) expression that apply to one type, each compiled once. The SDK's
    /// expressions are unions across types ("AllergyIntolerance.code | Condition.code | ..."): only this type's branches
    /// are kept. "x.where(resolve() is Patient)" needs a resolver the index does not have: it becomes "x" with the target
    /// type checked on the reference itself.
    /// </summary>
    private static bool IsPlainPath(string text) => text.All(c => char.IsAsciiLetterOrDigit(c) || c == '.');

    private static List<Branch> Branches(string type, string expression)
    {
        var branches = new List<Branch>();
        foreach (var raw in SplitUnion(expression))
        {
            var text = raw.Trim();
            var bare = text.TrimStart('(');
            var whole = bare.TrimEnd(')') == type;
            if (!whole && !bare.StartsWith(type + ".", StringComparison.Ordinal))
            {
                var head = bare.Split('.', 2)[0];
                if (head.Length == 0 || !char.IsAsciiLetterLower(head[0]) || !IsPlainPath(bare))
                {
                    // Another type's branch of a shared expression.
                    continue;
                }

                // An unqualified path is relative to the resource itself (InsurancePlan.name is "name | alias").
                text = type + "." + bare;
                bare = text;
            }

            string? resolveType = null;
            var resolve = ResolveIs().Match(text);
            if (resolve.Success)
            {
                resolveType = resolve.Groups["type"].Value;
                text = text.Remove(resolve.Index, resolve.Length);
            }

            var root = whole ? string.Empty : RootElement().Match(bare[(type.Length + 1)..]).Value;
            try
            {
                branches.Add(new Branch(root, Compiler.Compile(text), resolveType, SimplePath(text)));
            }
            catch (FormatException)
            {
                // A branch the engine cannot compile is left out rather than failing every write of the type.
            }
        }

        return branches;
    }

    /// <summary>
    /// A branch that only walks members ("Type.a.b", optionally ending "as T", ".as(T)" or ".ofType(T)"), which is most
    /// of them, as the steps of that walk: evaluating it on the POCO directly gives what the FHIRPath engine gives (a
    /// test holds the two to the same rows on the Synthea data) at a fraction of the cost.
    /// </summary>
    private static MemberPath? SimplePath(string text) => SimplePath(MemberPathPattern().Match(text));

    /// <summary>A component expression ("code", "value.as(Quantity) | value.as(Range)") as member walks from the composite's item.</summary>
    private static List<MemberPath>? RelativePaths(string expression)
    {
        var paths = new List<MemberPath>();
        foreach (var branch in SplitUnion(expression))
        {
            if (SimplePath(RelativePathPattern().Match(branch.Trim())) is not { } path)
            {
                return null;
            }

            paths.Add(path);
        }

        return paths;
    }

    private static MemberPath? SimplePath(Match match)
    {
        if (!match.Success || match.Groups["open"].Success != match.Groups["close"].Success)
        {
            return null;
        }

        var typeName = match.Groups["as1"].Success ? match.Groups["as1"].Value : match.Groups["as2"].Success ? match.Groups["as2"].Value : match.Groups["as3"].Success ? match.Groups["as3"].Value : null;
        Type? filter = null;
        if (typeName is not null && (filter = ModelInfo.GetTypeForFhirType(typeName)) is null)
        {
            return null;
        }

        return new MemberPath(match.Groups["steps"].Value.Split('.', StringSplitOptions.RemoveEmptyEntries), filter);
    }

    [GeneratedRegex(@"^(?<open>\()?[A-Za-z]+(?<steps>(\.[a-z][A-Za-z0-9]*)*)(?:\.as\((?<as1>[A-Za-z]+)\)| as (?<as2>[A-Za-z]+)|\.ofType\((?<as3>[A-Za-z]+)\))?(?<close>\))?$", RegexOptions.CultureInvariant)]
    private static partial Regex MemberPathPattern();

    [GeneratedRegex(@"^(?<open>\()?(?<steps>[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*)(?:\.as\((?<as1>[A-Za-z]+)\)| as (?<as2>[A-Za-z]+)|\.ofType\((?<as3>[A-Za-z]+)\))?(?<close>\))?$", RegexOptions.CultureInvariant)]
    private static partial Regex RelativePathPattern();

    private static IEnumerable<string> SplitUnion(string expression)
    {
        var depth = 0;
        var start = 0;
        var quoted = false;
        for (var i = 0; i < expression.Length; i++)
        {
            var c = expression[i];
            if (c == '\'')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '(')
            {
                depth++;
            }
            else if (!quoted && c == ')')
            {
                depth--;
            }
            else if (!quoted && depth == 0 && c == '|')
            {
                yield return expression[start..i];
                start = i + 1;
            }
        }

        yield return expression[start..];
    }

    [GeneratedRegex(@"\.where\(resolve\(\) is (?<type>[A-Za-z]+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex ResolveIs();

    [GeneratedRegex(@"^[A-Za-z0-9_]+", RegexOptions.CultureInvariant)]
    private static partial Regex RootElement();
}

/// <summary>
/// One search parameter of one resource type. <see cref="Column"/> parameters (_id, _lastUpdated) are searched on the
/// resource's own columns, not on index rows.
/// </summary>
public sealed record SearchParameter(
    string ResourceType,
    string Name,
    SearchParamType Type,
    string Description,
    IReadOnlyList<string> Targets,
    IReadOnlyList<Branch> Branches,
    IReadOnlyList<Component> Components,
    bool Column = false);

/// <summary>
/// One union branch of a parameter's expression: the top-level element it starts from lets extraction skip it cheaply;
/// <see cref="Path"/> is set when the branch is a plain member walk that can be evaluated without the FHIRPath engine.
/// </summary>
public sealed record Branch(string RootElement, CompiledExpression Expression, string? ResolveType, MemberPath? Path = null);

/// <summary>A walk through members by name, keeping at the end only values of <see cref="Filter"/> (FHIRPath "as"/"ofType").</summary>
public sealed record MemberPath(IReadOnlyList<string> Steps, Type? Filter)
{
    public List<Base> Evaluate(Base root)
    {
        var current = new List<Base> { root };
        foreach (var step in Steps)
        {
            var next = new List<Base>();
            foreach (var node in current)
            {
                if (!node.TryGetValue(step, out var value))
                {
                    continue;
                }

                switch (value)
                {
                    case Base single:
                        next.Add(single);
                        break;
                    case System.Collections.IEnumerable many and not string:
                        foreach (var item in many)
                        {
                            if (item is Base element)
                            {
                                next.Add(element);
                            }
                        }

                        break;
                }
            }

            if (next.Count == 0)
            {
                return next;
            }

            current = next;
        }

        if (Filter is not null)
        {
            current.RemoveAll(value => !Filter.IsInstanceOfType(value));
        }

        return current;
    }
}

/// <summary>A component of a composite parameter, evaluated relative to each item the composite's expression selects.</summary>
public sealed record Component(string Name, SearchParamType Type, CompiledExpression Expression, IReadOnlyList<string> Targets, IReadOnlyList<MemberPath>? Paths = null);
