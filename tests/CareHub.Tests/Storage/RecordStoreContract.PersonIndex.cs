using CareHub.Storage;

namespace CareHub.Tests.Storage;

/// <summary>
/// The master person index's reads (<see cref="CareHub.Identity.IPersonIndexStore"/>): token postings per code, current
/// versions of many ids and what changed since a position, the last three inside a write session of the same store.
/// </summary>
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

        var postings = await PersonIndex.TokenPostingsAsync("Patient", "_block", ["k2", "k1", "k3", "k4", "none"], 10, Ct);

        Assert.Equal(5, postings.Count);
        Assert.Equal(["a"], postings[0]);
        Assert.Equal(["a", "b"], postings[1].Order(StringComparer.Ordinal));
        Assert.Empty(postings[2]);
        Assert.Equal(["d"], postings[3]);
        Assert.Empty(postings[4]);
        Assert.Single((await PersonIndex.TokenPostingsAsync("Patient", "_block", ["k1"], 1, Ct))[0]);
        Assert.Empty(await PersonIndex.TokenPostingsAsync("Patient", "_block", [], 10, Ct));

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "e", 1, 8, 0, Block("k3")), Ct);
        Assert.Equal(["e"], (await PersonIndex.TokenPostingsAsync(session, "Patient", "_block", ["k3"], 10, Ct))[0]);
    }

    [Fact]
    public async Task current_versions_and_read_many_answer_the_existing_undeleted_ids()
    {
        await CommitAsync(Version("Patient", "a", 1, 1, 0), Version("Patient", "b", 1, 2, 0), Version("Patient", "c", 1, 3, 0));
        await CommitAsync(Version("Patient", "a", 2, 4, 1), Tombstone("Patient", "c", 2, 5, 1));

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "b", 2, 6, 1), Ct);
        var versions = await PersonIndex.CurrentVersionsAsync(session, "Patient", ["a", "b", "c", "missing"], Ct);

        Assert.Equal(new Dictionary<string, int> { ["a"] = 2, ["b"] = 2 }, versions);
        // Outside the transaction: what is committed, bodies included.
        var read = await Store.ReadManyAsync("Patient", ["a", "b", "c", "missing"], Ct);
        Assert.Equal(["a:2", "b:1"], read.Select(r => $"{r.Id}:{r.Version}").Order(StringComparer.Ordinal));
        Assert.All(read, r => Assert.Contains($"<div>v{r.Version}</div>", r.Json, StringComparison.Ordinal));
        Assert.Empty(await Store.ReadManyAsync("Patient", [], Ct));
        Assert.Empty(await PersonIndex.CurrentVersionsAsync(session, "Patient", [], Ct));
        Assert.Empty(await PersonIndex.CurrentVersionsAsync(session, "Observation", ["a"], Ct));
    }

    [Fact]
    public async Task changed_since_finds_the_records_written_after_a_position_that_have_one_of_the_codes()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, new TokenIndexRow("_k", null, "a")));
        var end = await PersonIndex.FeedEndAsync(Ct);
        Assert.Equal((await Feed.ReadChangesAsync(0, 100, Ct))[^1].Position, end);
        await CommitAsync(
            Version("Patient", "p2", 1, 2, 0, new TokenIndexRow("_k", null, "a")),
            Version("Patient", "p3", 1, 2, 0, new TokenIndexRow("_k", null, "b")),
            Version("Patient", "p5", 1, 2, 0, new TokenIndexRow("_k", "http://example.org", "a")),
            Version("Observation", "o1", 1, 2, 0, new TokenIndexRow("_k", null, "a")));

        await using var session = await Store.BeginWriteAsync(Ct);
        await session.WriteAsync(Version("Patient", "p4", 1, 3, 0, new TokenIndexRow("_k", null, "z")), Ct);
        // p1 is before the position, p3 has another code, p5 a system, o1 another type; p4 is the session's own write.
        Assert.Equal(["p2", "p4"], (await PersonIndex.ChangedSinceAsync(session, "Patient", end, "_k", ["a", "c"], 10, Ct))!.Order(StringComparer.Ordinal));
        Assert.Equal(["p4"], (await PersonIndex.ChangedSinceAsync(session, "Patient", end, "_k", ["c"], 10, Ct))!);
        // More events after the position than the caller would look at: null, to read in full instead.
        Assert.Null(await PersonIndex.ChangedSinceAsync(session, "Patient", end, "_k", ["a"], 0, Ct));
        Assert.Equal(0, await PersonIndex.FeedEndAsync(Ct) - (await Feed.ReadChangesAsync(0, 100, Ct))[^1].Position);
    }

    [Fact]
    public async Task a_query_in_a_write_session_refuses_a_session_of_another_store()
    {
        // Never opened: a session starts its transaction on first use, and the store refuses before that.
        await using var other = new CareHub.Storage.Sqlite.SqliteRecordStore(Path.Combine(Path.GetTempPath(), "carehub-tests", $"{Guid.NewGuid():N}.db"));
        await using var session = await other.BeginWriteAsync(Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => PersonIndex.CurrentVersionsAsync(session, "Patient", ["a"], Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => PersonIndex.TokenPostingsAsync(session, "Patient", "_block", ["k1"], 10, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => PersonIndex.ChangedSinceAsync(session, "Patient", 0, "_block", ["k1"], 10, Ct));
    }
}
