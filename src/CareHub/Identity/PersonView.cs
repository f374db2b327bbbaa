using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Identity;

/// <summary>
/// The Person as a caller under record-level rules may see it (docs/mpi.md, "Who sees what of a Person"). The access
/// policy lets a Person through when one of the Patients it links may be seen; this view then removes the links to the
/// Patients the caller may not see, as if they were absent, and, when it removed any, gives an MPI Person the golden
/// record of the visible members alone (by the same survivorship rule) and drops the match score and rule of its links,
/// which describe comparisons with records not shown. So a Person seen through a record that the matcher linked to a
/// hidden one looks like the Person that record would have on its own, up to ids, versions and timestamps.
/// Person searches are evaluated over what the caller may see: <c>link</c> and <c>patient</c> find a Person only through
/// a Patient the caller may see, and parameters over the golden record's demographics (which may come from hidden
/// sources) are refused with a 400 rather than answered from them.
/// </summary>
public sealed class PersonView : IReadView
{
    /// <summary>
    /// What a restricted caller may search Person by: the links (made visibility-aware below), the resource's own
    /// metadata, reverse chains (governed by the one door) and the result parameters.
    /// </summary>
    private static readonly HashSet<string> Searchable = new(StringComparer.Ordinal)
    {
        "link", "patient", "practitioner", "relatedperson", "organization",
        "_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_list", "_has",
        "_count", "_total", "_summary", "_elements", "_include", "_revinclude", "_cursor", "_before", "_format", "_pretty", "_type",
    };

    /// <summary>What a restricted caller may sort Person by: not the demographics, whose order would rank hidden values.</summary>
    private static readonly HashSet<string> Sortable = new(StringComparer.Ordinal) { "_id", "_lastUpdated" };

    public bool Shapes(string type) => type == "Person";

    public async Task<string?> ShowAsync(ReadScope scope, StoredResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(resource);
        var person = (Person)StoredJson.Parse(resource.Json!);
        var members = PersonLinker.Members(person).Distinct(StringComparer.Ordinal).ToList();
        var visible = await scope.VisibleAsync("Patient", members, cancellationToken);
        if (visible.Count == members.Count)
        {
            return resource.Json;
        }

        person.Link.RemoveAll(l => l.Target?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) && !visible.Contains(r["Patient/".Length..]));
        if (!MpiCodes.IsManaged(person))
        {
            // A Person a client wrote keeps the content its writer gave it; only the links say who else is this person.
            return FhirSerialization.ToJson(person);
        }

        if (person.Link.Count == 0)
        {
            // No source of this version may be seen: it is not shown at all.
            return null;
        }

        foreach (var link in person.Link)
        {
            link.RemoveExtension(MpiCodes.LinkScore);
            link.RemoveExtension(MpiCodes.LinkRule);
        }

        var read = (await scope.Lookups.ReadManyAsync("Patient", [.. visible], cancellationToken))
            .Where(s => s.Json is not null)
            .ToDictionary(s => s.Id, s => (Patient)StoredJson.Parse(s.Json!), StringComparer.Ordinal);
        PersonLinker.SetGoldenRecord(person, PersonLinker.Members(person).Where(read.ContainsKey).Select(id => read[id]).ToList());
        return FhirSerialization.ToJson(person);
    }

    public async Task<IReadOnlyList<QueryClause>> SearchClausesAsync(ReadScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(parameters);
        // A caller who may read every Patient sees every link and the golden record as stored: nothing to restrict.
        if (await scope.VisibleClauseAsync("Patient", cancellationToken) is not { } visible)
        {
            return [];
        }

        var clauses = new List<QueryClause>();
        foreach (var parameter in parameters)
        {
            var name = BaseName(parameter.Key);
            if (name == "_sort" && parameter.Value.Split(',').All(k => Sortable.Contains(k.Trim().TrimStart('-'))))
            {
                continue;
            }

            if (!Searchable.Contains(name))
            {
                throw FhirException.BadRequest(
                    $"Searching Person by '{parameter.Key}' is not available to you: a Person's demographics may come from records the access policy hides from you. " +
                    "Search Person by link=Patient/[id] of a Patient you may see, or search Patient.", parameter.Key);
            }

            if (name is not ("link" or "patient") || parameter.Key.Contains('.', StringComparison.Ordinal))
            {
                continue;
            }

            // link=Patient/x finds a Person only when Patient/x may be seen, so a hidden Patient answers as an unknown one.
            var parsed = SearchRequest.Parse(["Person"], [parameter], strict: true, scope.Context.BaseUrl, TimeProvider.System);
            foreach (var reference in parsed.Clauses.OfType<ReferenceClause>())
            {
                var ids = reference.AnyOf.Where(m => m.TargetId is not null && m.TargetType is null or "Patient").Select(m => m.TargetId!).Distinct(StringComparer.Ordinal).ToList();
                if (ids.Count > 0)
                {
                    clauses.Add(new ChainClause(reference.Param, ["Patient"], new AllClause([new IdClause(ids), visible])));
                }
            }
        }

        return clauses;
    }

    /// <summary>A parameter's name without its modifier or chain: <c>link:Patient.name</c> is <c>link</c>.</summary>
    private static string BaseName(string raw)
    {
        var end = raw.IndexOfAny([':', '.']);
        return end < 0 ? raw : raw[..end];
    }
}
