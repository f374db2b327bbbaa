using Hl7.Fhir.Model;

namespace CareHub.Terminology;

/// <summary>
/// A CodeSystem stored in the record, indexed for the terminology operations: its concepts by code (nested ones too),
/// and its is-a hierarchy from nesting and the <c>parent</c>/<c>child</c> properties (R4 codesystem.html#hierarchy).
/// </summary>
public sealed class StoredCodeSystem
{
    private readonly Dictionary<string, CodeSystem.ConceptDefinitionComponent> concepts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<string>> parents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<string>> children = new(StringComparer.Ordinal);

    public StoredCodeSystem(CodeSystem resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        Resource = resource;
        Index(resource.Concept, null);
    }

    public CodeSystem Resource { get; }

    public string Url => Resource.Url ?? string.Empty;

    /// <summary>Every code, in the order the CodeSystem lists them (depth first).</summary>
    public List<string> Codes { get; } = [];

    public CodeSystem.ConceptDefinitionComponent? Find(string code) => concepts.GetValueOrDefault(code);

    public IReadOnlyCollection<string> ParentsOf(string code) => parents.TryGetValue(code, out var set) ? set : [];

    public IReadOnlyCollection<string> ChildrenOf(string code) => children.TryGetValue(code, out var set) ? set : [];

    /// <summary>The codes below <paramref name="code"/>, not the code itself.</summary>
    public HashSet<string> Below(string code)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([code]);
        while (queue.Count > 0)
        {
            foreach (var child in ChildrenOf(queue.Dequeue()))
            {
                if (found.Add(child))
                {
                    queue.Enqueue(child);
                }
            }
        }

        return found;
    }

    private void Index(IEnumerable<CodeSystem.ConceptDefinitionComponent> list, string? parent)
    {
        foreach (var concept in list)
        {
            if (string.IsNullOrEmpty(concept.Code))
            {
                continue;
            }

            if (concepts.TryAdd(concept.Code, concept))
            {
                Codes.Add(concept.Code);
            }

            if (parent is not null)
            {
                Link(parent, concept.Code);
            }

            foreach (var property in concept.Property)
            {
                var related = property.Value is Code code ? code.Value : property.Value?.ToString();
                if (related is null)
                {
                    continue;
                }

                if (property.Code == "parent")
                {
                    Link(related, concept.Code);
                }
                else if (property.Code == "child")
                {
                    Link(concept.Code, related);
                }
            }

            Index(concept.Concept, concept.Code);
        }
    }

    private void Link(string parent, string child)
    {
        Set(children, parent).Add(child);
        Set(parents, child).Add(parent);
    }

    private static SortedSet<string> Set(Dictionary<string, SortedSet<string>> map, string key) =>
        map.TryGetValue(key, out var set) ? set : map[key] = new SortedSet<string>(StringComparer.Ordinal);
}
