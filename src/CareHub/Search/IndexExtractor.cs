using System.Globalization;
using CareHub.Storage;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.FhirPath;

namespace CareHub.Search;

/// <summary>
/// Turns a resource into its search index rows: every parameter of its type (<see cref="SearchParameterCatalog"/>) is
/// evaluated with Firely's FHIRPath engine on the POCO, and each value becomes rows of the table for its type of value
/// (R4 search.html#ptypes). Branches whose top-level element is absent are skipped without evaluating them, which is
/// most of them: that keeps extraction cheap on the write path.
/// </summary>
public static class IndexExtractor
{
    /// <summary>Indexed text longer than this is cut: a B-tree entry has a size limit (about 2.7 kB in PostgreSQL).</summary>
    public const int MaxIndexedLength = 500;

    public static List<IndexRow> Extract(Resource resource) => Extract(resource, memberPaths: true);

    /// <summary>The rows of the named parameters only (the audit trail indexes a few of AuditEvent's).</summary>
    public static List<IndexRow> Extract(Resource resource, IReadOnlySet<string> only) => Extract(resource, memberPaths: true, only);

    /// <param name="memberPaths">False evaluates every branch with the FHIRPath engine (tests compare the two).</param>
    /// <param name="only">When set, the parameters to extract; the others are not evaluated.</param>
    internal static List<IndexRow> Extract(Resource resource, bool memberPaths, IReadOnlySet<string>? only = null)
    {
        var rows = new List<IndexRow>();
        var parameters = SearchParameterCatalog.For(resource.TypeName);
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in resource.EnumerateElements())
        {
            present.Add(name);
        }

        PocoNode? node = null;
        EvaluationContext? context = null;
        var group = 0;
        foreach (var parameter in parameters.Values)
        {
            if (only is not null && !only.Contains(parameter.Name))
            {
                continue;
            }

            foreach (var branch in parameter.Branches)
            {
                if (branch.RootElement.Length > 0 && !present.Contains(branch.RootElement))
                {
                    continue;
                }

                if (memberPaths && branch.Path is { } path && (parameter.Type != SearchParamType.Composite || parameter.Components.All(c => c.Paths is not null)))
                {
                    foreach (var value in path.Evaluate(resource))
                    {
                        if (parameter.Type == SearchParamType.Composite)
                        {
                            AddComposite(rows, parameter, ++group, i => parameter.Components[i].Paths!.SelectMany(p => p.Evaluate(value)));
                        }
                        else
                        {
                            Add(rows, parameter.Name, parameter.Type, value, branch.ResolveType, 0);
                        }
                    }

                    continue;
                }

                node ??= resource.ToPocoNode();
                // %resource is set: some composite components read it (R4 MolecularSequence-chromosome-variant-coordinate:
                // "%resource.referenceSeq.chromosome"), and the engine fails on an unset one.
                context ??= new FhirEvaluationContext { Resource = node, RootResource = node };
                foreach (var result in branch.Expression.Invoke([node], context))
                {
                    if (parameter.Type == SearchParamType.Composite)
                    {
                        AddComposite(rows, parameter, ++group, i => parameter.Components[i].Expression.Invoke([result], context).Select(v => v.Poco).OfType<Base>());
                    }
                    else
                    {
                        Add(rows, parameter.Name, parameter.Type, result.Poco, branch.ResolveType, 0);
                    }
                }
            }
        }

        if (resource is Location { Position: { Latitude: { } latitude, Longitude: { } longitude } })
        {
            // near (location.html#positional) has no FHIRPath of its own: the position as two number rows.
            rows.Add(new NumberIndexRow(SearchLookups.LatitudeParam, (double)latitude, (double)latitude, (double)latitude));
            rows.Add(new NumberIndexRow(SearchLookups.LongitudeParam, (double)longitude, (double)longitude, (double)longitude));
        }

        TextSearch.AddRows(rows, resource);
        return rows;
    }

    /// <summary>One composite value: its component rows share a group, and only a value with every component counts (search.html#composite).</summary>
    private static void AddComposite(List<IndexRow> rows, SearchParameter parameter, int group, Func<int, IEnumerable<Base>> values)
    {
        var start = rows.Count;
        for (var i = 0; i < parameter.Components.Count; i++)
        {
            var before = rows.Count;
            var component = parameter.Components[i];
            foreach (var value in values(i))
            {
                Add(rows, $"{parameter.Name}${i.ToString(CultureInfo.InvariantCulture)}", component.Type, value, null, group);
            }

            if (rows.Count == before)
            {
                rows.RemoveRange(start, rows.Count - start);
                return;
            }
        }
    }

    private static void Add(List<IndexRow> rows, string param, SearchParamType type, Base? value, string? resolveType, int group)
    {
        if (value is null)
        {
            return;
        }

        var start = rows.Count;
        switch (type)
        {
            case SearchParamType.Token:
                Tokens(rows, param, value);
                break;
            case SearchParamType.String:
                Strings(rows, param, value);
                break;
            case SearchParamType.Date:
                if (Dates(value) is { } range)
                {
                    rows.Add(new DateIndexRow(param, range.Low, range.High));
                }

                break;
            case SearchParamType.Number:
                Numbers(rows, param, value);
                break;
            case SearchParamType.Quantity:
                Quantities(rows, param, value);
                break;
            case SearchParamType.Reference:
                References(rows, param, value, resolveType);
                break;
            case SearchParamType.Uri:
                if (Text(value) is { Length: > 0 } uri)
                {
                    rows.Add(new UriIndexRow(param, Cut(uri)));
                }

                break;
        }

        if (group != 0)
        {
            for (var i = start; i < rows.Count; i++)
            {
                rows[i] = rows[i] with { Group = group };
            }
        }
    }

    private static void Tokens(List<IndexRow> rows, string param, Base value)
    {
        switch (value)
        {
            case Coding coding:
                AddCoding(rows, param, coding, null);
                break;
            case CodeableConcept concept:
                // The concept's text rides on each coding row (":text" matches words of either): a row of its own for
                // the text would be a third of all token rows on typical data.
                var conceptText = string.IsNullOrWhiteSpace(concept.Text) ? null : concept.Text;
                var added = rows.Count;
                foreach (var coding in concept.Coding)
                {
                    AddCoding(rows, param, coding, conceptText);
                }

                if (rows.Count == added && conceptText is not null)
                {
                    rows.Add(new TokenIndexRow(param, null, string.Empty, Folded(conceptText)));
                }

                break;
            case Identifier identifier when !string.IsNullOrEmpty(identifier.Value):
                var system = string.IsNullOrEmpty(identifier.System) ? null : identifier.System;
                var text = identifier.Type?.Text is { Length: > 0 } typeText ? Folded(typeText) : null;
                var types = identifier.Type?.Coding.Where(c => !string.IsNullOrEmpty(c.Code)).ToList() ?? [];
                if (types.Count == 0)
                {
                    rows.Add(new TokenIndexRow(param, system, Cut(identifier.Value), text));
                }

                foreach (var coding in types)
                {
                    rows.Add(new TokenIndexRow(param, system, Cut(identifier.Value), text, coding.System, coding.Code));
                }

                break;
            case ContactPoint contact when !string.IsNullOrEmpty(contact.Value):
                rows.Add(new TokenIndexRow(param, null, Cut(contact.Value)));
                break;
            case PrimitiveType primitive when Text(primitive) is { Length: > 0 } code:
                rows.Add(new TokenIndexRow(param, null, Cut(code)));
                break;
        }
    }

    private static void AddCoding(List<IndexRow> rows, string param, Coding coding, string? conceptText)
    {
        if (string.IsNullOrEmpty(coding.Code) && string.IsNullOrEmpty(coding.Display))
        {
            return;
        }

        var display = string.IsNullOrEmpty(coding.Display) ? null : coding.Display;
        var text = display is null ? conceptText
            : conceptText is null || string.Equals(display, conceptText, StringComparison.OrdinalIgnoreCase) ? display
            : display + " " + conceptText;
        var system = string.IsNullOrEmpty(coding.System) ? null : coding.System;
        rows.Add(new TokenIndexRow(param, system, Cut(CaseInsensitiveCodes.Fold(system, coding.Code ?? string.Empty)),
            text is null ? null : Folded(text)));
    }

    /// <summary>Strings of complex types search their parts (search.html#string): names, addresses.</summary>
    private static void Strings(List<IndexRow> rows, string param, Base value)
    {
        switch (value)
        {
            case HumanName name:
                AddString(rows, param, name.Family);
                AddStrings(rows, param, name.Given);
                AddStrings(rows, param, name.Prefix);
                AddStrings(rows, param, name.Suffix);
                AddString(rows, param, name.Text);
                break;
            case Address address:
                AddStrings(rows, param, address.Line);
                AddString(rows, param, address.City);
                AddString(rows, param, address.District);
                AddString(rows, param, address.State);
                AddString(rows, param, address.PostalCode);
                AddString(rows, param, address.Country);
                AddString(rows, param, address.Text);
                break;
            case PrimitiveType primitive:
                AddString(rows, param, Text(primitive));
                break;
        }
    }

    private static void AddStrings(List<IndexRow> rows, string param, IEnumerable<string?> values)
    {
        foreach (var value in values)
        {
            AddString(rows, param, value);
        }
    }

    private static void AddString(List<IndexRow> rows, string param, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            rows.Add(new StringIndexRow(param, Folded(value), Cut(value)));
        }
    }

    /// <summary>A date-like value as [low, high) in UTC milliseconds (search.html#date).</summary>
    private static (long Low, long High)? Dates(Base value)
    {
        switch (value)
        {
            case Instant { Value: { } instant }:
                var ms = instant.ToUnixTimeMilliseconds();
                return (ms, ms + 1);
            case FhirDateTime or Date:
                return SearchValues.DateRange(((PrimitiveType)value).ToString() ?? string.Empty);
            case Period period:
                var start = period.Start is { } s ? SearchValues.DateRange(s)?.Low : null;
                var end = period.End is { } e ? SearchValues.DateRange(e)?.High : null;
                return start is null && end is null ? null : (start ?? SearchValues.MinDate, end ?? SearchValues.MaxDate);
            case Timing timing:
                var ranges = timing.EventElement.Select(Dates).Where(r => r is not null).Select(r => r!.Value).ToList();
                if (timing.Repeat?.Bounds is Period bounds && Dates(bounds) is { } boundsRange)
                {
                    ranges.Add(boundsRange);
                }

                return ranges.Count == 0 ? null : (ranges.Min(r => r.Low), ranges.Max(r => r.High));
            default:
                return null;
        }
    }

    private static void Numbers(List<IndexRow> rows, string param, Base value)
    {
        switch (value)
        {
            case FhirDecimal { Value: { } d }:
                var (low, high) = SearchValues.Precision(d);
                rows.Add(new NumberIndexRow(param, (double)d, low, high));
                break;
            case Integer { Value: { } i }:
                rows.Add(new NumberIndexRow(param, i, i - 0.5, i + 0.5));
                break;
            case UnsignedInt { Value: { } u }:
                rows.Add(new NumberIndexRow(param, u, u - 0.5, u + 0.5));
                break;
            case PositiveInt { Value: { } p }:
                rows.Add(new NumberIndexRow(param, p, p - 0.5, p + 0.5));
                break;
            case Integer64 { Value: { } l }:
                rows.Add(new NumberIndexRow(param, l, l - 0.5, l + 0.5));
                break;
            case Quantity { Value: { } q }:
                var (qLow, qHigh) = SearchValues.Precision(q);
                rows.Add(new NumberIndexRow(param, (double)q, qLow, qHigh));
                break;
            case Hl7.Fhir.Model.Range range when range.Low?.Value is not null || range.High?.Value is not null:
                rows.Add(new NumberIndexRow(param, null, (double?)range.Low?.Value ?? SearchValues.MinNumber, (double?)range.High?.Value ?? SearchValues.MaxNumber));
                break;
        }
    }

    private static void Quantities(List<IndexRow> rows, string param, Base value)
    {
        switch (value)
        {
            case Quantity { Value: { } v } quantity:
                var (low, high) = SearchValues.Precision(v);
                var row = new QuantityIndexRow(param, Empty(quantity.System), Empty(quantity.Code), Empty(quantity.Unit), (double)v, low, high);
                rows.Add(CanonicalOf(quantity) is { } canonical
                    ? row with { CanonicalCode = canonical.Code, CanonicalValue = (double)v * canonical.Factor, CanonicalLow = low * canonical.Factor, CanonicalHigh = high * canonical.Factor }
                    : row);
                break;
            case Money { Value: { } m } money:
                var (mLow, mHigh) = SearchValues.Precision(m);
                rows.Add(new QuantityIndexRow(param, "urn:iso:std:iso:4217", money.Currency?.ToString(), null, (double)m, mLow, mHigh));
                break;
            case Hl7.Fhir.Model.Range range when range.Low?.Value is not null || range.High?.Value is not null:
                var unit = range.Low ?? range.High!;
                var rangeRow = new QuantityIndexRow(param, Empty(unit.System), Empty(unit.Code), Empty(unit.Unit), null,
                    (double?)range.Low?.Value ?? SearchValues.MinNumber, (double?)range.High?.Value ?? SearchValues.MaxNumber);
                rows.Add(CanonicalOf(unit) is { } rangeCanonical && (range.High is null || CanonicalOf(range.High)?.Code == rangeCanonical.Code)
                    ? rangeRow with
                    {
                        CanonicalCode = rangeCanonical.Code,
                        CanonicalLow = range.Low?.Value is { } lowValue ? (double)lowValue * rangeCanonical.Factor : SearchValues.MinNumber,
                        CanonicalHigh = range.High?.Value is { } highValue ? (double)highValue * CanonicalOf(range.High)!.Value.Factor : SearchValues.MaxNumber,
                    }
                    : rangeRow);
                break;
        }
    }

    /// <summary>The canonical UCUM form of a quantity's unit (search.html#quantity), when it has a UCUM code Ucum knows.</summary>
    private static (double Factor, string Code)? CanonicalOf(Quantity quantity) =>
        quantity.System == Ucum.System ? Ucum.Canonical(quantity.Code) : null;

    private static void References(List<IndexRow> rows, string param, Base value, string? resolveType)
    {
        switch (value)
        {
            case ResourceReference reference:
                string? type = null, id = null, url = null;
                if (!string.IsNullOrEmpty(reference.Reference) && !reference.Reference.StartsWith('#'))
                {
                    (type, id, url) = ParseReference(reference.Reference);
                }

                var identifier = reference.Identifier is { Value.Length: > 0 } given ? given : null;
                if (type is null && id is null && url is null && identifier is null)
                {
                    return;
                }

                // "x.where(resolve() is Patient)": the target's type is checked on the reference itself.
                var targetType = type ?? TypeInUrl(url) ?? reference.Type;
                if (resolveType is not null && targetType != resolveType)
                {
                    return;
                }

                rows.Add(new ReferenceIndexRow(param, type, id, url is null ? null : Cut(url),
                    identifier is null ? null : Empty(identifier.System), identifier?.Value is null ? null : Cut(identifier.Value)));
                break;
            case PrimitiveType primitive when Text(primitive) is { Length: > 0 } canonical:
                // canonical and uri references are matched by URL; a canonical's "|version" is not part of it.
                var bar = canonical.IndexOf('|', StringComparison.Ordinal);
                rows.Add(new ReferenceIndexRow(param, null, null, Cut(bar < 0 ? canonical : canonical[..bar])));
                break;
        }
    }

    /// <summary>
    /// A literal reference as type and id when relative ("Patient/1", "Patient/1/_history/2"), or as a URL (absolute,
    /// urn:uuid:, anything else).
    /// </summary>
    public static (string? Type, string? Id, string? Url) ParseReference(string reference)
    {
        var history = reference.IndexOf("/_history/", StringComparison.Ordinal);
        var text = history < 0 ? reference : reference[..history];
        if (!text.Contains(':', StringComparison.Ordinal))
        {
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && text.IndexOf('/', slash + 1) < 0 && ModelInfo.IsKnownResource(text[..slash]))
            {
                return (text[..slash], text[(slash + 1)..], null);
            }
        }

        return (null, null, text);
    }

    private static string? TypeInUrl(string? url)
    {
        if (url is null)
        {
            return null;
        }

        var parts = url.Split('/');
        return parts.Length >= 2 && ModelInfo.IsKnownResource(parts[^2]) ? parts[^2] : null;
    }

    private static string? Text(Base value) => value switch
    {
        FhirBoolean { Value: { } b } => b ? "true" : "false",
        PrimitiveType { JsonValue: { } o } => Convert.ToString(o, CultureInfo.InvariantCulture),
        _ => null,
    };

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Cut(string value) => value.Length <= MaxIndexedLength ? value : value[..MaxIndexedLength];

    private static string Folded(string value) => Cut(SearchValues.Normalize(value));
}
