using System.Collections;

namespace CareHub.Governance;

/// <summary>The RESTful interactions a SMART scope can grant (SMART App Launch v2, "cruds").</summary>
public enum FhirInteraction
{
    Create,
    Read,
    Update,
    Delete,
    Search,
}

/// <summary>Whose data a SMART resource scope is about: the scope's prefix before the slash.</summary>
public enum ScopeContext
{
    /// <summary><c>system/</c>: a backend service acting for itself, under an agreement, without a user.</summary>
    System,

    /// <summary><c>user/</c>: whatever the signed-in user may see.</summary>
    User,

    /// <summary><c>patient/</c>: the data of the one patient in context only.</summary>
    Patient,
}

/// <summary>
/// One OAuth scope. Resource scopes follow SMART App Launch 2.x "Scopes and Launch Context":
/// <c>context/ResourceType.permissions[?query]</c> where permissions are the v2 letters <c>c r u d s</c>
/// (each at most once, in that order) or the v1 words <c>read</c> (= <c>rs</c>), <c>write</c> (= <c>cud</c>)
/// and <c>*</c> (= <c>cruds</c>), per the spec's v1/v2 scope equivalence table. Anything else (openid,
/// fhirUser, launch, offline_access, or a resource scope that does not follow the grammar) is kept as
/// written and grants nothing.
/// </summary>
public sealed record SmartScope
{
    private const string AllLetters = "cruds";

    private SmartScope(string value, ScopeContext? context, string? resourceType, string permissions, string? query)
    {
        Value = value;
        Context = context;
        ResourceType = resourceType;
        Permissions = permissions;
        Query = query;
    }

    /// <summary>The scope exactly as written.</summary>
    public string Value { get; }

    /// <summary>The context of a resource scope; null for a scope that grants no resource access.</summary>
    public ScopeContext? Context { get; }

    /// <summary>The resource type of a resource scope, or <c>*</c> for all types; null otherwise.</summary>
    public string? ResourceType { get; }

    /// <summary>The granted interactions as v2 letters in canonical order (<c>read</c> becomes <c>rs</c>); empty when none.</summary>
    public string Permissions { get; }

    /// <summary>
    /// A v2 query restriction such as <c>category=laboratory</c>, kept as written. It is not enforced yet:
    /// <see cref="Allows"/> treats the scope as if unrestricted, so callers that must honour it have to
    /// check <see cref="Query"/> themselves.
    /// </summary>
    public string? Query { get; }

    /// <summary>True when the scope grants access to FHIR resources.</summary>
    public bool IsResourceScope => Context is not null;

    /// <summary>Parses one scope. Never fails: a scope that is not a well-formed resource scope grants nothing.</summary>
    public static SmartScope Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        return TryParseResourceScope(value) ?? new SmartScope(value, null, null, "", null);
    }

    /// <summary>True when this scope grants <paramref name="interaction"/> on <paramref name="resourceType"/> in <paramref name="context"/>.</summary>
    public bool Allows(ScopeContext context, string resourceType, FhirInteraction interaction) =>
        Context == context && AllowsInAnyContext(resourceType, interaction);

    /// <summary>True when this scope grants <paramref name="interaction"/> on <paramref name="resourceType"/>, whatever its context.</summary>
    public bool AllowsInAnyContext(string resourceType, FhirInteraction interaction) =>
        IsResourceScope
        && (ResourceType == "*" || string.Equals(ResourceType, resourceType, StringComparison.Ordinal))
        && Permissions.Contains(Letter(interaction), StringComparison.Ordinal);

    /// <summary>
    /// True when everything this scope grants is also granted by <paramref name="broader"/>: the same scope,
    /// or a resource scope of the same context over the same or all types with at least these permissions and
    /// no narrower query. Used to decide whether a client may ask for a narrower scope than it was given.
    /// </summary>
    public bool IsCoveredBy(SmartScope broader)
    {
        ArgumentNullException.ThrowIfNull(broader);
        if (string.Equals(Value, broader.Value, StringComparison.Ordinal))
        {
            return true;
        }

        if (!IsResourceScope || !broader.IsResourceScope || Context != broader.Context)
        {
            return false;
        }

        var typeCovered = broader.ResourceType == "*" || string.Equals(broader.ResourceType, ResourceType, StringComparison.Ordinal);
        var queryCovered = broader.Query is null || string.Equals(broader.Query, Query, StringComparison.Ordinal);
        return typeCovered && queryCovered && Permissions.All(p => broader.Permissions.Contains(p, StringComparison.Ordinal));
    }

    public override string ToString() => Value;

    /// <summary>The SMART v2 permission letter of an interaction (c r u d s), as scopes and the access policy file write it.</summary>
    internal static char Letter(FhirInteraction interaction) => interaction switch
    {
        FhirInteraction.Create => 'c',
        FhirInteraction.Read => 'r',
        FhirInteraction.Update => 'u',
        FhirInteraction.Delete => 'd',
        FhirInteraction.Search => 's',
        _ => throw new ArgumentOutOfRangeException(nameof(interaction), interaction, "Unknown FHIR interaction."),
    };

    private static SmartScope? TryParseResourceScope(string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return null;
        }

        // Scope tokens are case-sensitive (RFC 6749 section 3.3), so "User/Patient.read" is not a resource scope.
        ScopeContext? context = value[..slash] switch
        {
            "system" => ScopeContext.System,
            "user" => ScopeContext.User,
            "patient" => ScopeContext.Patient,
            _ => null,
        };
        if (context is null)
        {
            return null;
        }

        var rest = value[(slash + 1)..];
        string? query = null;
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
            if (query.Length == 0)
            {
                return null;
            }
        }

        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return null;
        }

        var resourceType = rest[..dot];
        if (resourceType != "*" && !IsResourceTypeName(resourceType))
        {
            return null;
        }

        var permissions = rest[(dot + 1)..] switch
        {
            "read" => "rs",
            "write" => "cud",
            "*" => AllLetters,
            var letters => CanonicalLetters(letters),
        };
        if (permissions is null)
        {
            return null;
        }

        // The v1 forms predate query restrictions; "patient/Observation.read?x=y" follows neither grammar.
        if (query is not null && !IsV2Letters(rest[(dot + 1)..]))
        {
            return null;
        }

        return new SmartScope(value, context, resourceType, permissions, query);
    }

    private static bool IsV2Letters(string letters) => CanonicalLetters(letters) is not null;

    /// <summary>The v2 letters if they are a non-empty subsequence of "cruds" (order fixed by the spec), else null.</summary>
    private static string? CanonicalLetters(string letters)
    {
        if (letters.Length == 0)
        {
            return null;
        }

        var position = 0;
        foreach (var letter in letters)
        {
            var index = AllLetters.IndexOf(letter, position);
            if (index < 0)
            {
                return null;
            }

            position = index + 1;
        }

        return letters;
    }

    private static bool IsResourceTypeName(string name) =>
        char.IsAsciiLetterUpper(name[0]) && name.All(char.IsAsciiLetter);
}

/// <summary>
/// The scopes granted to a caller, parsed once. Duplicates are removed; the original order is kept so
/// <see cref="ToString"/> gives back a scope string fit for a token response.
/// </summary>
public sealed class ScopeSet : IReadOnlyList<SmartScope>, IEquatable<ScopeSet>
{
    private readonly SmartScope[] scopes;

    private ScopeSet(SmartScope[] scopes) => this.scopes = scopes;

    public static ScopeSet Empty { get; } = new([]);

    public int Count => this.scopes.Length;

    public SmartScope this[int index] => this.scopes[index];

    /// <summary>Parses a space-separated scope string (RFC 6749 section 3.3); null or blank gives the empty set.</summary>
    public static ScopeSet Parse(string? scopes) =>
        string.IsNullOrWhiteSpace(scopes)
            ? Empty
            : From(scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Builds a set from individual scope tokens (e.g. a JSON array <c>scp</c> claim).</summary>
    public static ScopeSet From(IEnumerable<string> scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var parsed = new List<SmartScope>();
        foreach (var scope in scopes)
        {
            if (!string.IsNullOrWhiteSpace(scope) && seen.Add(scope))
            {
                parsed.Add(SmartScope.Parse(scope));
            }
        }

        return parsed.Count == 0 ? Empty : new ScopeSet([.. parsed]);
    }

    /// <summary>True when the exact scope token was granted (e.g. <c>openid</c>).</summary>
    public bool Contains(string scope) => this.scopes.Any(s => string.Equals(s.Value, scope, StringComparison.Ordinal));

    /// <summary>True when any scope of the given context grants the interaction on the resource type.</summary>
    public bool Allows(ScopeContext context, string resourceType, FhirInteraction interaction) =>
        this.scopes.Any(s => s.Allows(context, resourceType, interaction));

    /// <summary>
    /// True when any resource scope, whatever its context, grants the interaction on the resource type.
    /// A caller's kind should normally restrict the context: use <see cref="Principal.Allows"/>.
    /// </summary>
    public bool Allows(string resourceType, FhirInteraction interaction) =>
        this.scopes.Any(s => s.AllowsInAnyContext(resourceType, interaction));

    /// <summary>True when the scope is granted by at least one scope of this set (see <see cref="SmartScope.IsCoveredBy"/>).</summary>
    public bool Covers(SmartScope scope) => this.scopes.Any(scope.IsCoveredBy);

    public IEnumerator<SmartScope> GetEnumerator() => ((IEnumerable<SmartScope>)this.scopes).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Two sets are equal when they hold the same scope tokens, in any order.</summary>
    public bool Equals(ScopeSet? other) =>
        other is not null
        && other.Count == Count
        && this.scopes.All(s => other.Contains(s.Value));

    public override bool Equals(object? obj) => Equals(obj as ScopeSet);

    public override int GetHashCode()
    {
        var hash = 0;
        foreach (var scope in this.scopes)
        {
            hash ^= StringComparer.Ordinal.GetHashCode(scope.Value);
        }

        return hash;
    }

    /// <summary>The scopes space-separated, as in a token response's <c>scope</c> field.</summary>
    public override string ToString() => string.Join(' ', this.scopes.Select(s => s.Value));
}
