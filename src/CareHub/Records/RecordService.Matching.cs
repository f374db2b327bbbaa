using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Search;
using CareHub.Storage;

namespace CareHub.Records;

/// <summary>
/// Criteria matching for subscriptions: which of some changed resources a principal's search would find, evaluated by the
/// same governed query a search runs, without returning or auditing anything (nothing is disclosed by it; what is then
/// sent is audited as a delivery).
/// </summary>
public sealed partial class RecordService
{
    /// <summary>The parameters a subscription's criteria may not carry: they shape a result page, they select nothing.</summary>
    private static readonly HashSet<string> ShapingParameters = new(StringComparer.Ordinal)
    {
        "_include", "_revinclude", "_sort", "_count", "_summary", "_elements", "_total", "_contained", "_containedType", "_format", "_pretty",
    };

    /// <summary>
    /// Checks criteria (<c>Type?params</c> without the type) as a subscription would run them: the type must be a resource
    /// type, every parameter known (strict handling), nothing that shapes a page. Throws the <see cref="FhirException"/>
    /// naming the problem.
    /// </summary>
    public static void CheckCriteria(string type, IReadOnlyList<KeyValuePair<string, string>> criteria)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        if (!FhirIds.IsResourceType(type))
        {
            throw FhirException.BadRequest($"Subscription.criteria names '{type}', which is not an R4 resource type.");
        }

        if (criteria.FirstOrDefault(p => ShapingParameters.Contains(p.Key)) is { Key: not null } shaping)
        {
            throw FhirException.BadRequest($"Subscription.criteria may not use {shaping.Key}: a subscription's criteria select resources, they do not shape a page.");
        }

        SearchRequest.Parse(type, criteria, strict: true);
    }

    /// <summary>
    /// Of <paramref name="ids"/>, the current resources of <paramref name="type"/> that a search with
    /// <paramref name="criteria"/> by <paramref name="context"/>'s principal would find now: the policy is in the query, so
    /// a resource the principal may not see never matches. Nothing is audited and nothing returned but ids.
    /// </summary>
    public async Task<IReadOnlySet<string>> MatchingIdsAsync(RequestContext context, string type, IReadOnlyList<KeyValuePair<string, string>> criteria,
        IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(ids);
        var valid = ids.Where(FhirIds.IsValidId).Distinct(StringComparer.Ordinal).ToList();
        if (valid.Count == 0 || !policy.Decide(context.Principal, FhirInteraction.Search, type).Allowed)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        var request = SearchRequest.Parse([type], criteria, strict: true, context.BaseUrl, clock, await SearchLookups.LoadAsync(store, criteria, cancellationToken), context.SearchLimits);
        var query = request.ToStoreQuery() with { Count = valid.Count, Sort = [] };
        query = query with { Clauses = [.. query.Clauses, new IdClause(valid)] };
        query = await GovernAsync(context, query, FhirInteraction.Search, cancellationToken);
        query = query with { Clauses = [.. query.Clauses, .. await ViewClausesAsync(context, [type], criteria, cancellationToken)] };
        return (await store.FindIdsAsync(query, cancellationToken)).ToHashSet(StringComparer.Ordinal);
    }
}
