using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Terminology.Snomed;
using Hl7.Fhir.Model;

namespace CareHub.Terminology;

/// <summary>
/// ValueSet/$expand and $validate-code. A value set that draws only on SNOMED CT (an implicit one, or a stored one whose
/// includes and excludes are all SNOMED CT concept lists and filters) becomes one expression constraint evaluated in SQL,
/// so paging and the text filter run in the database at any size. Any other value set is expanded in memory from the
/// stored CodeSystems and ValueSets it names (SNOMED CT parts through the store), up to
/// <see cref="TerminologyOptions.MaxExpansion"/> codes. Expansions are cached under the value set's version, the SNOMED CT
/// load generation and the request's filter and paging, and a cached one is used only while every stored resource it
/// drew on is still at the version it read.
/// </summary>
public sealed partial class TerminologyService
{
    private readonly ConcurrentDictionary<string, (ValueSet Expansion, List<(string Type, string Id, int Version)> Used)> expansions = new(StringComparer.Ordinal);

    private sealed record Entry(string System, string Code, string? Display);

    /// <summary>What a request expands: a stored or posted ValueSet, or an implicit SNOMED CT one, and the key of its current version.</summary>
    private sealed record Target(ValueSet? Resource, string? Url, EclNode? Implicit, string? Key);

    /// <summary>ValueSet/$expand (valueset-operation-expand.html): url or valueSet, filter, offset, count.</summary>
    public Task<ValueSet> ExpandAsync(RequestContext context, string? id, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$expand", "ValueSet", async reader =>
        {
            var filter = Text(input, "filter");
            var words = (filter ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var offset = Number(input, "offset") ?? 0;
            var count = Number(input, "count");
            if (count > options.MaxExpansion)
            {
                throw FhirException.BadRequest($"count may be at most {options.MaxExpansion}.", "count");
            }

            var used = new List<(string Type, string Id, int Version)>();
            var target = await TargetAsync(reader, id, input, used, cancellationToken);
            var key = $"{target.Key}|{await snomed.GenerationAsync(cancellationToken)}|{filter}|{offset}|{count}";
            if (target.Key is not null && expansions.TryGetValue(key, out var cached) && await CurrentAsync(reader, cached.Used, cancellationToken))
            {
                return cached.Expansion;
            }

            long total;
            List<Entry> page;
            if ((target.Implicit ?? SnomedOnly(target.Resource?.Compose)) is { } node)
            {
                var selected = await snomed.SelectAsync(EclSql.Compile(node), words, offset, count ?? options.MaxExpansion, cancellationToken);
                total = selected.Total;
                page = [.. selected.Concepts.Select(c => new Entry(Snomed.Snomed.System, c.Id.ToString(CultureInfo.InvariantCulture), c.Term))];
            }
            else
            {
                var all = await MaterializeAsync(reader, target.Resource!, used, 0, cancellationToken);
                var matching = words.Length == 0 ? all : all.Where(e => words.All(w => Contains(e.Display, w) || Contains(e.Code, w))).ToList();
                total = matching.Count;
                page = [.. matching.Skip(offset).Take(count ?? options.MaxExpansion)];
            }

            if (count is null && words.Length == 0 && total > options.MaxExpansion)
            {
                throw new TooCostlyException(
                    $"The value set has {total} codes, more than the {options.MaxExpansion} an expansion may hold without a filter: give a filter, or page with count and offset.", "url");
            }

            var result = Expansion(target, total, offset, filter, count, page);
            if (options.CachedExpansions > 0 && target.Key is not null)
            {
                if (expansions.Count >= options.CachedExpansions)
                {
                    expansions.Clear();
                }

                expansions[key] = (result, used);
            }

            return result;
        }, cancellationToken);

    private static bool Contains(string? text, string word) => text is not null && text.Contains(word, StringComparison.OrdinalIgnoreCase);

    private static ValueSet Expansion(Target target, long total, int offset, string? filter, int? count, List<Entry> page)
    {
        var expansion = new ValueSet.ExpansionComponent
        {
            Identifier = "urn:uuid:" + Guid.NewGuid().ToString("D"),
            TimestampElement = FhirDateTime.Now(),
            Total = (int)Math.Min(total, int.MaxValue),
            Offset = offset,
            Contains = [.. page.Select(e => new ValueSet.ContainsComponent { System = e.System, Code = e.Code, Display = e.Display })],
        };
        if (filter is not null)
        {
            expansion.Parameter.Add(new ValueSet.ParameterComponent { Name = "filter", Value = new FhirString(filter) });
        }

        if (count is not null)
        {
            expansion.Parameter.Add(new ValueSet.ParameterComponent { Name = "count", Value = new Integer(count) });
        }

        expansion.Parameter.Add(new ValueSet.ParameterComponent { Name = "offset", Value = new Integer(offset) });
        var source = target.Resource;
        return new ValueSet
        {
            Url = source?.Url ?? target.Url,
            Version = source?.Version,
            Name = source?.Name,
            Title = source?.Title,
            Status = source?.Status ?? PublicationStatus.Active,
            Expansion = expansion,
        };
    }

    /// <summary>ValueSet/$validate-code (valueset-operation-validate-code.html): is the code in the value set?</summary>
    public Task<Parameters> ValidateInValueSetAsync(RequestContext context, string? id, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$validate-code", "ValueSet", async reader =>
        {
            var (system, code, display) = Validated(input);
            var target = await TargetAsync(reader, id, input, [], cancellationToken);
            bool member;
            string? known = null;
            if ((target.Implicit ?? SnomedOnly(target.Resource?.Compose)) is { } node)
            {
                member = system == Snomed.Snomed.System && IsSctId(code) && await snomed.SelectsAsync(EclSql.Compile(node), long.Parse(code, CultureInfo.InvariantCulture), cancellationToken);
                known = member ? (await snomed.ConceptAsync(long.Parse(code, CultureInfo.InvariantCulture), cancellationToken))?.Display : null;
            }
            else
            {
                var entry = (await MaterializeAsync(reader, target.Resource!, [], 0, cancellationToken)).FirstOrDefault(e => e.System == system && e.Code == code);
                member = entry is not null;
                known = entry?.Display;
            }

            return Validation(member, code, system, display, known, member && display is not null && known is not null && !string.Equals(known, display, StringComparison.OrdinalIgnoreCase) && !await IsDesignationAsync(reader, system, code, display, cancellationToken),
                member ? null : $"The code '{code}' from '{system}' is not in the value set '{target.Url ?? target.Resource?.Url}'.");
        }, cancellationToken);

    /// <summary>CodeSystem/$validate-code (codesystem-operation-validate-code.html): is the code in the code system?</summary>
    public Task<Parameters> ValidateInCodeSystemAsync(RequestContext context, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$validate-code", "CodeSystem", async reader =>
        {
            var (system, code, display) = Validated(input, systemName: "url");
            string? known;
            string? message = null;
            if (system == Snomed.Snomed.System)
            {
                var concept = IsSctId(code) ? await snomed.ConceptAsync(long.Parse(code, CultureInfo.InvariantCulture), cancellationToken) : null;
                known = concept?.Display;
                if (concept is { Active: false })
                {
                    message = $"{code} is an inactive SNOMED CT concept.";
                }
            }
            else
            {
                known = (await CodeSystemAsync(reader, system, cancellationToken)).Find(code) is { } concept ? concept.Display ?? code : null;
            }

            var member = known is not null;
            return Validation(member, code, system, display, known, member && display is not null && !string.Equals(known, display, StringComparison.OrdinalIgnoreCase) && !await IsDesignationAsync(reader, system, code, display, cancellationToken),
                member ? message : $"'{code}' is not a code of '{system}'.");
        }, cancellationToken);

    private static Parameters Validation(bool member, string code, string system, string? display, string? known, bool wrongDisplay, string? message)
    {
        var output = new Parameters();
        output.Add("result", new FhirBoolean(member && !wrongDisplay));
        if (wrongDisplay)
        {
            message = $"'{display}' is not a display of '{code}' from '{system}'; it is '{known}'.";
        }

        if (message is not null)
        {
            output.Add("message", new FhirString(message));
        }

        if (known is not null)
        {
            output.Add("display", new FhirString(known));
        }

        return output;
    }

    private async Task<bool> IsDesignationAsync(IRecordReader reader, string system, string code, string display, CancellationToken cancellationToken)
    {
        if (system == Snomed.Snomed.System)
        {
            return (await snomed.DescriptionsAsync(long.Parse(code, CultureInfo.InvariantCulture), cancellationToken)).Any(d => string.Equals(d.Term, display, StringComparison.OrdinalIgnoreCase));
        }

        return (await CodeSystemAsync(reader, system, cancellationToken)).Find(code)?.Designation.Any(d => string.Equals(d.Value, display, StringComparison.OrdinalIgnoreCase)) == true;
    }

    /// <summary>The code to validate: code with system (or url), a coding, or the first coding of a codeableConcept; and the display given.</summary>
    private static (string System, string Code, string? Display) Validated(Parameters input, string systemName = "system")
    {
        if (input.GetSingle("codeableConcept")?.Value is CodeableConcept concept)
        {
            var coding = concept.Coding.FirstOrDefault(c => c.System is not null && c.Code is not null)
                ?? throw FhirException.BadRequest("codeableConcept has no coding with a system and a code.", "codeableConcept");
            return (coding.System!, coding.Code!, coding.Display);
        }

        var (system, code) = CodeOf(input, systemName, "code", "coding");
        return (system, code, Text(input, "display") ?? (input.GetSingle("coding")?.Value as Coding)?.Display);
    }

    private static bool IsSctId(string code) => code.Length is >= 6 and <= 18 && code[0] != '0' && code.All(char.IsAsciiDigit);

    private static int? Number(Parameters input, string name)
    {
        var text = Text(input, name);
        return text is null ? null
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
            : throw FhirException.BadRequest($"{name} must be a whole number of 0 or more, not '{text}'.", name);
    }

    private async Task<Target> TargetAsync(IRecordReader reader, string? id, Parameters input, List<(string Type, string Id, int Version)> used, CancellationToken cancellationToken)
    {
        if (id is not null)
        {
            var found = await FindAsync<ValueSet>(reader, "ValueSet", "ValueSet/" + id, cancellationToken) ?? throw FhirException.NotFound($"ValueSet/{id} is not known.");
            return Stored(found);
        }

        if (input.GetSingle("valueSet")?.Resource is ValueSet posted)
        {
            // A posted value set has no version to key a cached expansion by.
            return new Target(posted, posted.Url, null, null);
        }

        var url = Text(input, "url") ?? throw FhirException.BadRequest("Give the value set: url (a canonical URL or an implicit SNOMED CT value set), or valueSet (in a POST).", "url");
        if (Implicit(url, "url") is { } node)
        {
            return new Target(null, url, node, "implicit:" + url);
        }

        var stored = await FindAsync<ValueSet>(reader, "ValueSet", url, cancellationToken)
            ?? throw FhirException.NotFound($"The value set '{url}' is not known to this server (no ValueSet with that url is stored, and it is not an implicit SNOMED CT value set).");
        return Stored(stored);

        Target Stored((ValueSet Resource, Storage.StoredResource Stored) found)
        {
            used.Add((found.Stored.Type, found.Stored.Id, found.Stored.Version));
            return new Target(found.Resource, found.Resource.Url, null, $"ValueSet/{found.Stored.Id}/{found.Stored.Version}");
        }
    }

    /// <summary>The expression of an implicit SNOMED CT value set URL; a syntax error is a 400 naming its position.</summary>
    private static EclNode? Implicit(string url, string parameter)
    {
        try
        {
            return Snomed.Snomed.ImplicitValueSet(url);
        }
        catch (EclSyntaxException e)
        {
            throw FhirException.BadRequest($"{parameter}: {e.Message}", parameter);
        }
    }

    private static async Task<bool> CurrentAsync(IRecordReader reader, List<(string Type, string Id, int Version)> used, CancellationToken cancellationToken)
    {
        foreach (var (type, id, version) in used)
        {
            if ((await reader.ReadAsync(type, id, cancellationToken))?.Version != version)
            {
                return false;
            }
        }

        return true;
    }

    // ---- SNOMED CT value sets as one expression ----------------------------------------------------------------

    /// <summary>The compose as one expression when every include and exclude is SNOMED CT concepts or filters; otherwise null.</summary>
    private static EclNode? SnomedOnly(ValueSet.ComposeComponent? compose)
    {
        if (compose is null || compose.Include.Count == 0
            || compose.Include.Concat(compose.Exclude).Any(c => c.System != Snomed.Snomed.System || c.ValueSet.Any()))
        {
            return null;
        }

        var node = compose.Include.Select(ComponentNode).Aggregate((a, b) => new EclCompound("OR", a, b));
        return compose.Exclude.Count == 0 ? node : new EclCompound("MINUS", node, compose.Exclude.Select(ComponentNode).Aggregate((a, b) => new EclCompound("OR", a, b)));
    }

    /// <summary>
    /// A SNOMED CT include or exclude as an expression ("Using SNOMED CT with FHIR", filters): concept is-a (&lt;&lt;),
    /// descendent-of (&lt;), generalizes (&gt;&gt;), = , is-not-a, in (members of the refsets named), and constraint = ECL.
    /// </summary>
    private static EclNode ComponentNode(ValueSet.ConceptSetComponent component)
    {
        if (component.Concept.Count > 0)
        {
            return component.Concept.Select(c => (EclNode)new EclConcept(SctId(c.Code ?? string.Empty, "compose.include.concept.code")))
                .Aggregate((a, b) => new EclCompound("OR", a, b));
        }

        EclNode node = EclAny.Instance;
        foreach (var filter in component.Filter)
        {
            var value = filter.Value ?? string.Empty;
            EclNode Concept() => new EclConcept(SctId(value, "compose.include.filter.value"));
            EclNode selected = (filter.Property, filter.Op) switch
            {
                ("concept", FilterOperator.IsA) => new EclHierarchy("<<", Concept()),
                ("concept", FilterOperator.DescendentOf) => new EclHierarchy("<", Concept()),
                ("concept", FilterOperator.Generalizes) => new EclHierarchy(">>", Concept()),
                ("concept", FilterOperator.Equal) => Concept(),
                ("concept", FilterOperator.IsNotA) => new EclCompound("MINUS", EclAny.Instance, new EclHierarchy("<<", Concept())),
                ("concept", FilterOperator.In) => value.Split(',', StringSplitOptions.TrimEntries)
                    .Select(v => (EclNode)new EclMemberOf(new EclConcept(SctId(v, "compose.include.filter.value")))).Aggregate((a, b) => new EclCompound("OR", a, b)),
                ("constraint" or "expression", FilterOperator.Equal) => ParseEcl(value),
                _ => throw FhirException.BadRequest(
                    $"The SNOMED CT filter '{filter.Property} {filter.Op}' is not supported (concept is-a, descendent-of, generalizes, =, is-not-a and in, and constraint = ECL are).", "compose.include.filter"),
            };
            node = node is EclAny ? selected : new EclCompound("AND", node, selected);
        }

        return node;
    }

    private static EclNode ParseEcl(string value)
    {
        try
        {
            return Ecl.Parse(value);
        }
        catch (EclSyntaxException e)
        {
            throw FhirException.BadRequest($"compose.include.filter: {e.Message}", "compose.include.filter");
        }
    }

    // ---- value sets over stored code systems, in memory ---------------------------------------------------------

    private const int MaxDepth = 8;

    private async Task<List<Entry>> MaterializeAsync(IRecordReader reader, ValueSet valueSet, List<(string Type, string Id, int Version)> used, int depth, CancellationToken cancellationToken)
    {
        if (depth > MaxDepth)
        {
            throw FhirException.BadRequest($"The value set includes value sets more than {MaxDepth} deep.", "compose.include.valueSet");
        }

        if (valueSet.Expansion?.Contains is { Count: > 0 } contains && valueSet.Compose is null)
        {
            return [.. Flatten(contains)];
        }

        var result = new List<Entry>();
        var seen = new HashSet<(string, string)>();
        foreach (var include in valueSet.Compose?.Include ?? [])
        {
            foreach (var entry in await ComponentAsync(reader, include, used, depth, cancellationToken))
            {
                if (seen.Add((entry.System, entry.Code)))
                {
                    result.Add(entry);
                }
            }

            Bound(result.Count);
        }

        foreach (var exclude in valueSet.Compose?.Exclude ?? [])
        {
            var excluded = (await ComponentAsync(reader, exclude, used, depth, cancellationToken)).Select(e => (e.System, e.Code)).ToHashSet();
            result.RemoveAll(e => excluded.Contains((e.System, e.Code)));
        }

        return result;
    }

    private static IEnumerable<Entry> Flatten(IEnumerable<ValueSet.ContainsComponent> contains) => contains.SelectMany(c =>
        (c.System is not null && c.Code is not null && c.Abstract != true ? [new Entry(c.System, c.Code, c.Display)] : Enumerable.Empty<Entry>()).Concat(Flatten(c.Contains)));

    private void Bound(long count)
    {
        if (count > options.MaxExpansion)
        {
            throw new TooCostlyException($"The value set has more than the {options.MaxExpansion} codes this server expands in memory.", "compose");
        }
    }

    private async Task<List<Entry>> ComponentAsync(IRecordReader reader, ValueSet.ConceptSetComponent component, List<(string Type, string Id, int Version)> used, int depth, CancellationToken cancellationToken)
    {
        List<Entry>? result = null;
        if (component.System is { } system)
        {
            if (system == Snomed.Snomed.System)
            {
                var selected = await snomed.SelectAsync(EclSql.Compile(ComponentNode(component)), [], 0, options.MaxExpansion + 1, cancellationToken);
                Bound(selected.Total);
                result = [.. selected.Concepts.Select(c => new Entry(system, c.Id.ToString(CultureInfo.InvariantCulture), c.Term))];
            }
            else
            {
                var found = await FindAsync<CodeSystem>(reader, "CodeSystem", system, cancellationToken);
                var codeSystem = found is null ? null : new StoredCodeSystem(found.Value.Resource);
                if (found is { } f)
                {
                    used.Add((f.Stored.Type, f.Stored.Id, f.Stored.Version));
                }

                if (component.Concept.Count > 0)
                {
                    result = [.. component.Concept.Where(c => c.Code is not null).Select(c => new Entry(system, c.Code!, c.Display ?? codeSystem?.Find(c.Code!)?.Display))];
                }
                else
                {
                    var codes = codeSystem ?? throw FhirException.BadRequest($"The value set draws on the code system '{system}', which this server does not hold.", "compose.include.system");
                    IEnumerable<string> selected = codes.Codes;
                    foreach (var filter in component.Filter)
                    {
                        selected = selected.Intersect(Filter(codes, filter), StringComparer.Ordinal);
                    }

                    result = [.. selected.Select(c => new Entry(system, c, codes.Find(c)?.Display))];
                }
            }
        }

        foreach (var url in component.ValueSet.OfType<string>())
        {
            List<Entry> members;
            if (Implicit(url, "compose.include.valueSet") is { } node)
            {
                var selected = await snomed.SelectAsync(EclSql.Compile(node), [], 0, options.MaxExpansion + 1, cancellationToken);
                Bound(selected.Total);
                members = [.. selected.Concepts.Select(c => new Entry(Snomed.Snomed.System, c.Id.ToString(CultureInfo.InvariantCulture), c.Term))];
            }
            else
            {
                var found = await FindAsync<ValueSet>(reader, "ValueSet", url, cancellationToken)
                    ?? throw FhirException.BadRequest($"The value set includes '{url}', which this server does not hold.", "compose.include.valueSet");
                used.Add((found.Stored.Type, found.Stored.Id, found.Stored.Version));
                members = await MaterializeAsync(reader, found.Resource, used, depth + 1, cancellationToken);
            }

            if (result is null)
            {
                result = members;
            }
            else
            {
                var keep = members.Select(e => (e.System, e.Code)).ToHashSet();
                result.RemoveAll(e => !keep.Contains((e.System, e.Code)));
            }
        }

        return result ?? [];
    }

    /// <summary>A filter over a stored code system (valueset.html#compose: is-a, descendent-of, is-not-a, =, in, regex).</summary>
    private static HashSet<string> Filter(StoredCodeSystem codes, ValueSet.FilterComponent filter)
    {
        var value = filter.Value ?? string.Empty;
        if (filter.Property is "concept" or "code")
        {
            return filter.Op switch
            {
                FilterOperator.IsA => [.. codes.Below(value).Append(value).Where(c => codes.Find(c) is not null)],
                FilterOperator.DescendentOf => codes.Below(value),
                FilterOperator.IsNotA => [.. codes.Codes.Except(codes.Below(value).Append(value))],
                FilterOperator.Equal => codes.Find(value) is null ? [] : [value],
                FilterOperator.In => [.. value.Split(',', StringSplitOptions.TrimEntries).Where(c => codes.Find(c) is not null)],
                FilterOperator.Regex => [.. codes.Codes.Where(c => Matches(value, c))],
                _ => throw FhirException.BadRequest($"The filter operator '{filter.Op}' is not supported on '{filter.Property}' (is-a, descendent-of, is-not-a, =, in and regex are).", "compose.include.filter"),
            };
        }

        // Another property: = compares its value, regex matches it (codesystem.html#filters).
        return filter.Op switch
        {
            FilterOperator.Equal => [.. codes.Codes.Where(c => PropertyValues(codes, c, filter.Property).Contains(value, StringComparer.Ordinal))],
            FilterOperator.Regex => [.. codes.Codes.Where(c => PropertyValues(codes, c, filter.Property).Any(v => Matches(value, v)))],
            _ => throw FhirException.BadRequest($"The filter operator '{filter.Op}' is not supported on the property '{filter.Property}' (= and regex are).", "compose.include.filter"),
        };
    }

    private static IEnumerable<string> PropertyValues(StoredCodeSystem codes, string code, string? property) =>
        property == "display" ? [codes.Find(code)?.Display ?? string.Empty]
            : codes.Find(code)?.Property.Where(p => p.Code == property).Select(p => p.Value is Coding coding ? coding.Code : p.Value?.ToString()).OfType<string>() ?? [];

    /// <summary>A whole-value regular expression match (valueset.html: "the entire value"), bounded in time.</summary>
    private static bool Matches(string pattern, string value)
    {
        try
        {
            return Regex.IsMatch(value, $"^(?:{pattern})$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException)
        {
            throw FhirException.BadRequest($"The regex filter '{pattern}' is not a valid regular expression.", "compose.include.filter");
        }
        catch (RegexMatchTimeoutException)
        {
            throw new TooCostlyException($"The regex filter '{pattern}' took too long to match.", "compose.include.filter");
        }
    }
}
