using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Storage;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;

namespace CareHub.Identity;

/// <summary>
/// Queued matching (<see cref="MpiMatching.Queued"/>): a Patient write commits without matching, and this consumer of the
/// record's change feed (<see cref="ChangeFeedReader"/>) matches the Patients written since its stored position, a batch
/// at a time. Each batch is one transaction through the one door that links (or queues for review) every Patient in it,
/// moves the position and is audited as one operation, so a restart neither skips nor repeats a Patient.
/// <para>
/// A Patient is matched as it is when its batch runs (the current version, as <c>mpi rematch</c> does), with the same
/// <see cref="PersonLinker"/> the inline path uses: candidates are read and compared before the transaction and only what
/// changed since is read again inside it. A Patient deleted before its batch is passed over; one written again is matched
/// at its newer version when that version's own event comes. Deletes and merges are not queued: the write does them.
/// </para>
/// <para>
/// A batch a record makes fail (a <see cref="FhirException"/>) is retried one Patient at a time, and the Patient that fails
/// alone is passed over, logged by id, to be matched by <c>carehub mpi rematch</c> once fixed; any other failure (the
/// store) reaches the reader, which backs off and hands the same batch again, so nothing is passed over for it.
/// </para>
/// </summary>
public sealed partial class QueuedMatcher(RecordService records, IPersonIndexStore index, IChangeFeed feed, MpiOptions options, PersonMatcher matcher, TimeProvider clock,
    ILogger<QueuedMatcher> logger) : IChangeFeedConsumer
{
    /// <summary>
    /// How long the matcher, short of a full batch, waits for more Patient writes before it matches what it has: writes
    /// arriving together are matched in one transaction, and a lone write waits at most this long (or the idle poll).
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(200);

    private bool started;

    /// <summary>The name of this reader's position in the change feed (the record store's <c>feed_position</c>).</summary>
    public const string FeedName = "mpi-queued-matching";

    /// <summary>The most pending Patient writes <see cref="StatusAsync"/> counts.</summary>
    public const int StatusLimit = 10_000;

    // A Patient write brings a few other events with it (its AuditEvent, a Person, a review Task): read enough for a full batch.
    private const int EventsPerPatient = 4;

    private readonly PreparedPatients prepared = new(options.CandidateCacheSize);

    private readonly RequestContext context = new(new Principal
    {
        Kind = PrincipalKind.System,
        Subject = "carehub-mpi-queued-matching",
        ClientId = "carehub-mpi-queued-matching",
        Issuer = "carehub",
        Scopes = ScopeSet.Parse("system/Patient.rs system/Person.cruds system/Task.cruds"),
    }, "urn:carehub:mpi-queued-matching", "mpi-queued-matching")
    {
        Return = ReturnPreference.Minimal,
    };

    // Patient writes queued since the matcher last looked at the feed (approximate: only for when to look again).
    private int queuedWrites;

    public string Name => FeedName;

    public int BatchSize => options.QueueBatchSize * EventsPerPatient;

    /// <summary>Short of a full batch the matcher waits for one (<see cref="Wake"/>) or for <see cref="Linger"/>.</summary>
    public TimeSpan Idle => Linger;

    private readonly ChangeFeedWake wake = new();

    ChangeFeedWake IChangeFeedConsumer.Wake => wake;

    /// <summary>Tells the reader to look at the change feed now once a full batch of Patient writes was queued.</summary>
    public void Wake()
    {
        if (Interlocked.Increment(ref queuedWrites) >= options.QueueBatchSize)
        {
            wake.Signal();
        }
    }

    public async Task<long> PositionAsync(CancellationToken cancellationToken)
    {
        if (!started)
        {
            // A store that never queued a write: the matcher reads from now on (what was written before was matched
            // inline, or is for 'carehub mpi rematch').
            await records.WriteOperationAsync(context, "operation $mpi-queued-matching", "Person", FhirInteraction.Update, async writer =>
            {
                await writer.StartFeedPositionAsync(FeedName, cancellationToken);
                return true;
            }, cancellationToken);
            started = true;
        }

        return await feed.GetFeedPositionAsync(FeedName, cancellationToken);
    }

    public async Task<FeedProgress> HandleAsync(ChangeBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Interlocked.Exchange(ref queuedWrites, 0);
        try
        {
            try
            {
                var pass = await MatchAsync(batch.From, batch.Events, options.QueueBatchSize, cancellationToken);
                return new FeedProgress(pass.Position, pass.Patients >= options.QueueBatchSize);
            }
            catch (FhirException)
            {
                // One record spoils the batch: match them one at a time, so only that one is passed over.
                var pass = await MatchAsync(batch.From, batch.Events, 1, cancellationToken);
                return new FeedProgress(pass.Position, true);
            }
        }
        catch (FhirException e)
        {
            if (batch.Events.FirstOrDefault(IsMatched) is not { } next)
            {
                throw;
            }

            await records.WriteOperationAsync(context, "operation $mpi-queued-matching", "Person", FhirInteraction.Update,
                async writer => await writer.SetFeedPositionAsync(FeedName, batch.From, next.Position, cancellationToken) ? true : throw new FeedPositionMovedException(),
                cancellationToken);
            LogPassedOver(logger, next.Id, (int)FhirStatus.Of(e));
            return new FeedProgress(next.Position, true);
        }
        catch (FeedPositionMovedException)
        {
            // Another matcher took this batch: read on from where it left off.
            return new FeedProgress(batch.From, true);
        }
    }

    /// <summary>
    /// Matches the next batch of Patient writes from the change feed. Answers what it did; a pass with no events means the
    /// matcher has caught up. <paramref name="batchSize"/> overrides <see cref="MpiOptions.QueueBatchSize"/>.
    /// </summary>
    public async Task<QueuedMatchPass> RunOnceAsync(CancellationToken cancellationToken, int? batchSize = null)
    {
        var size = batchSize ?? options.QueueBatchSize;
        var from = await PositionAsync(cancellationToken);
        var events = await feed.ReadChangesAsync(from, size * EventsPerPatient, cancellationToken);
        return events.Count == 0 ? new QueuedMatchPass(0, 0, 0, 0, from) : await MatchAsync(from, events, size, cancellationToken);
    }

    private static bool IsMatched(ChangeEvent change) => change.Type == "Patient" && change.Method != "DELETE";

    /// <summary>Matches the Patients written in <paramref name="events"/>, up to <paramref name="size"/>, and moves the position past them in the same transaction.</summary>
    private async Task<QueuedMatchPass> MatchAsync(long from, IReadOnlyList<ChangeEvent> events, int size, CancellationToken cancellationToken)
    {
        // The Patients written, each once, in the order written; the batch ends just before the Patient that would overfill it.
        var ids = new List<string>(size);
        var end = from;
        var passed = 0;
        foreach (var change in events)
        {
            if (IsMatched(change) && !ids.Contains(change.Id, StringComparer.Ordinal))
            {
                if (ids.Count == size)
                {
                    break;
                }

                ids.Add(change.Id);
            }

            end = change.Position;
            passed++;
        }

        // Candidates are read and compared from committed data first, outside the transaction (as a write does inline).
        var current = (await index.ReadManyAsync("Patient", ids, cancellationToken)).ToDictionary(s => s.Id, StringComparer.Ordinal);
        var work = new List<(StoredResource Stored, Patient Patient, PreMatch Early)>(ids.Count);
        foreach (var id in ids)
        {
            if (current.TryGetValue(id, out var stored) && StoredJson.Parse(stored.Json!) is Patient patient && !PersonLinker.IsMerged(patient))
            {
                work.Add((stored, patient, await PersonLinker.PreMatchAsync(index, patient, matcher, prepared, options.MaxCandidates, cancellationToken)));
            }
        }

        var (links, reviews) = await records.WriteOperationAsync(context, "operation $mpi-queued-matching", "Person", FhirInteraction.Update, async writer =>
        {
            var links = 0;
            var reviews = 0;
            var versions = await index.CurrentVersionsAsync(writer.Session, "Patient", work.Select(w => w.Stored.Id).ToList(), cancellationToken);
            foreach (var (stored, patient, early) in work)
            {
                // Deleted since: nothing to match. Written since: that version's own event, later in the feed, brings it.
                if (versions.TryGetValue(stored.Id, out var version) && version == stored.Version)
                {
                    var outcome = await new PersonLinker(writer, index, matcher, clock.GetUtcNow(), prepared, options.MaxCandidates)
                        .OnPatientWrittenAsync(patient, created: false, cancellationToken, early);
                    links += outcome.Linked ? 1 : 0;
                    reviews += outcome.Reviews;
                }
            }

            if (!await writer.SetFeedPositionAsync(FeedName, from, end, cancellationToken))
            {
                // Another matcher on the same store moved the position: this batch is its work, and rolls back here.
                throw new FeedPositionMovedException();
            }

            return (links, reviews);
        }, cancellationToken);
        return new QueuedMatchPass(passed, work.Count, links, reviews, end);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Queued matching passed over Patient/{Id}: matching it failed with status {Status}; run 'carehub mpi rematch' once it is corrected")]
    private static partial void LogPassedOver(ILogger logger, string id, int status);

    /// <summary>Runs passes until the matcher has caught up with the change feed; answers the passes' totals.</summary>
    public async Task<QueuedMatchPass> DrainAsync(CancellationToken cancellationToken)
    {
        var total = new QueuedMatchPass(0, 0, 0, 0, 0);
        while (true)
        {
            var pass = await RunOnceAsync(cancellationToken);
            total = new QueuedMatchPass(total.Events + pass.Events, total.Patients + pass.Patients, total.Links + pass.Links, total.Reviews + pass.Reviews, pass.Position);
            if (pass.Events == 0)
            {
                return total;
            }
        }
    }

    /// <summary>The matcher's position and the Patient writes waiting after it (counted up to <see cref="StatusLimit"/>).</summary>
    public async Task<QueuedMatchStatus> StatusAsync(CancellationToken cancellationToken)
    {
        var position = await feed.GetFeedPositionAsync(FeedName, cancellationToken);
        var pending = 0;
        var after = position;
        while (pending < StatusLimit)
        {
            var events = await feed.ReadChangesAsync(after, 1000, cancellationToken);
            if (events.Count == 0)
            {
                return new QueuedMatchStatus(position, pending, false);
            }

            pending += events.Count(IsMatched);
            after = events[^1].Position;
        }

        return new QueuedMatchStatus(position, Math.Min(pending, StatusLimit), true);
    }
}

/// <summary>What one pass of the queued matcher did, and where in the change feed it left off.</summary>
/// <param name="Events">Change events read and passed (every type; only Patient writes are matched).</param>
public sealed record QueuedMatchPass(int Events, int Patients, int Links, int Reviews, long Position);

/// <summary>Where the queued matcher is: its position in the change feed and the Patient writes after it.</summary>
/// <param name="Pending">Patient writes after the position, counted up to <see cref="QueuedMatcher.StatusLimit"/>.</param>
public sealed record QueuedMatchStatus(long Position, int Pending, bool PendingCapped);

/// <summary>Another reader moved a change-feed position this one was about to move: the batch was rolled back.</summary>
public sealed class FeedPositionMovedException() : Exception("Another queued matcher moved the change-feed position first; this batch was rolled back.");
