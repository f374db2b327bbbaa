using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Directories;

/// <summary>
/// The one look-up of the directories for CareHub's own services (documents: where to fetch; notifications: where to
/// deliver; sign-in: where to launch): the endpoint of an organisation for a purpose, the services an organisation offers,
/// the roles a practitioner holds. It reads the record as it is through <see cref="IRecordLookups"/>, without a caller's
/// access decision or audit: directory entries are reference data about organisations, not about patients, and whoever
/// acts on an answer does so through the door under their own principal.
/// </summary>
public sealed class DirectoryLookup(IRecordLookups lookups)
{
    /// <summary>How far up Organization.partOf an endpoint look-up goes before it gives up (a branch, its practice, ...).</summary>
    public const int MaxParentHops = 4;

    private const int PageSize = 200;

    /// <summary>
    /// The active endpoints of <paramref name="organizationId"/> for <paramref name="purpose"/>; when it has none, those of
    /// its parent (Organization.partOf), and so on up to <see cref="MaxParentHops"/> levels: a branch surgery is reached
    /// through its practice's endpoints unless it has its own. Empty when no level has one.
    /// </summary>
    public async Task<IReadOnlyList<Endpoint>> EndpointsAsync(string organizationId, EndpointPurpose purpose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        string? current = organizationId;
        for (var hop = 0; current is not null && hop <= MaxParentHops && visited.Add(current); hop++)
        {
            var found = await SearchAsync<Endpoint>("Endpoint", "the directory's endpoint look-up", cancellationToken,
                OrganizationClause(current),
                new TokenClause("payload-type", [new TokenMatch(EndpointPurpose.System, purpose.Code, AnySystem: false)]),
                new TokenClause("status", [new TokenMatch(null, "active", AnySystem: true)]));
            if (found.Count > 0)
            {
                return found;
            }

            current = await ParentAsync(current, cancellationToken);
        }

        return [];
    }

    /// <summary>The active HealthcareServices <paramref name="organizationId"/> provides, ordered by id.</summary>
    public Task<IReadOnlyList<HealthcareService>> ServicesAsync(string organizationId, CancellationToken cancellationToken) =>
        SearchAsync<HealthcareService>("HealthcareService", "the directory's service look-up", cancellationToken,
            OrganizationClause(organizationId),
            new TokenClause("active", [new TokenMatch(null, "true", AnySystem: true)]));

    /// <summary>The active PractitionerRoles of <paramref name="practitionerId"/>: where they work and as what, ordered by id.</summary>
    public Task<IReadOnlyList<PractitionerRole>> RolesAsync(string practitionerId, CancellationToken cancellationToken) =>
        SearchAsync<PractitionerRole>("PractitionerRole", "the directory's role look-up", cancellationToken,
            new ReferenceClause("practitioner", [new ReferenceMatch("Practitioner", practitionerId)]),
            new TokenClause("active", [new TokenMatch(null, "true", AnySystem: true)]));

    private static ReferenceClause OrganizationClause(string organizationId) =>
        new("organization", [new ReferenceMatch("Organization", organizationId)]);

    private async Task<string?> ParentAsync(string organizationId, CancellationToken cancellationToken)
    {
        var stored = await lookups.ReadAsync("Organization", organizationId, null, cancellationToken);
        if (stored?.Json is null)
        {
            return null;
        }

        var reference = ((Organization)StoredJson.Parse(stored.Json)).PartOf?.Reference;
        return reference is not null && reference.StartsWith("Organization/", StringComparison.Ordinal) ? reference["Organization/".Length..] : null;
    }

    private async Task<IReadOnlyList<T>> SearchAsync<T>(string type, string why, CancellationToken cancellationToken, params QueryClause[] clauses)
        where T : Resource
    {
        var results = new List<T>();
        PageCursor? after = null;
        while (true)
        {
            var page = await lookups.SearchAsync(new StoreQuery(type, clauses, PageSize, After: after) { Scope = QueryScope.Internal(why) }, cancellationToken);
            results.AddRange(page.Resources.Where(r => r.Json is not null).Select(r => (T)StoredJson.Parse(r.Json!)));
            if (!page.HasMore || page.NextCursor is null)
            {
                return results;
            }

            after = page.NextCursor;
        }
    }
}
