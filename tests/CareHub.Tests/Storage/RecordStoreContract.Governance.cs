using CareHub.Governance;
using CareHub.Storage;

namespace CareHub.Tests.Storage;

/// <summary>The tamper-evident audit chain and hard purge, on every provider.</summary>
public abstract partial class RecordStoreContract
{
    private static VersionWrite Audit(string id, int minute) =>
        new("AuditEvent", id, 1, At(minute), "POST", $$"""{"resourceType":"AuditEvent","id":"{{id}}","recorded":"2024-01-01T00:00:00Z","outcome":"0"}""", null, [], ChangeEvent: false);

    /// <summary>Three links: one written with a change in its transaction, two by the batched path.</summary>
    private async Task WriteThreeAuditedChangesAsync()
    {
        await CommitAsync(Version("Patient", "p1", 1, 1, 0), Audit("a1", 1));
        await Store.AppendAsync([Audit("a2", 2), Audit("a3", 3)], Ct);
    }

    private async Task<AuditChainBreak> BrokenAsync()
    {
        var report = await AuditChain.VerifyAsync(Governance, Ct);
        Assert.False(report.Intact, "the chain verified although it was tampered with");
        return report.Break!;
    }

    [Fact]
    public async Task audit_records_from_both_write_paths_form_one_chain_that_verifies()
    {
        await WriteThreeAuditedChangesAsync();

        var report = await AuditChain.VerifyAsync(Governance, Ct);

        Assert.True(report.Intact, report.Break?.Detail);
        Assert.Equal(3, report.Verified);
        var entries = await Governance.ReadAuditChainAsync(Ct).ToListAsync(Ct);
        Assert.Equal(["a1", "a2", "a3"], entries.Select(e => e.AuditId));
        Assert.Equal([1L, 2, 3], entries.Select(e => e.Sequence));
        Assert.Equal(entries[^1].Hash, report.Head);
    }

    [Fact]
    public async Task a_chain_link_hashes_the_stored_bytes_of_the_audit_record()
    {
        await WriteThreeAuditedChangesAsync();

        var first = (await Governance.ReadAuditChainAsync(Ct).ToListAsync(Ct))[0];
        var stored = await Store.ReadAsync("AuditEvent", "a1", null, Ct);

        Assert.Equal(stored!.Json, first.StoredBody);
        Assert.Equal(AuditChain.Link(AuditChain.Genesis, stored.Json, "a1", 1), first.Hash);
    }

    [Fact]
    public async Task an_audit_body_altered_by_sql_is_found_at_that_entry()
    {
        await WriteThreeAuditedChangesAsync();
        await ExecuteSqlAsync("""UPDATE resource_version SET body = '{"resourceType":"AuditEvent","id":"a2","outcome":"8"}' WHERE type = 'AuditEvent' AND id = 'a2'""");

        var found = await BrokenAsync();

        Assert.Equal((2L, "a2", AuditChainBreakKind.BodyChanged), (found.Sequence, found.AuditId, found.Kind));
    }

    [Fact]
    public async Task a_deleted_audit_record_is_found_as_an_entry_missing()
    {
        await WriteThreeAuditedChangesAsync();
        await ExecuteSqlAsync("DELETE FROM resource_version WHERE type = 'AuditEvent' AND id = 'a2'");

        var found = await BrokenAsync();

        Assert.Equal((2L, "a2", AuditChainBreakKind.EntryMissing), (found.Sequence, found.AuditId, found.Kind));
    }

    [Fact]
    public async Task a_deleted_chain_entry_is_found_as_an_entry_missing()
    {
        await WriteThreeAuditedChangesAsync();
        await ExecuteSqlAsync("DELETE FROM audit_chain WHERE sequence = 2");

        var found = await BrokenAsync();

        Assert.Equal((2L, AuditChainBreakKind.EntryMissing), (found.Sequence, found.Kind));
    }

    [Fact]
    public async Task a_body_rewritten_with_its_body_hash_is_found_as_a_hash_mismatch()
    {
        await WriteThreeAuditedChangesAsync();
        // A forger who also recomputes the body's digest still cannot make the chain hash follow.
        var forged = """{"resourceType":"AuditEvent","id":"a2","outcome":"8"}""";
        await ExecuteSqlAsync($"UPDATE resource_version SET body = '{forged}' WHERE type = 'AuditEvent' AND id = 'a2'");
        var stored = (await Store.ReadAsync("AuditEvent", "a2", null, Ct))!.Json;
        await ExecuteSqlAsync($"UPDATE audit_chain SET body_hash = {HexLiteral(AuditChain.BodyHash(stored))} WHERE sequence = 2");

        var found = await BrokenAsync();

        Assert.Equal((2L, "a2", AuditChainBreakKind.HashMismatch), (found.Sequence, found.AuditId, found.Kind));
    }

    [Fact]
    public async Task an_audit_record_inserted_behind_the_stores_back_is_found_unchained()
    {
        await WriteThreeAuditedChangesAsync();
        await ExecuteSqlAsync("""INSERT INTO resource_version (type, id, version, last_updated, method, body) VALUES ('AuditEvent', 'forged', 1, 0, 'POST', '{"resourceType":"AuditEvent","id":"forged"}')""");

        var found = await BrokenAsync();

        Assert.Equal((4L, "forged", AuditChainBreakKind.Unchained), (found.Sequence, found.AuditId, found.Kind));
    }

    [Fact]
    public async Task a_rolled_back_transaction_leaves_no_link()
    {
        await CommitAsync(Audit("a1", 1));
        await using (var session = await Store.BeginWriteAsync(Ct))
        {
            await session.WriteAsync(Audit("gone", 2), Ct);
        }

        await CommitAsync(Audit("a2", 3));

        var report = await AuditChain.VerifyAsync(Governance, Ct);
        Assert.True(report.Intact, report.Break?.Detail);
        Assert.Equal(["a1", "a2"], (await Governance.ReadAuditChainAsync(Ct).ToListAsync(Ct)).Select(e => e.AuditId));
    }

    [Fact]
    public async Task concurrent_writers_on_both_paths_produce_a_valid_chain()
    {
        const int Writers = 6, Each = 15;
        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < Each; i++)
            {
                if (w % 2 == 0)
                {
                    await CommitAsync(Version("Patient", $"w{w}-{i}", 1, i, 0), Audit($"t{w}-{i}", i));
                }
                else
                {
                    await Store.AppendAsync([Audit($"b{w}-{i}-x", i), Audit($"b{w}-{i}-y", i)], Ct);
                }
            }
        }, Ct));
        await Task.WhenAll(tasks);

        var report = await AuditChain.VerifyAsync(Governance, Ct);

        Assert.True(report.Intact, report.Break?.Detail);
        Assert.Equal((Writers / 2 * Each) + (Writers / 2 * Each * 2), report.Verified);
    }

    // ---- Hard purge ----

    [Fact]
    public async Task purge_removes_every_version_index_row_and_change_event_of_one_resource_only()
    {
        var subject = new ReferenceIndexRow("subject", "Patient", "p1", null);
        await CommitAsync(Version("Patient", "p1", 1, 1, 0, Identifier("s", "p1")));
        await CommitAsync(Version("Observation", "o1", 1, 2, 0, Identifier("s", "o1"), subject));
        await CommitAsync(Version("Observation", "o1", 2, 3, 1, Identifier("s", "o1"), subject));
        await CommitAsync(Version("Observation", "o2", 1, 4, 0, Identifier("s", "o2"), subject));

        int? audited = null;
        var removed = await Governance.PurgeAsync("Observation", "o1", 2, versions =>
        {
            audited = versions;
            return Audit("purge-o1", 5);
        }, Ct);

        Assert.Equal(2, removed);
        Assert.Equal(2, audited);
        Assert.NotNull(await Store.ReadAsync("AuditEvent", "purge-o1", null, Ct));
        Assert.Null(await Store.ReadAsync("Observation", "o1", null, Ct));
        Assert.Null(await Store.ReadAsync("Observation", "o1", 1, Ct));
        Assert.Equal(0, (await Store.HistoryAsync(new HistoryQuery("Observation", "o1", null, null, 10), Ct)).Total);
        Assert.Equal(0, await ScalarSqlAsync("SELECT COUNT(*) FROM search_token WHERE id = 'o1'") + await ScalarSqlAsync("SELECT COUNT(*) FROM search_reference WHERE id = 'o1'"));
        Assert.DoesNotContain(await Feed.ReadChangesAsync(0, 100, Ct), c => c.Id == "o1");
        Assert.Equal(["o2"], Ids(await SearchAsync("Observation", Token(new TokenMatch("s", "o1", false), new TokenMatch("s", "o2", false)))));
        Assert.NotNull(await Store.ReadAsync("Patient", "p1", null, Ct));
        Assert.True((await AuditChain.VerifyAsync(Governance, Ct)).Intact);
    }

    [Fact]
    public async Task a_purge_of_the_newest_write_never_lets_a_later_write_take_its_change_feed_position()
    {
        await CommitAsync(Version("Observation", "o0", 1, 1, 0));
        await CommitAsync(Version("Observation", "o1", 1, 2, 0));
        // A feed reader (an outbound channel, queued matching) has read up to o1's event, the newest.
        var seen = await PersonIndex.FeedEndAsync(Ct);
        await Governance.PurgeAsync("Observation", "o1", 1, _ => Audit("purge-o1", 3), Ct);

        await CommitAsync(Version("Observation", "o2", 1, 3, 0));

        var after = await Feed.ReadChangesAsync(seen, 100, Ct);
        Assert.Equal(["o2"], after.Select(c => c.Id));
        Assert.True(after[0].Position > seen);
    }

    [Fact]
    public async Task purge_of_a_resource_that_changed_since_it_was_judged_removes_nothing_and_writes_no_audit()
    {
        await CommitAsync(Version("Observation", "o1", 1, 1, 0));
        await CommitAsync(Version("Observation", "o1", 2, 2, 1));

        Assert.Null(await Governance.PurgeAsync("Observation", "o1", 1, _ => Audit("purge-o1", 3), Ct));

        Assert.Equal(2, (await Store.ReadAsync("Observation", "o1", null, Ct))!.Version);
        Assert.Equal(2, (await Store.HistoryAsync(new HistoryQuery("Observation", "o1", null, null, 10), Ct)).Total);
        Assert.Null(await Store.ReadAsync("AuditEvent", "purge-o1", null, Ct));
    }

    [Fact]
    public async Task purge_refuses_audit_records()
    {
        await CommitAsync(Audit("a1", 1));

        await Assert.ThrowsAsync<InvalidOperationException>(() => Governance.PurgeAsync("AuditEvent", "a1", 1, _ => Audit("purge-a1", 2), Ct));
        Assert.NotNull(await Store.ReadAsync("AuditEvent", "a1", null, Ct));
    }

    [Fact]
    public async Task last_patient_activity_covers_the_patient_and_everything_that_references_them()
    {
        var subject = new ReferenceIndexRow("subject", "Patient", "p1", null);
        await CommitAsync(Version("Patient", "p1", 1, 1, 0));
        await CommitAsync(Version("Observation", "o1", 1, 2, 0, subject));
        await CommitAsync(Version("Encounter", "e1", 1, 30, 0, subject));
        await CommitAsync(Version("Observation", "lonely", 1, 5, 0));

        Assert.Equal(At(30), await Governance.LastPatientActivityAsync("Observation", "o1", Ct));
        Assert.Equal(At(30), await Governance.LastPatientActivityAsync("Patient", "p1", Ct));
        Assert.Equal(At(5), await Governance.LastPatientActivityAsync("Observation", "lonely", Ct));
        Assert.Null(await Governance.LastPatientActivityAsync("Observation", "none", Ct));
        Assert.Equal(["p1"], await Governance.PatientsOfAsync("Encounter", "e1", Ct));
    }

    [Fact]
    public async Task scan_current_pages_by_id_and_filters_by_last_updated()
    {
        await CommitAsync(Version("Observation", "o1", 1, 1, 0));
        await CommitAsync(Version("Observation", "o2", 1, 10, 0));
        await CommitAsync(Version("Observation", "o3", 1, 2, 0));
        await CommitAsync(Tombstone("Observation", "o3", 2, 3, 1));

        Assert.Equal(["o1", "o3"], (await Governance.ScanCurrentAsync("Observation", At(5), null, 10, Ct)).Select(r => r.Id));
        Assert.Equal(["o2", "o3"], (await Governance.ScanCurrentAsync("Observation", null, "o1", 10, Ct)).Select(r => r.Id));
        Assert.True((await Governance.ScanCurrentAsync("Observation", null, "o2", 10, Ct)).Single().Deleted);
    }

    /// <summary>A SQL literal of a binary value, in the provider's syntax.</summary>
    protected abstract string HexLiteral(byte[] bytes);
}
