using CareHub.Storage;

namespace CareHub.Tests.Storage;

/// <summary>The reads the master person index makes in bulk: token postings per code, and current versions of many ids.</summary>
public abstract partial class RecordStoreContract
{
    private static TokenIndexRow Block(string code) => new("_block", null, code);

    [Fact]
    public async Task token_postings_answer_each_code_in_order_current_resources_only_at_most_the_limit()
    {
        await CommitAsync(
            Version("Patient", "a", 1, 1, 0, Block("k1"), Block("k2")),
            Version("Patient", "b", 1, 2, 0, Block("k1")),
            Version("Patient", "c", 1, 3, 0, Block("k1"), new TokenIndexRow("_block", "urn:other", "k2")),
            Version("Patient", "d", 1, 4, 0, Block("k3")),
            Version("Observation", "o", 1, 5, 0, Block("k2")));
        // d moves to another key; c is deleted: neither is found under its old key.
        await CommitAsync(Version("Patient", "d", 2, 6, 1, Block("k4")), Tombstone("Patient", "c", 2, 7, 1));

        var postings = await Store.TokenPostingsAsync("Patient", "_block", ["k2", "k1", "k3", "k4", "none"], 10, Ct);

        Assert.Equal(5, postings.Count);
        Assert.Equal(["a"], postings[0]);
        Assert.Equal(["a", "b"], postings[1].Order(StringComparer.Ordinal));
        Assert.Empty(postings[2]);
        Assert.Equal(["d"], postings[3]);
        Assert.Empty(postings[4]);
        Assert.Single((await Store.TokenPostingsAsync("Patient", "_block", ["k1"], 1, Ct))[0]);
        Assert.Empty(await Store.TokenPostingsAsync("Patient", "_block", [], 10, Ct));

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "e", 1, 8, 0, Block("k3")), Ct);
        Assert.Equal(["e"], (await session.TokenPostingsAsync("Patient", "_block", ["k3"], 10, Ct))[0]);
    }

    [Fact]
    public async Task current_versions_and_read_many_answer_the_existing_undeleted_ids()
    {
        await CommitAsync(Version("Patient", "a", 1, 1, 0), Version("Patient", "b", 1, 2, 0), Version("Patient", "c", 1, 3, 0));
        await CommitAsync(Version("Patient", "a", 2, 4, 1), Tombstone("Patient", "c", 2, 5, 1));

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "b", 2, 6, 1), Ct);
        var versions = await session.CurrentVersionsAsync("Patient", ["a", "b", "c", "missing"], Ct);

        Assert.Equal(new Dictionary<string, int> { ["a"] = 2, ["b"] = 2 }, versions);
        // Outside the transaction: what is committed, bodies included.
        var read = await Store.ReadManyAsync("Patient", ["a", "b", "c", "missing"], Ct);
        Assert.Equal(["a:2", "b:1"], read.Select(r => $"{r.Id}:{r.Version}").Order(StringComparer.Ordinal));
        Assert.All(read, r => Assert.Contains($"<div>v{r.Version}</div>", r.Json, StringComparison.Ordinal));
        Assert.Empty(await Store.ReadManyAsync("Patient", [], Ct));
        Assert.Empty(await session.CurrentVersionsAsync("Patient", [], Ct));
        Assert.Empty(await session.CurrentVersionsAsync("Observation", ["a"], Ct));
    }
}
