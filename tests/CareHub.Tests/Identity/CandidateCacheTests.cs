using CareHub.Identity;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity;

public sealed class CandidateCacheTests
{
    [Fact]
    public void candidates_sharing_more_keys_come_first_and_the_cap_cuts_the_rest()
    {
        IReadOnlyList<string>[] blocks =
        [
            ["a", "b", "c", "self"],
            ["b", "self"],
            ["c", "d", "b"],
        ];

        var chosen = CandidateBlocks.Choose(blocks, "self", maxBlockSize: 10, maxCandidates: 3);

        // b shares three keys, c two, then a (smallest block 3) before d (smallest block 3, later id).
        Assert.Equal(["b", "c", "a"], chosen);
    }

    [Fact]
    public void a_block_larger_than_the_cap_is_skipped_and_the_record_is_never_its_own_candidate()
    {
        IReadOnlyList<string>[] blocks = [["self", "x", "y", "z"], ["self", "w"]];

        var chosen = CandidateBlocks.Choose(blocks, "self", maxBlockSize: 2, maxCandidates: 10);

        Assert.Equal(["w"], chosen);
    }

    [Fact]
    public void a_cached_candidate_is_used_only_for_the_version_and_body_it_was_prepared_from()
    {
        var cache = new PreparedPatients(100);
        var v1 = Stored("p1", 1, "Smith");
        Assert.Equal("Smith", cache.Get(v1).Person.Record.FamilyName);
        Assert.Equal("Smith", cache.Get(v1).Person.Record.FamilyName);
        Assert.Equal(1, cache.Hits);

        // A new version, and a body that differs under the same version number (one written and rolled back).
        Assert.Equal("Jones", cache.Get(Stored("p1", 2, "Jones")).Person.Record.FamilyName);
        Assert.Equal("Brown", cache.Get(Stored("p1", 2, "Brown")).Person.Record.FamilyName);
        Assert.Equal(1, cache.Hits);
    }

    [Fact]
    public void the_cache_holds_no_more_than_its_capacity()
    {
        var cache = new PreparedPatients(4);
        for (var i = 0; i < 10; i++)
        {
            cache.Get(Stored("p" + i, 1, "Name" + i));
        }

        // The two generations hold at most four; the first records are gone, the last ones are kept.
        cache.Get(Stored("p0", 1, "Name0"));
        cache.Get(Stored("p9", 1, "Name9"));
        Assert.Equal(1, cache.Hits);
        Assert.Equal(12, cache.Misses + cache.Hits);
    }

    private static StoredResource Stored(string id, int version, string family)
    {
        var patient = new Patient { Id = id, Name = [new HumanName { Family = family, Given = ["Ann"] }], BirthDate = "1980-01-02" };
        return new StoredResource("Patient", id, version, DateTimeOffset.UnixEpoch, "PUT", Fhir.FhirSerialization.ToJson(patient));
    }
}
