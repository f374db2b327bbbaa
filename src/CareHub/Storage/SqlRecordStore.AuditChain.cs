using System.Globalization;
using System.Runtime.CompilerServices;
using CareHub.Governance;

namespace CareHub.Storage;

/// <summary>
/// The audit chain (docs/decisions/audit.md): every AuditEvent version inserted through a write session, whichever path
/// wrote it (a write's own transaction or the batched audit of reads), gets the next link of one hash chain at commit.
/// The links are inserted last, just before the commit, under a lock that SQLite's single writer gives for free and
/// PostgreSQL takes as a transaction-scoped advisory lock, so the chain order is the commit order and the lock is short.
/// </summary>
public abstract partial class SqlRecordStore
{
    private const string AuditType = "AuditEvent";

    private readonly record struct PendingLink(long VersionSequence, string Id, string? Body);

    private sealed partial class WriteSession
    {
        private readonly List<PendingLink> chain = [];

        private async Task ChainAuditAsync(CancellationToken cancellationToken)
        {
            if (chain.Count == 0)
            {
                return;
            }

            await store.BeforeAuditChainAsync(connection, transaction, cancellationToken);
            long sequence = 0;
            var previous = AuditChain.Genesis;
            var head = Reusable("SELECT sequence, hash FROM audit_chain ORDER BY sequence DESC LIMIT 1");
            await using (var reader = await head.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    sequence = reader.GetInt64(0);
                    previous = (byte[])reader.GetValue(1);
                }
            }

            var insert = Reusable("INSERT INTO audit_chain (sequence, audit_id, version_seq, body_hash, hash) VALUES (@sequence, @id, @row, @body_hash, @hash)",
                "@sequence", "@id", "@row", "@body_hash", "@hash");
            foreach (var link in chain)
            {
                sequence++;
                var hash = AuditChain.Link(previous, link.Body, link.Id, sequence);
                await With(insert, sequence, link.Id, link.VersionSequence, AuditChain.BodyHash(link.Body), hash).ExecuteNonQueryAsync(cancellationToken);
                previous = hash;
            }

            chain.Clear();
        }
    }

    public async IAsyncEnumerable<AuditChainEntry> ReadAuditChainAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // One statement, so one snapshot: a link and its audit record are committed together, never one without the other.
        await using var command = Command(connection, null,
            "SELECT c.sequence, c.audit_id, c.version_seq, c.body_hash, c.hash, v.id, v.body FROM audit_chain c " +
            "LEFT JOIN resource_version v ON v.seq = c.version_seq AND v.type = 'AuditEvent' ORDER BY c.sequence");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new AuditChainEntry(
                reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), (byte[])reader.GetValue(3), (byte[])reader.GetValue(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6));
        }
    }

    public async Task<UnchainedAudit> ReadUnchainedAuditAsync(int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var before = Convert.ToInt64(await ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM resource_version v WHERE v.type = 'AuditEvent' AND v.seq <= (SELECT before_seq FROM audit_chain_start)", cancellationToken),
            CultureInfo.InvariantCulture);
        var unchained = new List<(long, string)>();
        await using var command = Command(connection, null,
            "SELECT v.seq, v.id FROM resource_version v WHERE v.type = 'AuditEvent' AND v.seq > (SELECT before_seq FROM audit_chain_start) " +
            "AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.version_seq = v.seq) ORDER BY v.seq LIMIT @max", ("@max", max));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            unchained.Add((reader.GetInt64(0), reader.GetString(1)));
        }

        return new UnchainedAudit(before, unchained);
    }
}
