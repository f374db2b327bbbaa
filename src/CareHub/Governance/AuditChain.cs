using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CareHub.Governance;

/// <summary>
/// The tamper-evident audit log: every AuditEvent version the store writes is a link of one hash chain, in commit order.
/// Link n holds hash(n) = SHA-256(hash(n-1) || len(body) || body || len(id) || id || n), where body is the stored
/// AuditEvent's exact bytes (UTF-8 of the text the database returns), id its resource id, lengths are 4-byte big-endian
/// and n an 8-byte big-endian sequence; hash(0) is 32 zero bytes. The length prefixes keep body and id from running into
/// each other (no two different pairs hash alike). Changing, removing or inserting an audit record behind the store's
/// back breaks the chain at that record; <see cref="VerifyAsync"/> finds the first break.
/// </summary>
public static class AuditChain
{
    /// <summary>The hash before the first link.</summary>
    public static byte[] Genesis => new byte[32];

    public static byte[] BodyHash(string? body) => SHA256.HashData(Encoding.UTF8.GetBytes(body ?? string.Empty));

    public static byte[] Link(ReadOnlySpan<byte> previous, string? body, string id, long sequence)
    {
        var bodyBytes = Encoding.UTF8.GetBytes(body ?? string.Empty);
        var idBytes = Encoding.UTF8.GetBytes(id);
        var buffer = new byte[previous.Length + 4 + bodyBytes.Length + 4 + idBytes.Length + 8];
        var span = buffer.AsSpan();
        previous.CopyTo(span);
        span = span[previous.Length..];
        BinaryPrimitives.WriteInt32BigEndian(span, bodyBytes.Length);
        bodyBytes.CopyTo(span[4..]);
        span = span[(4 + bodyBytes.Length)..];
        BinaryPrimitives.WriteInt32BigEndian(span, idBytes.Length);
        idBytes.CopyTo(span[4..]);
        span = span[(4 + idBytes.Length)..];
        BinaryPrimitives.WriteInt64BigEndian(span, sequence);
        return SHA256.HashData(buffer);
    }

    /// <summary>
    /// Walks the chain from its first link, recomputing every hash, and stops at the first break: a link whose sequence
    /// is not the next one or whose audit record is gone (entry missing), whose record's bytes differ from what was
    /// chained (body changed), whose hash does not follow from the previous one (hash mismatch); then looks for audit
    /// records written since the chain began that no link covers (unchained).
    /// </summary>
    public static async Task<AuditChainReport> VerifyAsync(IGovernanceStore store, CancellationToken cancellationToken)
    {
        var previous = Genesis;
        long verified = 0;
        await foreach (var entry in store.ReadAuditChainAsync(cancellationToken))
        {
            var expected = verified + 1;
            if (entry.Sequence != expected)
            {
                return Broken(verified, previous, new AuditChainBreak(expected, null, AuditChainBreakKind.EntryMissing,
                    $"chain entry {expected} is missing (the next entry is {entry.Sequence}, audit {entry.AuditId})"));
            }

            if (entry.StoredBody is null || !string.Equals(entry.StoredId, entry.AuditId, StringComparison.Ordinal))
            {
                return Broken(verified, previous, new AuditChainBreak(entry.Sequence, entry.AuditId, AuditChainBreakKind.EntryMissing,
                    $"the audit record it covers (row {entry.VersionSequence}) is gone"));
            }

            if (!BodyHash(entry.StoredBody).AsSpan().SequenceEqual(entry.BodyHash))
            {
                return Broken(verified, previous, new AuditChainBreak(entry.Sequence, entry.AuditId, AuditChainBreakKind.BodyChanged,
                    "the stored audit record differs from the one chained"));
            }

            var hash = Link(previous, entry.StoredBody, entry.AuditId, entry.Sequence);
            if (!hash.AsSpan().SequenceEqual(entry.Hash))
            {
                return Broken(verified, previous, new AuditChainBreak(entry.Sequence, entry.AuditId, AuditChainBreakKind.HashMismatch,
                    "the recorded hash does not follow from the previous entry and this record"));
            }

            previous = hash;
            verified++;
        }

        var unchained = await store.ReadUnchainedAuditAsync(1, cancellationToken);
        if (unchained.Unchained is [var (row, id), ..])
        {
            return new AuditChainReport(verified, previous, unchained.BeforeChain,
                new AuditChainBreak(verified + 1, id, AuditChainBreakKind.Unchained, $"audit record (row {row}) is not in the chain"));
        }

        return new AuditChainReport(verified, previous, unchained.BeforeChain, null);
    }

    private static AuditChainReport Broken(long verified, byte[] head, AuditChainBreak found) => new(verified, head, 0, found);
}

public enum AuditChainBreakKind
{
    /// <summary>A chain entry, or the audit record it covers, was removed.</summary>
    EntryMissing,

    /// <summary>The audit record's stored bytes are not the ones chained.</summary>
    BodyChanged,

    /// <summary>The entry's hash does not follow from the previous one: the chain itself was rewritten.</summary>
    HashMismatch,

    /// <summary>An audit record written since the chain began has no entry: it was added behind the store's back.</summary>
    Unchained,
}

/// <summary>Where the chain first breaks: the sequence, the audit id (when known) and what differs.</summary>
public sealed record AuditChainBreak(long Sequence, string? AuditId, AuditChainBreakKind Kind, string Detail);

/// <summary>
/// The outcome of a walk: how many entries verified, the hash of the last one verified (worth keeping outside the
/// database: it is what proves later that nothing was cut from the end), audit records older than the chain, and the
/// first break if any.
/// </summary>
public sealed record AuditChainReport(long Verified, byte[] Head, long BeforeChain, AuditChainBreak? Break)
{
    public bool Intact => Break is null;
}
