using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Search;

/// <summary>
/// What parsing a search needs to look up in the record, loaded before it is parsed (<see cref="LoadAsync"/>) so that
/// parsing stays synchronous: the Locations near a point (<c>near</c>, R4 location.html#positional), and the terminology
/// behind the token modifiers :in, :not-in, :below and :above (R4 search.html#token), answered from the ValueSet and
/// CodeSystem resources stored in the record, not from an external terminology service. Each becomes an ordinary
/// clause (a list of ids, a list of codes):
/// <list type="bullet">
/// <item>a ValueSet's expansion.contains when it has one; otherwise its compose (valueset.html#compose): included concept
/// lists, whole code systems and is-a / descendent-of / is-not-a / = filters over a stored CodeSystem's hierarchy,
/// included value sets, minus the excludes;</item>
/// <item>a CodeSystem's hierarchy from nested concepts and the "parent" and "child" properties (codesystem.html#hierarchy).</item>
/// </list>
/// A ValueSet or hierarchy the record does not hold is a 400 naming the parameter.
/// </summary>
public sealed class SearchLookups
{
    /// <summary>The most codes one modifier may expand to: beyond it the query would be a poor way to ask.</summary>
    public const int MaxCodes = 10_000;

    private const int MaxDepth = 8;

    private readonly Dictionary<string, ValueSet> valueSets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CodeSystem> codeSystems = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Hierarchy> hierarchies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> near = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<TokenMatch>> held = new(StringComparer.Ordinal);
    private readonly string? unavailable;

    private SearchLookups(string? unavailable) => this.unavailable = unavailable;

    /// <summary>No terminology at all: each of the modifiers is refused with <paramref name="why"/>.</summary>
    public static SearchLookups Unavailable(string why) => new(why);

    /// <summary>The terminology for a search that uses none of the modifiers.</summary>
    public static SearchLookups Empty { get; } = new(null);

    private static readonly string[] Modifiers = ["in", "not-in", "below", "above"];

    /// <summary>
    /// Loads the ValueSets and CodeSystems the parameters' :in, :not-in, :below and :above values name; those of a
    /// terminology held outside the record (<paramref name="held"/>: SNOMED CT) are answered by it.
    /// </summary>
    public static async Task<SearchLookups> LoadAsync(IRecordLookups store, IEnumerable<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken, ISearchTerminology? held = null)
    {
        SearchLookups? terminology = null;
        foreach (var (name, value) in parameters)
        {
            if (name == NearParameter)
            {
                terminology ??= new SearchLookups(null);
                foreach (var item in SearchCriteria.SplitEscaped(value, ','))
                {
                    if (!terminology.near.ContainsKey(item) && Near(item) is { } point)
                    {
                        terminology.near[item] = await NearAsync(store, point, cancellationToken);
                    }
                }

                continue;
            }

            var modifier = ModifierOf(name);
            if (modifier is null)
            {
                continue;
            }

            terminology ??= new SearchLookups(null);
            foreach (var item in SearchCriteria.SplitEscaped(value, ','))
            {
                var text = SearchCriteria.Unescape(item);
                if (held is not null && await terminology.LoadHeldAsync(held, name, modifier, item, text, cancellationToken))
                {
                    continue;
                }

                if (modifier is "in" or "not-in")
                {
                    await terminology.LoadValueSetAsync(store, text, 0, cancellationToken);
                }
                else
                {
                    var parts = SearchCriteria.SplitEscaped(item, '|');
                    if (parts.Count == 2 && parts[0].Length > 0)
                    {
                        await terminology.LoadCodeSystemAsync(store, SearchCriteria.Unescape(parts[0]), cancellationToken);
                    }
                }
            }
        }

        return terminology ?? Empty;
    }

    /// <summary>Asks the terminology held outside the record for a value it holds; false when it holds it not.</summary>
    private async Task<bool> LoadHeldAsync(ISearchTerminology terminology, string name, string modifier, string item, string text, CancellationToken cancellationToken)
    {
        if (modifier is "in" or "not-in")
        {
            if (!terminology.HoldsValueSet(text))
            {
                return false;
            }

            held["vs|" + text] = [.. (await terminology.ExpandAsync(name, text, MaxCodes, cancellationToken)).Select(c => new TokenMatch(c.System, c.Code, AnySystem: false))];
            return true;
        }

        var parts = SearchCriteria.SplitEscaped(item, '|');
        if (parts.Count != 2 || !terminology.Holds(SearchCriteria.Unescape(parts[0])))
        {
            return false;
        }

        var system = SearchCriteria.Unescape(parts[0]);
        var below = modifier == "below";
        held[$"{modifier}|{system}|{SearchCriteria.Unescape(parts[1])}"] =
            [.. (await terminology.SubsumptionAsync(name, system, SearchCriteria.Unescape(parts[1]), below, MaxCodes, cancellationToken)).Select(c => new TokenMatch(system, c, AnySystem: false))];
        return true;
    }

    /// <summary>The modifier on the last link of a (possibly chained) parameter name, when it is one this class serves.</summary>
    private static string? ModifierOf(string name)
    {
        var last = name.Split('.')[^1];
        var colon = last.LastIndexOf(':');
        var modifier = colon < 0 ? null : last[(colon + 1)..];
        return modifier is not null && Modifiers.Contains(modifier) ? modifier : null;
    }

    // ---- near (location.html#positional) ---------------------------------------------------------------------------

    /// <summary>The special parameter of Location (R4 location.html#search): near=[latitude]|[longitude]|[distance]|[units].</summary>
    public const string NearParameter = "near";

    /// <summary>The index rows of Location.position that near searches (number rows, degrees).</summary>
    public const string LatitudeParam = "near$latitude";

    public const string LongitudeParam = "near$longitude";

    /// <summary>The distance when near gives none ("the server can use its own discretion").</summary>
    public const double DefaultNearKm = 10;

    /// <summary>The most Locations a near search may consider inside its bounding box.</summary>
    public const int MaxNearCandidates = 10_000;

    private const double EarthRadiusKm = 6371.0088;

    /// <summary>A near value as a point and a distance in km; null when it is malformed (the parser says why).</summary>
    public static (double Latitude, double Longitude, double Km)? Near(string value)
    {
        var parts = SearchCriteria.SplitEscaped(value, '|').Select(SearchCriteria.Unescape).ToList();
        if (parts.Count is < 2 or > 4
            || !double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var latitude) || Math.Abs(latitude) > 90
            || !double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var longitude) || Math.Abs(longitude) > 180)
        {
            return null;
        }

        var distance = DefaultNearKm;
        if (parts.Count >= 3 && parts[2].Length > 0)
        {
            if (!double.TryParse(parts[2], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out distance) || distance < 0 || !double.IsFinite(distance))
            {
                return null;
            }

            // Units are UCUM; km when absent (location.html#positional).
            var scale = parts.Count < 4 || parts[3].Length == 0 ? 1 : parts[3] switch
            {
                "km" => 1,
                "m" => 0.001,
                "mi" or "[mi_i]" => 1.609344,
                _ => double.NaN,
            };
            if (double.IsNaN(scale))
            {
                return null;
            }

            distance *= scale;
        }

        return (latitude, longitude, distance);
    }

    /// <summary>The ids of the Locations within the distance of the point, found through the near index rows.</summary>
    public List<string> NearIds(string rawName, string value)
    {
        if (unavailable is not null)
        {
            throw FhirException.BadRequest($"{rawName}: near cannot be used here.", rawName);
        }

        return near.TryGetValue(value, out var ids) ? ids : throw FhirException.BadRequest(
            $"{rawName} takes [latitude]|[longitude]|[distance]|[units] with units km, m or mi, not '{value}'.", rawName);
    }

    /// <summary>
    /// A bounding box in SQL over the position rows, then the exact great-circle (haversine) distance here: the box
    /// narrows the candidates with the index, the haversine keeps only those within the distance.
    /// </summary>
    private static async Task<List<string>> NearAsync(IRecordLookups store, (double Latitude, double Longitude, double Km) point, CancellationToken cancellationToken)
    {
        var degrees = point.Km / EarthRadiusKm * 180 / Math.PI;
        var clauses = new List<QueryClause>
        {
            new NumberClause(LatitudeParam, [Bound(Prefix.Ge, point.Latitude - degrees)]),
            new NumberClause(LatitudeParam, [Bound(Prefix.Le, point.Latitude + degrees)]),
        };
        var cos = Math.Cos(point.Latitude * Math.PI / 180);
        var span = cos <= 1e-9 ? 360 : degrees / cos;
        if (span < 180 && Math.Abs(point.Latitude) + degrees < 90)
        {
            var west = point.Longitude - span;
            var east = point.Longitude + span;
            if (west < -180 || east > 180)
            {
                // A box across the antimeridian is two boxes: east of its west edge or west of its east edge.
                clauses.Add(new AnyClause([
                    new NumberClause(LongitudeParam, [Bound(Prefix.Ge, west < -180 ? west + 360 : west)]),
                    new NumberClause(LongitudeParam, [Bound(Prefix.Le, east > 180 ? east - 360 : east)])]));
            }
            else
            {
                clauses.Add(new NumberClause(LongitudeParam, [Bound(Prefix.Ge, west)]));
                clauses.Add(new NumberClause(LongitudeParam, [Bound(Prefix.Le, east)]));
            }
        }

        var ids = new List<string>();
        PageCursor? after = null;
        var seen = 0;
        while (true)
        {
            var page = await store.SearchAsync(new StoreQuery("Location", clauses, 1000, After: after) { Scope = QueryScope.Internal("locations for near") }, cancellationToken);
            foreach (var stored in page.Resources)
            {
                if (stored.Json is not null && Position(stored.Json) is { } position
                    && Haversine(point.Latitude, point.Longitude, position.Latitude, position.Longitude) <= point.Km)
                {
                    ids.Add(stored.Id);
                }
            }

            seen += page.Resources.Count;
            if (seen > MaxNearCandidates)
            {
                throw FhirException.BadRequest($"near: more than {MaxNearCandidates} Locations lie around that point; give a smaller distance.", NearParameter);
            }

            if (!page.HasMore || page.NextCursor is null)
            {
                return ids;
            }

            after = page.NextCursor;
        }
    }

    private static NumberMatch Bound(Prefix prefix, double value) => new(prefix, value, value, value);

    private static (double Latitude, double Longitude)? Position(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("position", out var position)
            && position.TryGetProperty("latitude", out var latitude) && latitude.TryGetDouble(out var lat)
            && position.TryGetProperty("longitude", out var longitude) && longitude.TryGetDouble(out var lon)
                ? (lat, lon)
                : null;
    }

    /// <summary>The great-circle distance in km between two points (the haversine formula, on a sphere of the mean Earth radius).</summary>
    public static double Haversine(double latitude1, double longitude1, double latitude2, double longitude2)
    {
        static double Radians(double degrees) => degrees * Math.PI / 180;
        var dLat = Radians(latitude2 - latitude1);
        var dLon = Radians(longitude2 - longitude1);
        var a = Math.Pow(Math.Sin(dLat / 2), 2) + (Math.Cos(Radians(latitude1)) * Math.Cos(Radians(latitude2)) * Math.Pow(Math.Sin(dLon / 2), 2));
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }

    // ---- what the parser asks ---------------------------------------------------------------------------------------

    /// <summary>The codes of the ValueSet <paramref name="url"/> (absolute canonical, "ValueSet/[id]", or canonical|version).</summary>
    public List<TokenMatch> Expand(string rawName, string url)
    {
        Refuse(rawName);
        if (held.TryGetValue("vs|" + url, out var heldCodes))
        {
            return heldCodes;
        }

        var codes = new HashSet<(string System, string Code)>();
        ExpandInto(rawName, url, codes, 0);
        return [.. codes.Select(c => new TokenMatch(c.System, c.Code, AnySystem: false))];
    }

    /// <summary>:below (the code and everything under it) or :above (the code and everything over it) in a stored CodeSystem.</summary>
    public List<TokenMatch> Subsumption(string rawName, string system, string code, bool below)
    {
        Refuse(rawName);
        if (held.TryGetValue($"{(below ? "below" : "above")}|{system}|{code}", out var heldCodes))
        {
            return heldCodes;
        }

        var hierarchy = HierarchyOf(system) ?? throw FhirException.BadRequest(
            $"{rawName}: the hierarchy of the code system '{system}' is unknown (this server holds no CodeSystem with that url), so :{(below ? "below" : "above")} cannot be answered.", rawName);
        if (!hierarchy.Codes.Contains(code))
        {
            throw FhirException.BadRequest($"{rawName}: '{code}' is not a code of the code system '{system}'.", rawName);
        }

        var related = below ? hierarchy.Descendants(code) : hierarchy.Ancestors(code);
        related.Add(code);
        return Limit(rawName, related.Select(c => new TokenMatch(system, c, AnySystem: false)).ToList());
    }

    private void Refuse(string rawName)
    {
        if (unavailable is not null)
        {
            throw FhirException.BadRequest($"{rawName}: {unavailable}", rawName);
        }
    }

    private static List<TokenMatch> Limit(string rawName, List<TokenMatch> matches) => matches.Count <= MaxCodes
        ? matches
        : throw FhirException.BadRequest($"{rawName} stands for {matches.Count} codes, more than the {MaxCodes} a search may ask for.", rawName);

    // ---- expansion (valueset.html#expansion, #compose) --------------------------------------------------------------

    private void ExpandInto(string rawName, string url, HashSet<(string System, string Code)> codes, int depth)
    {
        if (depth > MaxDepth)
        {
            throw FhirException.BadRequest($"{rawName}: the value set '{url}' includes value sets more than {MaxDepth} deep.", rawName);
        }

        var valueSet = FindValueSet(url) ?? throw FhirException.BadRequest(
            $"{rawName}: the value set '{url}' is not known to this server (no ValueSet with that url or id is stored).", rawName);
        if (valueSet.Expansion?.Contains is { Count: > 0 } contains)
        {
            AddContains(contains, codes);
        }
        else if (valueSet.Compose is { } compose)
        {
            foreach (var include in compose.Include)
            {
                codes.UnionWith(Component(rawName, include, depth));
            }

            foreach (var exclude in compose.Exclude)
            {
                codes.ExceptWith(Component(rawName, exclude, depth));
            }
        }

        if (codes.Count > MaxCodes)
        {
            throw FhirException.BadRequest($"{rawName}: the value set '{url}' has more than the {MaxCodes} codes a search may ask for.", rawName);
        }
    }

    private static void AddContains(IEnumerable<ValueSet.ContainsComponent> contains, HashSet<(string System, string Code)> codes)
    {
        foreach (var item in contains)
        {
            if (!string.IsNullOrEmpty(item.System) && !string.IsNullOrEmpty(item.Code) && item.Abstract != true)
            {
                codes.Add((item.System, item.Code));
            }

            AddContains(item.Contains, codes);
        }
    }

    /// <summary>One include or exclude: the codes of its system part, intersected with each value set it names.</summary>
    private HashSet<(string System, string Code)> Component(string rawName, ValueSet.ConceptSetComponent component, int depth)
    {
        HashSet<(string, string)>? result = null;
        if (!string.IsNullOrEmpty(component.System))
        {
            var system = component.System;
            if (component.Concept.Count > 0)
            {
                result = [.. component.Concept.Where(c => !string.IsNullOrEmpty(c.Code)).Select(c => (system, c.Code!))];
            }
            else
            {
                var hierarchy = HierarchyOf(system) ?? throw FhirException.BadRequest(
                    $"{rawName}: the value set includes {(component.Filter.Count > 0 ? "a filter on" : "all of")} the code system '{system}', which this server does not hold.", rawName);
                IEnumerable<string> selected = hierarchy.Codes;
                foreach (var filter in component.Filter)
                {
                    selected = selected.Intersect(Filter(rawName, hierarchy, system, filter));
                }

                result = [.. selected.Select(c => (system, c))];
            }
        }

        foreach (var url in component.ValueSet.OfType<string>())
        {
            var codes = new HashSet<(string, string)>();
            ExpandInto(rawName, url, codes, depth + 1);
            if (result is null)
            {
                result = codes;
            }
            else
            {
                result.IntersectWith(codes);
            }
        }

        return result ?? [];
    }

    private static HashSet<string> Filter(string rawName, Hierarchy hierarchy, string system, ValueSet.FilterComponent filter)
    {
        var value = filter.Value ?? string.Empty;
        if (filter.Property is not ("concept" or "code"))
        {
            throw FhirException.BadRequest($"{rawName}: the value set filters '{system}' on the property '{filter.Property}'; only concept filters are supported.", rawName);
        }

        return filter.Op switch
        {
            FilterOperator.IsA => [.. hierarchy.Descendants(value).Append(value).Where(hierarchy.Codes.Contains)],
            FilterOperator.DescendentOf => hierarchy.Descendants(value),
            FilterOperator.IsNotA => [.. hierarchy.Codes.Except(hierarchy.Descendants(value).Append(value))],
            FilterOperator.Equal => hierarchy.Codes.Contains(value) ? [value] : [],
            FilterOperator.In => [.. value.Split(',', StringSplitOptions.TrimEntries).Where(hierarchy.Codes.Contains)],
            _ => throw FhirException.BadRequest($"{rawName}: the value set filter operator '{filter.Op}' is not supported (is-a, descendent-of, is-not-a, = and in are).", rawName),
        };
    }

    // ---- stored resources -----------------------------------------------------------------------------------------

    private ValueSet? FindValueSet(string url)
    {
        var bar = url.IndexOf('|', StringComparison.Ordinal);
        return valueSets.GetValueOrDefault(bar < 0 ? url : url[..bar]);
    }

    private Hierarchy? HierarchyOf(string system)
    {
        if (hierarchies.TryGetValue(system, out var known))
        {
            return known;
        }

        if (!codeSystems.TryGetValue(system, out var codeSystem))
        {
            return null;
        }

        var hierarchy = new Hierarchy(codeSystem);
        hierarchies[system] = hierarchy;
        return hierarchy;
    }

    private async System.Threading.Tasks.Task LoadValueSetAsync(IRecordLookups store, string url, int depth, CancellationToken cancellationToken)
    {
        var bar = url.IndexOf('|', StringComparison.Ordinal);
        var key = bar < 0 ? url : url[..bar];
        if (depth > MaxDepth || valueSets.ContainsKey(key))
        {
            return;
        }

        var valueSet = await FindAsync<ValueSet>(store, "ValueSet", key, bar < 0 ? null : url[(bar + 1)..], cancellationToken);
        if (valueSet is null)
        {
            return;
        }

        valueSets[key] = valueSet;
        if (valueSet.Expansion?.Contains is { Count: > 0 })
        {
            return;
        }

        foreach (var component in (valueSet.Compose?.Include ?? []).Concat(valueSet.Compose?.Exclude ?? []))
        {
            if (!string.IsNullOrEmpty(component.System) && component.Concept.Count == 0)
            {
                await LoadCodeSystemAsync(store, component.System, cancellationToken);
            }

            foreach (var included in component.ValueSet.OfType<string>())
            {
                await LoadValueSetAsync(store, included, depth + 1, cancellationToken);
            }
        }
    }

    private async System.Threading.Tasks.Task LoadCodeSystemAsync(IRecordLookups store, string url, CancellationToken cancellationToken)
    {
        if (!codeSystems.ContainsKey(url) && await FindAsync<CodeSystem>(store, "CodeSystem", url, null, cancellationToken) is { } codeSystem)
        {
            codeSystems[url] = codeSystem;
        }
    }

    /// <summary>
    /// A stored terminology resource by canonical url (and version, when given), or by "Type/id". Terminology is
    /// reference data: it is read here without the caller's access decision, which the search itself has had.
    /// </summary>
    private static async Task<T?> FindAsync<T>(IRecordLookups store, string type, string url, string? version, CancellationToken cancellationToken)
        where T : Resource
    {
        if (url.StartsWith(type + "/", StringComparison.Ordinal) && FhirIds.IsValidId(url[(type.Length + 1)..]))
        {
            var stored = await store.ReadAsync(type, url[(type.Length + 1)..], null, cancellationToken);
            return stored?.Json is { } json ? StoredJson.Parse(json) as T : null;
        }

        List<QueryClause> clauses = [new UriClause("url", [url], UriMode.Exact)];
        if (version is not null)
        {
            clauses.Add(new TokenClause("version", [new TokenMatch(null, version, AnySystem: true)]));
        }

        var page = await store.SearchAsync(new StoreQuery(type, clauses, 1) { Sort = [new SortBy("_lastUpdated", SortSource.LastUpdated, Descending: true)], Scope = QueryScope.Internal("terminology for :in, :below and :above") }, cancellationToken);
        return page.Resources.FirstOrDefault()?.Json is { } found ? StoredJson.Parse(found) as T : null;
    }

    /// <summary>A CodeSystem's is-a hierarchy: nested concepts, and the parent/child properties (codesystem.html#hierarchy).</summary>
    private sealed class Hierarchy
    {
        private readonly Dictionary<string, HashSet<string>> children = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HashSet<string>> parents = new(StringComparer.Ordinal);

        public Hierarchy(CodeSystem codeSystem) => Walk(codeSystem.Concept, null);

        public HashSet<string> Codes { get; } = new(StringComparer.Ordinal);

        private void Walk(IEnumerable<CodeSystem.ConceptDefinitionComponent> concepts, string? parent)
        {
            foreach (var concept in concepts)
            {
                if (string.IsNullOrEmpty(concept.Code))
                {
                    continue;
                }

                Codes.Add(concept.Code);
                if (parent is not null)
                {
                    Link(parent, concept.Code);
                }

                foreach (var property in concept.Property)
                {
                    if (property.Value is Code { Value: { } related })
                    {
                        if (property.Code == "parent")
                        {
                            Link(related, concept.Code);
                        }
                        else if (property.Code == "child")
                        {
                            Link(concept.Code, related);
                        }
                    }
                }

                Walk(concept.Concept, concept.Code);
            }
        }

        private void Link(string parent, string child)
        {
            Add(children, parent, child);
            Add(parents, child, parent);
        }

        private static void Add(Dictionary<string, HashSet<string>> map, string key, string value)
        {
            if (!map.TryGetValue(key, out var set))
            {
                map[key] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(value);
        }

        public HashSet<string> Descendants(string code) => Closure(children, code);

        public HashSet<string> Ancestors(string code) => Closure(parents, code);

        /// <summary>Everything reachable from the code (not the code itself, unless a cycle leads back to it).</summary>
        private static HashSet<string> Closure(Dictionary<string, HashSet<string>> map, string code)
        {
            var found = new HashSet<string>(StringComparer.Ordinal);
            var queue = new Queue<string>([code]);
            while (queue.Count > 0)
            {
                if (!map.TryGetValue(queue.Dequeue(), out var next))
                {
                    continue;
                }

                foreach (var item in next)
                {
                    if (found.Add(item))
                    {
                        queue.Enqueue(item);
                    }
                }
            }

            return found;
        }
    }
}
