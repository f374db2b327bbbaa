using CareHub.Terminology.Snomed;

namespace CareHub.Tests.Terminology;

/// <summary>
/// The SNOMED CT store on either database: an RF2 release loads with its closure, an extension loads over it, and a
/// malformed release is refused with the file and line and leaves the store as it was.
/// </summary>
public abstract class SnomedStoreContract : IAsyncLifetime
{
    private SnomedStore? store;
    private readonly string work = Path.Combine(Path.GetTempPath(), "carehub-sct-" + Guid.NewGuid().ToString("N"));

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected SnomedStore Store => store ?? throw new InvalidOperationException("The store is created before each test.");

    protected abstract ValueTask<SnomedStore> CreateStoreAsync();

    protected abstract ValueTask DropAsync();

    public async ValueTask InitializeAsync()
    {
        store = await CreateStoreAsync();
        await store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (store is not null)
        {
            await store.DisposeAsync();
        }

        await DropAsync();
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    private string Edition()
    {
        var folder = Path.Combine(work, "int");
        if (!Directory.Exists(folder))
        {
            SyntheticRelease.Write(folder);
        }

        return folder;
    }

    private Task<SnomedLoadResult> LoadAsync(string folder) => Store.LoadAsync(Rf2Release.Find(folder), null, Ct);

    [Fact]
    public async Task loads_the_synthetic_edition_with_its_closure_and_terms()
    {
        var result = await LoadAsync(Edition());

        Assert.Equal(SyntheticRelease.Concepts.Count + 1, result.Concepts);
        Assert.Equal(1, result.Generation);
        Assert.True(await Store.IsBelowAsync(73211009, 313436004, Ct));
        Assert.True(await Store.IsBelowAsync(Snomed.Root, 313436004, Ct));
        Assert.False(await Store.IsBelowAsync(44054006, 46635009, Ct));
        Assert.False(await Store.IsBelowAsync(73211009, 73211009, Ct));
        var diabetes = await Store.ConceptAsync(73211009, Ct);
        Assert.Equal("Diabetes mellitus", diabetes!.Display);
        Assert.Equal("Diabetes mellitus (disorder)", diabetes.Fsn);
        Assert.False((await Store.ConceptAsync(SyntheticRelease.InactiveConcept, Ct))!.Active);
        var descriptions = await Store.DescriptionsAsync(46635009, Ct);
        Assert.Contains(descriptions, d => d.Term == "Insulin dependent diabetes mellitus" && d.Acceptability.Contains((Snomed.UsLanguage, Snomed.Acceptable)));
        Assert.Equal([11687002, 44054006, 46635009], (await Store.ChildrenAsync(73211009, Ct)).Select(c => c.Other).Order());
        Assert.Contains(await Store.RelationshipsAsync(73211009, Ct), r => r.TypeId == 363698007 && r.Other == 113331007 && r.Group == 1);
        var maps = await Store.MapsAsync(46635009, null, Ct);
        Assert.Contains(maps, m => m.RefsetId == SyntheticRelease.Icd10MapRefset && m.Target == "E10.9" && m.Group == 1);
        Assert.Contains(maps, m => m.RefsetId == SyntheticRelease.ReadMapRefset && m.Target == "C10E.");
    }

    [Fact]
    public async Task an_extension_loads_over_the_edition_and_a_reload_changes_nothing()
    {
        await LoadAsync(Edition());
        var extension = Path.Combine(work, "uk");
        SyntheticRelease.WriteExtension(extension);

        var result = await LoadAsync(extension);
        var again = await LoadAsync(Edition());

        Assert.Equal(2, result.Generation);
        Assert.True(await Store.IsBelowAsync(73211009, SyntheticRelease.ExtensionConcept, Ct));
        Assert.Equal(SyntheticRelease.UkModule, (await Store.ConceptAsync(SyntheticRelease.ExtensionConcept, Ct))!.ModuleId);
        // The GB English refset prefers "Heart attack"; GB is preferred over US English.
        Assert.Equal("Heart attack", (await Store.ConceptAsync(22298006, Ct))!.Display);
        Assert.Equal(3, again.Generation);
        Assert.Equal("Diabetes in remission", (await Store.ConceptAsync(SyntheticRelease.ExtensionConcept, Ct))!.Display);
        Assert.Equal(result.ClosureRows, again.ClosureRows);
    }

    public static TheoryData<string, string, string> Malformed => new()
    {
        { "sct2_Description_", "wrong_columns", "line 3: the row has 8 fields but the header has 9 columns" },
        { "sct2_Relationship_", "bad_encoding", "line 4: the line is not valid UTF-8" },
        { "sct2_Relationship_", "truncated", "the file ends in the middle of a row" },
        { "sct2_Concept_", "bad_header", "line 1: the header is" },
        { "sct2_Concept_", "bad_id", "line 2: id 'X138875005' is not an SCTID" },
        { "sct2_Concept_", "duplicate", "line 3: the id" },
        { "der2_cRefset_Language", "bad_active", "line 2: active '2' is neither 1 nor 0" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task a_malformed_file_is_refused_with_its_line_and_nothing_is_loaded(string file, string damage, string expected)
    {
        var folder = Path.Combine(work, damage);
        SyntheticRelease.Write(folder);
        var path = Directory.EnumerateFiles(folder, file + "*", SearchOption.AllDirectories).Single();
        var lines = File.ReadAllBytes(path);
        var text = System.Text.Encoding.UTF8.GetString(lines).Split("\r\n");
        switch (damage)
        {
            case "wrong_columns":
                text[2] = text[2][..text[2].LastIndexOf('\t')];
                break;
            case "bad_header":
                text[0] = text[0].Replace("moduleId", "module", StringComparison.Ordinal);
                break;
            case "bad_id":
                text[1] = "X" + text[1];
                break;
            case "duplicate":
                text[2] = text[1];
                break;
            case "bad_active":
                var fields = text[1].Split('\t');
                fields[2] = "2";
                text[1] = string.Join('\t', fields);
                break;
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(string.Join("\r\n", text)).ToList();
        if (damage == "bad_encoding")
        {
            // An invalid UTF-8 byte in the third data row (line 4).
            var lineStart = Nth(bytes, 3) + 1;
            bytes.Insert(lineStart + 2, 0xFF);
        }
        else if (damage == "truncated")
        {
            bytes.RemoveRange(bytes.Count - 10, 10);
        }

        File.WriteAllBytes(path, [.. bytes]);
        await LoadAsync(Edition());

        var error = await Assert.ThrowsAsync<Rf2FormatException>(() => LoadAsync(folder));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith(Path.GetFileName(path), error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await Store.GenerationAsync(Ct));
        Assert.Null(await Store.ConceptAsync(SyntheticRelease.ExtensionConcept, Ct));
    }

    private static int Nth(List<byte> bytes, int n)
    {
        var seen = 0;
        for (var i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] == '\n' && ++seen == n)
            {
                return i;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(n));
    }

    [Fact]
    public async Task a_cycle_in_the_hierarchy_is_refused_and_nothing_is_loaded()
    {
        var folder = Path.Combine(work, "cycle");
        SyntheticRelease.Write(folder);
        var path = Directory.EnumerateFiles(folder, "sct2_Relationship_*", SearchOption.AllDirectories).Single();
        File.AppendAllText(path, "9299999999\t20250101\t1\t900000000000207008\t73211009\t313436004\t0\t116680003\t900000000000011006\t900000000000451002\r\n");

        var error = await Assert.ThrowsAsync<Rf2FormatException>(() => LoadAsync(folder));

        Assert.Contains("cycle", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await Store.GenerationAsync(Ct));
        Assert.Null(await Store.ConceptAsync(73211009, Ct));
    }

    [Fact]
    public void a_folder_without_a_concept_file_is_refused()
    {
        Directory.CreateDirectory(work);
        var error = Assert.Throws<Rf2FormatException>(() => Rf2Release.Find(work));
        Assert.Contains("no concept file", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The SNOMED CT store contract on SQLite (a file of its own per test).</summary>
public sealed class SqliteSnomedStoreTests : SnomedStoreContract
{
    private readonly string path = SnomedTestStores.SqlitePath();

    protected override ValueTask<SnomedStore> CreateStoreAsync() => ValueTask.FromResult<SnomedStore>(new SqliteSnomedStore(path));

    protected override ValueTask DropAsync()
    {
        SnomedTestStores.DeleteSqlite(path);
        return ValueTask.CompletedTask;
    }
}
