using System.Collections.Concurrent;

namespace CareHub.Governance;

/// <summary>
/// The access policy's decisions on single records (may this caller read <c>Patient/x</c> at version 3?), kept across
/// requests for callers of the same shape, so a point read or a <c>$everything</c> does not run the relationship and consent
/// rules again for a record decided a moment ago. A decision is the same for every caller with the same kind, role,
/// organisation, practitioner and patient (the only parts of a principal the rules read) and the same purpose of use.
/// <para>
/// What a decision rests on, and how a kept one stops being used:
/// <list type="bullet">
/// <item>the record itself: its version is part of the key, so a new version is decided afresh;</item>
/// <item>other records the rules read (the patient, encounters, episodes of care, care teams, referrals, consents,
/// agreements, organisations): a committed write of any type the policy reads
/// (<see cref="IAccessPolicy.DecisionsRead"/>) moves the generation, after its commit and before the writer is answered
/// (<see cref="Storage.IRecordStore.Committed"/>), so no request that starts after a write returns uses a decision made
/// before it; writes by other processes or nodes move it when the change feed brings them;</item>
/// <item>the clock (a relationship counts for a window after an encounter ends, a consent or agreement has a period): a
/// decision is kept at most <see cref="Lifetime"/>.</item>
/// </list>
/// A decision made while a write commits is tagged with the generation read before it was made, so it is never used
/// after that write's move. Refusals are kept as well as permits: a hidden record then costs what a permitted one does,
/// not the rules run again once per rule to name the refusal.
/// </para>
/// </summary>
public sealed class DecisionCache(TimeProvider clock, TimeSpan? lifetime = null, int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private long generation;

    /// <summary>How long a decision is kept when nothing it rests on is written.</summary>
    public TimeSpan Lifetime { get; } = lifetime ?? TimeSpan.FromSeconds(30);

    /// <summary>Read before a decision is made, and handed to <see cref="Keep"/> with it.</summary>
    public long Generation => Interlocked.Read(ref generation);

    /// <summary>Decisions answered from the cache, and decisions made and kept, since the process started.</summary>
    public long Hits => Interlocked.Read(ref hits);

    public long Kept => Interlocked.Read(ref kept);

    private long hits;
    private long kept;

    /// <summary>The kept decision for <paramref name="key"/> (null inside: permitted), if there is one still good.</summary>
    public bool TryGet(string key, out AccessDecision? decision)
    {
        if (entries.TryGetValue(key, out var entry) && entry.Generation == Generation && clock.GetUtcNow() < entry.Until)
        {
            Interlocked.Increment(ref hits);
            decision = entry.Decision;
            return true;
        }

        decision = null;
        return false;
    }

    /// <summary>Keeps a decision made from what was committed when <paramref name="madeAt"/> was read.</summary>
    public void Keep(string key, long madeAt, AccessDecision? decision)
    {
        if (madeAt != Generation)
        {
            return;
        }

        if (entries.Count >= capacity)
        {
            // Bounded by starting again: the callers and records decided most often come back first.
            entries.Clear();
        }

        entries[key] = new Entry(madeAt, clock.GetUtcNow() + Lifetime, decision);
        Interlocked.Increment(ref kept);
    }

    /// <summary>Something a decision may rest on was written: no decision made before this is used again.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref generation);
        entries.Clear();
    }

    /// <summary>
    /// The key of a decision: the parts of the principal and purpose the rules read, the interaction and the record's
    /// type, id and version. Ids are FHIR ids and types letters, so the separator cannot occur inside a part.
    /// </summary>
    public static string Key(Principal principal, AccessPurpose purpose, FhirInteraction interaction, string type, string id, int version)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(purpose);
        return string.Join('\u001f', principal.Kind, principal.Role, principal.Organisation, principal.FhirUser, principal.PatientId, purpose.Code,
            interaction, type, id, version);
    }

    private sealed record Entry(long Generation, DateTimeOffset Until, AccessDecision? Decision);
}
