using System.Text.Json;
using System.Text.Json.Serialization;
using CareHub.Fhir;

namespace CareHub.Governance;

/// <summary>
/// The access policy file (docs/governance.md): data categories, what each job role may do with each category, which
/// sensitivity labels each role may see, its consent model and whether it may break glass. The default is embedded
/// (Governance/default-policy.json); <c>CareHub:Governance:PolicyFile</c> replaces it with a file of the same shape.
/// </summary>
public sealed record PolicyDocument
{
    /// <summary>How long after an Encounter or EpisodeOfCare ends it still makes a legitimate relationship.</summary>
    public int RelationshipDays { get; init; } = 90;

    /// <summary>Whether break-glass may see past a patient's opt-out (the default: no).</summary>
    public bool BreakGlassOverridesOptOut { get; init; }

    /// <summary>
    /// Whether a GP practice and its branches are one organisation for legitimate relationships (the default: no): a
    /// user of the practice, or of any of its branches, has the relationships of all of them. A practice is an
    /// Organization typed with the ODS role RO76 GP PRACTICE; its branches are the Organizations whose partOf is the
    /// practice.
    /// </summary>
    public bool BranchesAsOne { get; init; }

    /// <summary>Security labels (system|code) that hide a record from any role not listed as seeing them.</summary>
    public List<string> SensitiveLabels { get; init; } = [];

    /// <summary>Data categories, most specific first: a resource belongs to the first category one of whose matches it meets.</summary>
    public List<DataCategory> Categories { get; init; } = [];

    public List<RolePolicy> Roles { get; init; } = [];

    /// <summary>What a citizen may do within their own record.</summary>
    public RolePolicy Citizen { get; init; } = new() { Code = "citizen", Display = "Citizen" };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>The policy CareHub ships with.</summary>
    public static PolicyDocument Default { get; } = LoadDefault();

    private static PolicyDocument LoadDefault()
    {
        using var stream = typeof(PolicyDocument).Assembly.GetManifestResourceStream("CareHub.Governance.default-policy.json")
            ?? throw new InvalidOperationException("The default access policy is not embedded in the CareHub assembly.");
        return Parse(stream, "the embedded default policy");
    }

    /// <summary>Reads a policy file; a file that does not describe a usable policy is refused with a message saying what to fix.</summary>
    public static PolicyDocument Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(stream, path);
    }

    public static PolicyDocument Parse(Stream stream, string source)
    {
        PolicyDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<PolicyDocument>(stream, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"The access policy {source} is not valid JSON: {e.Message}", e);
        }

        if (document is null)
        {
            throw new InvalidOperationException($"The access policy {source} is empty.");
        }

        document.Check(source);
        return document;
    }

    private void Check(string source)
    {
        var categories = Categories.Select(c => c.Code).ToHashSet(StringComparer.Ordinal);
        if (Categories.Count == 0 || categories.Count != Categories.Count)
        {
            throw new InvalidOperationException($"The access policy {source} must list categories, each with its own code.");
        }

        foreach (var category in Categories)
        {
            foreach (var match in category.Match)
            {
                if (match.Type != "*" && !FhirIds.IsResourceType(match.Type))
                {
                    throw new InvalidOperationException($"The access policy {source}: category '{category.Code}' names '{match.Type}', which is not a FHIR R4 resource type.");
                }

                if (match.Param is not null && (match.Codes.Count == 0 || match.Codes.Any(c => !c.Contains('|', StringComparison.Ordinal))))
                {
                    throw new InvalidOperationException($"The access policy {source}: category '{category.Code}' matches {match.Type}.{match.Param} but its codes are not all system|code.");
                }
            }
        }

        foreach (var role in Roles.Append(Citizen))
        {
            foreach (var (category, letters) in role.Access)
            {
                if (!categories.Contains(category))
                {
                    throw new InvalidOperationException($"The access policy {source}: role '{role.Code}' names category '{category}', which the policy does not define.");
                }

                if (letters.Any(l => "cruds".IndexOf(l, StringComparison.Ordinal) < 0))
                {
                    throw new InvalidOperationException($"The access policy {source}: role '{role.Code}' gives '{letters}' on '{category}'; use the letters c r u d s.");
                }
            }

            if (role.Consent is not ("implied" or "explicit"))
            {
                throw new InvalidOperationException($"The access policy {source}: role '{role.Code}' has consent model '{role.Consent}'; use implied or explicit.");
            }
        }
    }

    /// <summary>The role a token's role code names (its code or one of its aliases), or null.</summary>
    public RolePolicy? Role(string? code) =>
        code is null ? null : Roles.FirstOrDefault(r => r.Code == code || r.Aliases.Contains(code, StringComparer.Ordinal));
}

/// <summary>A data category and the resources in it: by type, optionally narrowed by a token parameter's codes.</summary>
public sealed record DataCategory
{
    public string Code { get; init; } = "";

    /// <summary>Whether records in the category are about a patient, so relationships and consent govern them.</summary>
    public bool PatientData { get; init; } = true;

    public List<CategoryMatch> Match { get; init; } = [];
}

/// <summary>Resources of <see cref="Type"/> ("*": any type), and when <see cref="Param"/> is set only those with one of <see cref="Codes"/> in it.</summary>
public sealed record CategoryMatch
{
    public string Type { get; init; } = "*";

    public string? Param { get; init; }

    public List<string> Codes { get; init; } = [];
}

/// <summary>What a job role may do: per category, the SMART-style letters c r u d s.</summary>
public sealed record RolePolicy
{
    public string Code { get; init; } = "";

    public string Display { get; init; } = "";

    /// <summary>Other codes for the same role, e.g. national RBAC job role codes.</summary>
    public List<string> Aliases { get; init; } = [];

    /// <summary>implied: a legitimate relationship is enough; explicit: the patient's recorded permission is needed too.</summary>
    public string Consent { get; init; } = "implied";

    public bool BreakGlass { get; init; }

    /// <summary>The sensitivity labels (system|code) this role may see.</summary>
    public List<string> SensitiveLabels { get; init; } = [];

    public Dictionary<string, string> Access { get; init; } = [];

    [JsonIgnore]
    public bool ExplicitConsent => Consent == "explicit";

    /// <summary>Whether the role may do <paramref name="interaction"/> on records of the category.</summary>
    public bool Allows(string category, FhirInteraction interaction) =>
        Access.TryGetValue(category, out var letters) && letters.Contains(SmartScope.Letter(interaction), StringComparison.Ordinal);
}
