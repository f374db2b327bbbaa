using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Storage;

namespace CareHub.Records;

/// <summary>
/// The read views (<see cref="IReadView"/>): every path that returns a resource passes it through them, and every search
/// adds their clauses, for callers under the access policy's record-level rules.
/// </summary>
public sealed partial class RecordService
{
    /// <summary>The views that shape resources for restricted callers, in this order; none by default.</summary>
    public IReadOnlyList<IReadView> ReadViews { get; } = [.. readViews ?? []];

    /// <summary>Of <paramref name="ids"/>, the current resources of <paramref name="type"/> the caller may do <paramref name="interaction"/> on.</summary>
    public async Task<IReadOnlySet<string>> VisibleIdsAsync(RequestContext context, string type, IReadOnlyCollection<string> ids, FhirInteraction interaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(ids);
        var valid = ids.Where(FhirIds.IsValidId).Distinct(StringComparer.Ordinal).ToList();
        if (valid.Count == 0 || !policy.Decide(context.Principal, interaction, type).Allowed)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        var query = await RestrictAsync(context, new StoreQuery(type, [new IdClause(valid)], valid.Count) { Scope = QueryScope.Request }, interaction, cancellationToken);
        return (await store.FindIdsAsync(query, cancellationToken)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The clause readable resources of the type meet (null: all are); nothing when the caller may not read the type.</summary>
    internal async ValueTask<QueryClause?> ReadableClauseAsync(RequestContext context, string type, CancellationToken cancellationToken) =>
        policy.Decide(context.Principal, FhirInteraction.Read, type).Allowed
            ? (await RulesAsync(context, type, FhirInteraction.Read, cancellationToken)).Clause
            : new AnyClause([]);

    private bool Shaped(RequestContext context, string type) =>
        context.Principal.Kind != PrincipalKind.System && ReadViews.Any(v => v.Shapes(type));

    /// <summary>The resource as the caller may see it; null when nothing of this version may be shown.</summary>
    private async Task<StoredResource?> ShowAsync(RequestContext context, StoredResource stored, CancellationToken cancellationToken)
    {
        if (stored.Json is null || !Shaped(context, stored.Type))
        {
            return stored;
        }

        var scope = new ReadScope(this, store, context);
        foreach (var view in ReadViews.Where(v => v.Shapes(stored.Type)))
        {
            var json = await view.ShowAsync(scope, stored, cancellationToken);
            if (json is null)
            {
                return null;
            }

            stored = stored with { Json = json };
        }

        return stored;
    }

    /// <summary>The resources as the caller may see them, in order; those with nothing to show are left out.</summary>
    private async Task<List<StoredResource>> ShowAllAsync(RequestContext context, IReadOnlyList<StoredResource> resources, CancellationToken cancellationToken)
    {
        var shown = new List<StoredResource>(resources.Count);
        foreach (var stored in resources)
        {
            if (await ShowAsync(context, stored, cancellationToken) is { } visible)
            {
                shown.Add(visible);
            }
        }

        return shown;
    }

    /// <summary>The views' clauses for a search over <paramref name="types"/>, for this caller.</summary>
    private async Task<List<QueryClause>> ViewClausesAsync(RequestContext context, IReadOnlyList<string> types, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var clauses = new List<QueryClause>();
        foreach (var type in types.Where(t => Shaped(context, t)))
        {
            foreach (var view in ReadViews.Where(v => v.Shapes(type)))
            {
                IReadOnlyList<QueryClause> extra;
                try
                {
                    extra = await view.SearchClausesAsync(new ReadScope(this, store, context), type, parameters, cancellationToken);
                }
                catch (FhirException) when (types.Count > 1)
                {
                    // Over several types, a type the view cannot search by these parameters is left out, as a type the
                    // caller may not read is: the other types still answer.
                    extra = [new AnyClause([])];
                }

                // Over several types the clauses bind only the view's type.
                clauses.AddRange(types.Count == 1
                    ? extra
                    : extra.Select(c => (QueryClause)new AnyClause([new TypesClause(types.Where(t => t != type).ToList(), null), new TypesClause([type], c)])));
            }
        }

        return clauses;
    }
}
