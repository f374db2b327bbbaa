using System.Globalization;
using System.Text;

namespace CareHub.Terminology.Snomed;

/// <summary>
/// Writes a small synthetic SNOMED CT release in RF2 Snapshot layout, for tests, the demo and the bench. SNOMED CT
/// content is licensed, so nothing here is copied from a release: real concept ids appear only as identifiers, with a
/// handful of common terms, so that codes a user knows (73211009 diabetes mellitus) behave as they would with the real
/// edition. The fixed part is a hierarchy the tests reason about (<see cref="Concepts"/>); <see cref="Write"/> can add
/// generated filler concepts with is-a and attribute relationships to scale the release for the bench.
/// <see cref="WriteExtension"/> writes a separate UK-style extension (its own module and a GB English language refset)
/// that loads over it.
/// </summary>
public static class SyntheticRelease
{
    /// <summary>The effective time of every row of the edition.</summary>
    public const string EffectiveTime = "20250101";

    /// <summary>The effective time of the extension's rows (later, so they win where they overlap).</summary>
    public const string ExtensionEffectiveTime = "20250401";

    /// <summary>The synthetic extension's module (the UK clinical extension's module id, as an identifier only).</summary>
    public const long UkModule = 999000011000000103;

    /// <summary>A simple refset of the synthetic edition: the diabetes codes a register counts.</summary>
    public const long DiabetesRefset = 991000000000100;

    /// <summary>The ICD-10 extended map refset (its real id, as an identifier only).</summary>
    public const long Icd10MapRefset = 447562003;

    /// <summary>A simple map refset to a synthetic Read v2 style scheme.</summary>
    public const long ReadMapRefset = 992000000000100;

    /// <summary>A concept the extension adds under diabetes mellitus.</summary>
    public const long ExtensionConcept = 993000011000000105;

    /// <summary>An inactive concept (retired, with no relationships).</summary>
    public const long InactiveConcept = 190330002;

    private const long FindingSite = 363698007;
    private const long AssociatedMorphology = 116676008;
    private const long Defined = 900000000000073002;
    private const long Inferred = 900000000000011006;
    private const long Existential = 900000000000451002;
    private const long CaseInsensitive = 900000000000448009;
    private const long FillerBase = 9_100_000_000;

    /// <summary>The fixed concepts: id, parents, fully specified name, preferred term, an acceptable synonym (or null).</summary>
    public static readonly IReadOnlyList<(long Id, long[] Parents, string Fsn, string Preferred, string? Acceptable)> Concepts =
    [
        (Snomed.Root, [], "SNOMED CT Concept (SNOMED RT+CTV3)", "SNOMED CT Concept", null),
        (404684003, [Snomed.Root], "Clinical finding (finding)", "Clinical finding", null),
        (64572001, [404684003], "Disease (disorder)", "Disease", null),
        (362969004, [64572001], "Disorder of endocrine system (disorder)", "Disorder of endocrine system", null),
        (73211009, [362969004], "Diabetes mellitus (disorder)", "Diabetes mellitus", "DM - Diabetes mellitus"),
        (46635009, [73211009], "Type 1 diabetes mellitus (disorder)", "Type 1 diabetes mellitus", "Insulin dependent diabetes mellitus"),
        (44054006, [73211009], "Type 2 diabetes mellitus (disorder)", "Type 2 diabetes mellitus", "Non-insulin dependent diabetes mellitus"),
        (313436004, [44054006], "Type 2 diabetes mellitus without complication (disorder)", "Type 2 diabetes mellitus without complication", null),
        (11687002, [73211009], "Gestational diabetes mellitus (disorder)", "Gestational diabetes mellitus", null),
        (49601007, [64572001], "Disorder of cardiovascular system (disorder)", "Disorder of cardiovascular system", null),
        (38341003, [49601007], "Hypertensive disorder (disorder)", "Hypertension", "High blood pressure"),
        (22298006, [49601007], "Myocardial infarction (disorder)", "Myocardial infarction", "Heart attack"),
        (195967001, [64572001], "Asthma (disorder)", "Asthma", null),
        (123037004, [Snomed.Root], "Body structure (body structure)", "Body structure", null),
        (113331007, [123037004], "Structure of endocrine system (body structure)", "Endocrine system structure", null),
        (80891009, [123037004], "Heart structure (body structure)", "Heart structure", null),
        (71388002, [Snomed.Root], "Procedure (procedure)", "Procedure", null),
        (410662002, [Snomed.Root], "Concept model attribute (attribute)", "Concept model attribute", null),
        (Snomed.IsA, [410662002], "Is a (attribute)", "Is a", null),
        (FindingSite, [410662002], "Finding site (attribute)", "Finding site", null),
        (AssociatedMorphology, [410662002], "Associated morphology (attribute)", "Associated morphology", null),
        (900000000000441003, [Snomed.Root], "SNOMED CT Model Component (metadata)", "SNOMED CT Model Component", null),
        (DiabetesRefset, [900000000000441003], "Diabetes register simple reference set (foundation metadata concept)", "Diabetes register reference set", null),
        (Icd10MapRefset, [900000000000441003], "ICD-10 complex map reference set (foundation metadata concept)", "ICD-10 map reference set", null),
        (ReadMapRefset, [900000000000441003], "Read version 2 simple map reference set (foundation metadata concept)", "Read v2 map reference set", null),
    ];

    /// <summary>The attribute relationships of the fixed part: source, type, destination.</summary>
    public static readonly IReadOnlyList<(long Source, long Type, long Destination)> Attributes =
    [
        (73211009, FindingSite, 113331007),
        (46635009, FindingSite, 113331007),
        (44054006, FindingSite, 113331007),
        (313436004, FindingSite, 113331007),
        (11687002, FindingSite, 113331007),
        (22298006, FindingSite, 80891009),
    ];

    /// <summary>Diabetes codes to ICD-10 (extended map) and to a Read v2 style scheme (simple map).</summary>
    public static readonly IReadOnlyList<(long Concept, string Icd10, string Read)> Maps =
    [
        (73211009, "E14.9", "C10.."),
        (46635009, "E10.9", "C10E."),
        (44054006, "E11.9", "C10F."),
        (22298006, "I21.9", "G30.."),
    ];

    /// <summary>
    /// Writes the edition to <paramref name="folder"/> (created); with <paramref name="concepts"/> above the fixed part,
    /// generated concepts fill it up to that many, with about 4.3 relationships each and, under diabetes mellitus, 100 more
    /// sub-concepts (so <c>&lt;&lt;73211009</c> has about a hundred members at any scale).
    /// </summary>
    public static void Write(string folder, int concepts = 0, int seed = 21)
    {
        var release = new Writer(folder, "INT", EffectiveTime, Snomed.CoreModule);
        var usPreferred = new List<long>();
        var usAcceptable = new List<long>();
        foreach (var (id, parents, fsn, preferred, acceptable) in Concepts)
        {
            release.Concept(id, active: true);
            release.Description(id, fsn, Snomed.FullySpecifiedName, usPreferred);
            release.Description(id, preferred, Snomed.Synonym, usPreferred);
            if (acceptable is not null)
            {
                release.Description(id, acceptable, Snomed.Synonym, usAcceptable);
            }

            foreach (var parent in parents)
            {
                release.Relationship(id, parent, Snomed.IsA, 0);
            }
        }

        release.Concept(InactiveConcept, active: false);
        release.Description(InactiveConcept, "Diabetes mellitus, retired synthetic code (disorder)", Snomed.FullySpecifiedName, usPreferred);
        foreach (var (source, type, destination) in Attributes)
        {
            release.Relationship(source, destination, type, 1);
        }

        if (concepts > Concepts.Count)
        {
            Fill(release, concepts - Concepts.Count - 1, new Random(seed), usPreferred, usAcceptable);
        }

        foreach (var id in usPreferred)
        {
            release.Language(Snomed.UsLanguage, id, Snomed.Preferred);
        }

        foreach (var id in usAcceptable)
        {
            release.Language(Snomed.UsLanguage, id, Snomed.Acceptable);
        }

        foreach (var id in new long[] { 73211009, 46635009, 44054006, 313436004 })
        {
            release.Member("Simple", DiabetesRefset, id, string.Empty);
        }

        foreach (var (concept, icd10, read) in Maps)
        {
            release.Member("ExtendedMap", Icd10MapRefset, concept, $"1\t1\tTRUE\tALWAYS {icd10}\t{icd10}\t447561005\t447637006");
            release.Member("SimpleMap", ReadMapRefset, concept, read);
        }

        release.Close();
    }

    /// <summary>
    /// Writes a UK-style extension to <paramref name="folder"/>: a concept of its own module under diabetes mellitus, and a
    /// GB English language refset that prefers "Heart attack" for 22298006 (so its preferred term changes when loaded).
    /// </summary>
    public static void WriteExtension(string folder)
    {
        var release = new Writer(folder, "GB1000000", ExtensionEffectiveTime, UkModule);
        var gbPreferred = new List<long>();
        release.Concept(ExtensionConcept, active: true);
        release.Description(ExtensionConcept, "Diabetes mellitus in remission (disorder)", Snomed.FullySpecifiedName, gbPreferred);
        release.Description(ExtensionConcept, "Diabetes in remission", Snomed.Synonym, gbPreferred);
        release.Relationship(ExtensionConcept, 73211009, Snomed.IsA, 0);
        // The International edition's "Heart attack" synonym of 22298006 is the third description written for it.
        var heartAttack = DescriptionIdOf(22298006, 2);
        foreach (var id in gbPreferred.Append(heartAttack))
        {
            release.Language(Snomed.GbLanguage, id, Snomed.Preferred);
        }

        release.Close();
    }

    /// <summary>The id the writer gives the <paramref name="index"/>th description of a fixed concept.</summary>
    private static long DescriptionIdOf(long concept, int index)
    {
        var position = 0;
        foreach (var (id, _, _, _, acceptable) in Concepts)
        {
            if (id == concept)
            {
                return Writer.DescriptionBase + position + index;
            }

            position += acceptable is null ? 2 : 3;
        }

        throw new ArgumentException($"{concept} is not a fixed concept.", nameof(concept));
    }

    /// <summary>Generated concepts under four top-level branches, each a tree about eight levels deep, some with a second parent.</summary>
    private static void Fill(Writer release, int count, Random random, List<long> preferred, List<long> acceptable)
    {
        (long Root, string Kind)[] branches = [(404684003, "finding"), (71388002, "procedure"), (123037004, "body structure"), (64572001, "disorder")];
        var members = branches.Select(b => new List<long> { b.Root }).ToArray();
        var diabetes = new List<long> { 73211009, 46635009, 44054006 };
        for (var i = 0; i < count; i++)
        {
            var id = FillerBase + i;
            var underDiabetes = i < 100;
            var branch = underDiabetes ? 3 : i % branches.Length;
            var list = underDiabetes ? diabetes : members[branch];
            var parent = list[(list.Count - 1) / 4];
            release.Concept(id, active: true);
            var kind = underDiabetes ? "diabetes variant" : branches[branch].Kind;
            release.Description(id, $"Synthetic {kind} {i} ({(branch == 2 ? "body structure" : branch == 1 ? "procedure" : "disorder")})", Snomed.FullySpecifiedName, preferred);
            release.Description(id, $"Synthetic {kind} {i}", Snomed.Synonym, preferred);
            if (random.Next(3) == 0)
            {
                release.Description(id, $"Generated {kind} {i}", Snomed.Synonym, acceptable);
            }

            release.Relationship(id, parent, Snomed.IsA, 0);
            if (list.Count > 8 && random.Next(10) == 0)
            {
                var other = list[random.Next(list.Count / 2)];
                if (other != parent)
                {
                    release.Relationship(id, other, Snomed.IsA, 0);
                }
            }

            var structures = members[2];
            var attributes = random.Next(10) < 3 ? 4 : 3;
            for (var a = 0; a < attributes; a++)
            {
                release.Relationship(id, structures[random.Next(structures.Count)], a % 2 == 0 ? FindingSite : AssociatedMorphology, 1 + (a / 2));
            }

            list.Add(id);
        }
    }

    /// <summary>Writes the RF2 files of one release, ids numbered from bases per component type.</summary>
    private sealed class Writer
    {
        public const long DescriptionBase = 9_300_000_000;
        private const long RelationshipBase = 9_200_000_000;

        private readonly string time;
        private readonly long module;
        private readonly Dictionary<string, StreamWriter> files = [];
        private readonly string folder;
        private readonly string tag;
        private long descriptions;
        private long relationships;
        private long members;

        public Writer(string folder, string tag, string time, long module)
        {
            this.folder = folder;
            this.tag = tag;
            this.time = time;
            this.module = module;
            if (module != Snomed.CoreModule)
            {
                // The extension's own id ranges, so its components never collide with the edition's.
                descriptions = 50_000_000;
                relationships = 50_000_000;
            }
        }

        private StreamWriter File(string kind, string header)
        {
            if (!files.TryGetValue(kind, out var writer))
            {
                var (directory, name) = kind switch
                {
                    "Concept" or "Description" or "Relationship" => ("Terminology", $"sct2_{kind}_Snapshot_{tag}_{time}.txt"),
                    "Language" => ("Refset/Language", $"der2_cRefset_LanguageSnapshot-en_{tag}_{time}.txt"),
                    "Simple" => ("Refset/Content", $"der2_Refset_SimpleSnapshot_{tag}_{time}.txt"),
                    "SimpleMap" => ("Refset/Map", $"der2_sRefset_SimpleMapSnapshot_{tag}_{time}.txt"),
                    _ => ("Refset/Map", $"der2_iisssciRefset_ExtendedMapSnapshot_{tag}_{time}.txt"),
                };
                var path = Path.Combine(folder, "Snapshot", directory, name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\r\n" };
                writer.WriteLine(header);

                files[kind] = writer;
            }

            return writer;
        }

        public void Concept(long id, bool active) => File("Concept", "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId")
            .WriteLine(Row(id, time, active ? 1 : 0, module, id == 73211009 ? Defined : Snomed.Primitive));

        public void Description(long concept, string term, long type, List<long> acceptability)
        {
            var id = DescriptionBase + descriptions++;
            File("Description", "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId")
                .WriteLine(Row(id, time, 1, module, concept, "en", type, term, CaseInsensitive));
            acceptability.Add(id);
        }

        public void Relationship(long source, long destination, long type, int group) =>
            File("Relationship", "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId")
                .WriteLine(Row(RelationshipBase + relationships++, time, 1, module, source, destination, group, type, Inferred, Existential));

        public void Language(long refset, long description, long acceptability) =>
            Member("Language", refset, description, acceptability.ToString(CultureInfo.InvariantCulture));

        public void Member(string kind, long refset, long component, string extra)
        {
            var columns = kind switch
            {
                "Language" => "\tacceptabilityId",
                "SimpleMap" => "\tmapTarget",
                "ExtendedMap" => "\tmapGroup\tmapPriority\tmapRule\tmapAdvice\tmapTarget\tcorrelationId\tmapCategoryId",
                _ => string.Empty,
            };
            var id = new Guid((int)(module % int.MaxValue), 0, 0, BitConverter.GetBytes(members++)).ToString("D");
            var row = Row(id, time, 1, module, refset, component);
            File(kind, "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId" + columns).WriteLine(extra.Length == 0 ? row : row + "\t" + extra);
        }

        private static string Row(params object[] fields) => string.Join('\t', fields.Select(f => Convert.ToString(f, CultureInfo.InvariantCulture)));

        public void Close()
        {
            foreach (var writer in files.Values)
            {
                writer.Dispose();
            }
        }
    }
}
