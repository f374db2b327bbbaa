namespace CareHub.Terminology.Snomed;

/// <summary>
/// The Snapshot files of an RF2 release folder that CareHub loads, found by their names (Release File Specification,
/// 3.3.2: <c>sct2_Concept_Snapshot_INT_20250101.txt</c>, <c>der2_cRefset_LanguageSnapshot-en_GB1000000_...</c>), each
/// with the header its type defines and how its rows become the store's rows. Full and Delta files, stated
/// relationships, concrete values and refset types CareHub does not use are passed over and listed.
/// </summary>
public sealed class Rf2Release
{
    private Rf2Release(string folder, IReadOnlyList<Rf2File> files, IReadOnlyList<string> skipped)
    {
        Folder = folder;
        Files = files;
        Skipped = skipped;
    }

    public string Folder { get; }

    /// <summary>The files to load, concepts first, then descriptions, relationships and refsets.</summary>
    public IReadOnlyList<Rf2File> Files { get; }

    /// <summary>The Snapshot files found and not loaded (file names).</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>Finds the Snapshot files under <paramref name="folder"/> (any depth); a folder without a concept file is refused.</summary>
    public static Rf2Release Find(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"'{folder}' is not a folder.");
        }

        var files = new List<Rf2File>();
        var skipped = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (!name.Contains("Snapshot", StringComparison.Ordinal))
            {
                continue;
            }

            var kind = KindOf(name);
            if (kind is null)
            {
                skipped.Add(name);
            }
            else
            {
                files.Add(new Rf2File(path, kind.Value));
            }
        }

        if (!files.Any(f => f.Kind == Rf2Kind.Concept))
        {
            throw new Rf2FormatException(folder, 0, "no concept file (sct2_Concept_...Snapshot...txt) was found: give the folder of an RF2 release (its Snapshot folder or above).");
        }

        return new Rf2Release(folder, [.. files.OrderBy(f => f.Kind)], skipped);
    }

    private static Rf2Kind? KindOf(string name)
    {
        if (name.StartsWith("sct2_Concept_", StringComparison.Ordinal))
        {
            return Rf2Kind.Concept;
        }

        if (name.StartsWith("sct2_Description_", StringComparison.Ordinal) || name.StartsWith("sct2_TextDefinition_", StringComparison.Ordinal))
        {
            return Rf2Kind.Description;
        }

        if (name.StartsWith("sct2_Relationship_", StringComparison.Ordinal))
        {
            return Rf2Kind.Relationship;
        }

        if (!name.StartsWith("der2_", StringComparison.Ordinal))
        {
            return null;
        }

        return name switch
        {
            _ when name.Contains("Refset_Language", StringComparison.Ordinal) => Rf2Kind.Language,
            _ when name.StartsWith("der2_Refset_", StringComparison.Ordinal) && name.Contains("Simple", StringComparison.Ordinal) => Rf2Kind.Simple,
            _ when name.StartsWith("der2_sRefset_", StringComparison.Ordinal) && name.Contains("SimpleMap", StringComparison.Ordinal) => Rf2Kind.SimpleMap,
            _ when name.StartsWith("der2_iissscRefset_", StringComparison.Ordinal) => Rf2Kind.ComplexMap,
            _ when name.StartsWith("der2_iisssciRefset_", StringComparison.Ordinal) => Rf2Kind.ExtendedMap,
            _ => null,
        };
    }
}

/// <summary>The kinds of RF2 file CareHub loads, in the order they are loaded.</summary>
public enum Rf2Kind
{
    Concept,
    Description,
    Relationship,
    Simple,
    Language,
    SimpleMap,
    ComplexMap,
    ExtendedMap,
}

/// <summary>One file of a release, its kind, and the header that kind defines.</summary>
public sealed record Rf2File(string Path, Rf2Kind Kind)
{
    private static readonly string[] MemberColumns = ["id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId"];
    private static readonly string[] ComplexMapColumns = [.. MemberColumns, "mapGroup", "mapPriority", "mapRule", "mapAdvice", "mapTarget", "correlationId"];

    /// <summary>The columns of the kind, in order (Release File Specification, chapter 4 and 5).</summary>
    public IReadOnlyList<string> Header => Kind switch
    {
        Rf2Kind.Concept => ["id", "effectiveTime", "active", "moduleId", "definitionStatusId"],
        Rf2Kind.Description => ["id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term", "caseSignificanceId"],
        Rf2Kind.Relationship => ["id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup", "typeId", "characteristicTypeId", "modifierId"],
        Rf2Kind.Simple => MemberColumns,
        Rf2Kind.Language => [.. MemberColumns, "acceptabilityId"],
        Rf2Kind.SimpleMap => [.. MemberColumns, "mapTarget"],
        Rf2Kind.ComplexMap => ComplexMapColumns,
        _ => [.. ComplexMapColumns, "mapCategoryId"],
    };

    /// <summary>The store's table the kind loads into.</summary>
    public SnomedTable Table => Kind switch
    {
        Rf2Kind.Concept => SnomedTable.Concept,
        Rf2Kind.Description => SnomedTable.Description,
        Rf2Kind.Relationship => SnomedTable.Relationship,
        _ => SnomedTable.RefsetMember,
    };

    /// <summary>The rows of the file as the table's rows, checked field by field.</summary>
    public IEnumerable<object?[]> Rows()
    {
        var reader = new Rf2Reader(Path, Header);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in reader.Rows())
        {
            // A Snapshot holds each component once; a Full release would need the latest row of each picked first.
            if (!seen.Add(f[0]))
            {
                throw reader.Problem(reader.Line, $"the id {f[0]} appears on an earlier line too; a Snapshot file holds each component once (is this a Full release?).");
            }

            yield return Kind switch
            {
                Rf2Kind.Concept => [reader.Id(f, 0), reader.Time(f, 1), reader.Active(f, 2), reader.Id(f, 3), reader.Id(f, 4)],
                Rf2Kind.Description => [reader.Id(f, 0), reader.Time(f, 1), reader.Active(f, 2), reader.Id(f, 3), reader.Id(f, 4), reader.Text(f, 5), reader.Id(f, 6), reader.Text(f, 7), reader.Id(f, 8)],
                Rf2Kind.Relationship => [reader.Id(f, 0), reader.Time(f, 1), reader.Active(f, 2), reader.Id(f, 3), reader.Id(f, 4), reader.Id(f, 5), reader.Number(f, 6), reader.Id(f, 7), reader.Id(f, 8), reader.Id(f, 9)],
                Rf2Kind.Simple => Member(reader, f, null, null, null, null, null, null, null),
                Rf2Kind.Language => Member(reader, f, reader.Id(f, 6), null, null, null, null, null, null),
                Rf2Kind.SimpleMap => Member(reader, f, null, reader.Text(f, 6), null, null, null, null, null),
                _ => Member(reader, f, null, reader.Text(f, 10), reader.Number(f, 6), reader.Number(f, 7), f[8], f[9], reader.Id(f, 11)),
            };
        }
    }

    private static object?[] Member(Rf2Reader reader, string[] f, long? acceptability, string? target, int? group, int? priority, string? rule, string? advice, long? correlation) =>
        [reader.Uuid(f, 0), reader.Time(f, 1), reader.Active(f, 2), reader.Id(f, 3), reader.Id(f, 4), reader.Id(f, 5), acceptability, target, group, priority, rule, advice, correlation];
}
