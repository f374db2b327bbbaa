using CareHub.Fhir;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Identity;

/// <summary>
/// Links Patients into Persons inside one write transaction. Every current, unmerged source Patient belongs to exactly one
/// MPI Person (FHIR R4 Person, tagged <see cref="MpiCodes.ManagedTag"/>): <c>Person.link.target</c> is each source
/// Patient, with its origin, score, rule and date as extensions, and <c>Person.link.assurance</c> level3 for an automatic
/// link and level4 for a person's decision. The Person's own name, birth date, sex, address and telecom are the golden
/// record: those of the first source to join it that is still a member and unmerged (<see cref="SetGoldenRecord"/>); its
/// identifiers are every member's identifiers.
/// </summary>
internal sealed class PersonLinker(IRecordWriter writer, IPersonIndexStore index, PersonMatcher matcher, DateTimeOffset now, PreparedPatients prepared, int maxCandidates)
{
    private const int MaxDecisions = 1000;

    /// <summary>Review tasks one Patient write may open at most.</summary>
    public const int MaxReviewsPerWrite = 3;

    // The stored JSON of the Persons read by this linker, so saving one does not read it again to see what changed.
    private readonly Dictionary<string, string> personJson = new(StringComparer.Ordinal);

    private IWriteSession Session => writer.Session;

    // Patients read before the transaction whose version is confirmed current inside it: used instead of reading them again.
    private readonly Dictionary<string, (StoredResource Stored, Patient Patient)> confirmed = new(StringComparer.Ordinal);

    /// <summary>The source system a stored Patient is read as, for matching.</summary>
    internal const string SourceSystem = "carehub";

    public static PreparedPerson Prepare(Patient patient) => PreparedPerson.From(PatientMapper.ToPersonRecord(patient, SourceSystem));

    /// <summary>True when the Patient was merged into another (it carries a <c>replaced-by</c> link, R4 Patient.link).</summary>
    public static bool IsMerged(Patient patient) => patient.Link.Any(l => l.Type == Patient.LinkType.ReplacedBy);

    /// <summary>The ids of the Patients a Person links.</summary>
    public static IEnumerable<string> Members(Person person) =>
        person.Link.Select(l => l.Target?.Reference).OfType<string>()
            .Where(r => r.StartsWith("Patient/", StringComparison.Ordinal))
            .Select(r => r["Patient/".Length..]);

    // ---- incremental matching ----------------------------------------------------------------------------------

    /// <summary>The sorted, distinct blocking keys of a prepared record.</summary>
    private static List<string> KeysOf(PreparedPerson me, PersonMatcher matcher) =>
        Blocking.KeysFor(me, matcher.Settings.Blocking.Rules).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Compares a Patient about to be written with its candidates as committed now, outside any transaction (one query for
    /// the candidates' bodies). <see cref="OnPatientWrittenAsync"/> then confirms it inside the write transaction.
    /// </summary>
    public static async Task<PreMatch> PreMatchAsync(IPersonIndexStore store, Patient patient, PersonMatcher matcher, PreparedPatients prepared, int maxCandidates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(patient);
        var me = Prepare(patient);
        var keys = KeysOf(me, matcher);
        // Read first: whatever is committed after it, the transaction looks at again (OnPatientWrittenAsync).
        var feedEnd = await store.FeedEndAsync(cancellationToken);
        var compared = new Dictionary<string, (int, MatchResult?)>(StringComparer.Ordinal);
        var max = matcher.Settings.Blocking.MaxBlockSize;
        var candidates = await CandidateBlocks.ReadAsync(
            keys => store.TokenPostingsAsync("Patient", MpiCodes.BlockParam, keys, CandidateBlocks.Limit(max), cancellationToken),
            ids => store.ReadManyAsync("Patient", ids, cancellationToken),
            keys, patient.Id, max, maxCandidates, prepared);
        var parsed = new Dictionary<string, (StoredResource, Patient)>(StringComparer.Ordinal);
        foreach (var (stored, candidate) in candidates)
        {
            var result = candidate.Merged ? null : matcher.Compare(me, candidate.Person);
            compared[stored.Id] = (stored.Version, result);
            if (result?.Outcome == MatchOutcome.Link)
            {
                // The Person it joins gets its golden record from its members: parsed now, outside the transaction.
                parsed[stored.Id] = (stored, (Patient)StoredJson.Parse(stored.Json!));
            }
        }

        return new PreMatch(me, keys, compared) { Parsed = parsed, FeedEnd = feedEnd };
    }

    /// <summary>
    /// Matches a written Patient against the Patients sharing a blocking key. An automatic link joins the candidate's
    /// Person only when the Patient is alone in its own Person (so an automatic link never merges two established
    /// Persons) and no member of that Person is a known non-match; every other link or review outcome is queued once.
    /// Links are not undone by a later update: a person unlinks.
    /// </summary>
    /// <param name="created">The Patient had no version before this one, so it has no decisions and no Person yet.</param>
    /// <param name="early">What <see cref="PreMatchAsync"/> found for this very content before the transaction, if anything.</param>
    public async Task<LinkOutcome> OnPatientWrittenAsync(Patient patient, bool created, CancellationToken cancellationToken, PreMatch? early = null)
    {
        var id = patient.Id!;
        if (IsMerged(patient))
        {
            return new LinkOutcome(false, 0);
        }

        var me = early?.Me ?? Prepare(patient);
        var keys = early?.Keys ?? KeysOf(me, matcher);
        // Two records of one person share a key: taking the keys' locks in one order serialises their linking on
        // PostgreSQL without deadlock, so two concurrent writes cannot each create a Person for the same person.
        foreach (var key in keys)
        {
            await Session.LockAsync("mpi:" + key, cancellationToken);
        }

        var person = created ? null : await PersonOfAsync(id, cancellationToken);
        var decisions = created ? [] : await DecisionsAsync(id, cancellationToken);
        var noLink = NoLinks(decisions, id);
        var decided = decisions.Select(t => ReviewTasks.Pair(t)).OfType<(string A, string B)>().Select(p => MpiCodes.PairKey(p.A, p.B)).ToHashSet(StringComparer.Ordinal);

        var results = new List<(string Id, MatchResult Result)>();
        foreach (var (other, result) in await CompareCandidatesAsync(me, keys, id, early, cancellationToken))
        {
            if (result.Outcome != MatchOutcome.NoMatch && !noLink.Contains(other))
            {
                results.Add((other, result));
            }
        }

        // A reviewer decides about people, not every pair: at most one review per other Person, and only the strongest few,
        // so a crowd of similar records cannot turn each write into hundreds of review tasks.
        var reviewed = new HashSet<string>(StringComparer.Ordinal);
        var linked = false;
        var reviews = 0;
        foreach (var (other, result) in results.OrderBy(r => r.Result.Outcome).ThenByDescending(r => r.Result.Weight))
        {
            var theirs = await PersonOfAsync(other, cancellationToken);
            if (person is not null && theirs is not null && theirs.Id == person.Id)
            {
                continue;
            }

            var alone = person is null || Members(person).All(m => m == id);
            if (result.Outcome == MatchOutcome.Link && alone && await CanJoinAsync(me, id, theirs, other, noLink, cancellationToken))
            {
                if (person is not null)
                {
                    await RemoveAsync(person, id, cancellationToken);
                }

                person = theirs ?? NewPerson(Link(other, MpiCodes.Automatic, null));
                person.Link.Add(Link(id, MpiCodes.Automatic, result));
                linked = true;
                continue;
            }

            if (reviewed.Count < MaxReviewsPerWrite && reviewed.Add(theirs?.Id ?? other) && decided.Add(MpiCodes.PairKey(id, other)))
            {
                await writer.WriteAsync(ReviewTasks.ForReview(id, other, result, now), cancellationToken);
                reviews++;
            }
        }

        await SaveAsync(person ?? NewPerson(Link(id, MpiCodes.Automatic, null)), cancellationToken, patient);

        return new LinkOutcome(linked, reviews);
    }

    /// <summary>
    /// A Patient written with a <c>replaced-by</c> link (R4 Patient.link), as an HL7 v2 A40 maps to: puts it in its
    /// survivor's Person as a person's decision, as <see cref="MergeAsync"/> does. Nothing happens when the survivor is not
    /// a current, unmerged Patient (the link then records the sender's merge, and a person can link the records), or when
    /// the two already share a Person by a person's decision (the same merge sent again).
    /// </summary>
    public async Task OnPatientMergedAsync(string source, string survivor, CancellationToken cancellationToken)
    {
        if (source == survivor || !FhirIds.IsValidId(survivor)
            || await Session.ReadAsync("Patient", survivor, cancellationToken) is not { Json: { } json }
            || IsMerged((Patient)StoredJson.Parse(json)))
        {
            return;
        }

        if (await PersonOfAsync(source, cancellationToken) is { } person
            && person.Link.Count(l => (TargetId(l) == source || TargetId(l) == survivor) && Origin(l) == MpiCodes.Manual) == 2)
        {
            return;
        }

        await LinkAsync(survivor, source, cancellationToken);
    }

    /// <summary>The id of the Patient this one was merged into (its <c>replaced-by</c> link), or null.</summary>
    public static string? MergedInto(Patient patient) =>
        patient.Link.FirstOrDefault(l => l.Type == Patient.LinkType.ReplacedBy)?.Other?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal)
            ? r["Patient/".Length..]
            : null;

    /// <summary>A deleted Patient leaves its Person; a Person left with no one is deleted.</summary>
    public async Task OnPatientDeletedAsync(string id, CancellationToken cancellationToken)
    {
        if (await PersonOfAsync(id, cancellationToken) is { } person)
        {
            await RemoveAsync(person, id, cancellationToken);
        }
    }

    // ---- decisions by people -----------------------------------------------------------------------------------

    /// <summary>Puts two Patients in one Person by a person's decision: their Persons become one.</summary>
    public async Task<Person> LinkAsync(string a, string b, CancellationToken cancellationToken)
    {
        RequireDifferent(a, b, "link");
        await RequirePatientAsync(a, "source", cancellationToken);
        await RequirePatientAsync(b, "target", cancellationToken);
        var pa = await PersonOfAsync(a, cancellationToken) ?? NewPerson(Link(a, MpiCodes.Manual, null));
        var pb = await PersonOfAsync(b, cancellationToken);
        if (pb is not null && pb.Id != pa.Id)
        {
            foreach (var link in pb.Link)
            {
                if (!Members(pa).Contains(TargetId(link)))
                {
                    pa.Link.Add((Person.LinkComponent)link.DeepCopy());
                }
            }

            await writer.DeleteAsync("Person", pb.Id!, cancellationToken);
        }

        // The decision is about both records: both links become a person's decision, each where it was, because the order
        // of the links is the order the sources joined in, which the golden record's survivorship follows.
        SetLink(pa, Link(a, MpiCodes.Manual, null));
        SetLink(pa, Link(b, MpiCodes.Manual, null));
        foreach (var task in await DecisionsAsync(a, cancellationToken))
        {
            if (ReviewTasks.Pair(task) is var (x, y) && MpiCodes.PairKey(x, y) == MpiCodes.PairKey(a, b) && task.Status != FhirTask.TaskStatus.Completed)
            {
                await SetStatusAsync(task, FhirTask.TaskStatus.Completed, cancellationToken);
            }
        }

        return await SaveAsync(pa, cancellationToken);
    }

    /// <summary>
    /// Takes <paramref name="a"/> out of the Person it shares with <paramref name="b"/> into a Person of its own, and
    /// records that the pair are different people, so neither write of either record links them again automatically.
    /// </summary>
    public async Task<Person> UnlinkAsync(string a, string b, CancellationToken cancellationToken)
    {
        RequireDifferent(a, b, "unlink");
        await RequirePatientAsync(a, "source", cancellationToken);
        await RequirePatientAsync(b, "target", cancellationToken);
        var person = await PersonOfAsync(a, cancellationToken);
        if (person is null || !Members(person).Contains(b))
        {
            throw FhirException.Unprocessable($"Patient/{a} and Patient/{b} are not linked to the same Person.");
        }

        await RecordNoLinkAsync(a, b, cancellationToken);
        await RemoveAsync(person, a, cancellationToken);
        return await SaveAsync(NewPerson(Link(a, MpiCodes.Manual, null)), cancellationToken);
    }

    /// <summary>Accepts a queued pair: links it as a person's decision.</summary>
    public async Task<FhirTask> AcceptAsync(string taskId, CancellationToken cancellationToken)
    {
        var (task, a, b) = await PendingReviewAsync(taskId, cancellationToken);
        await LinkAsync(a, b, cancellationToken);
        return (FhirTask)StoredJson.Parse((await Session.ReadAsync("Task", taskId, cancellationToken))!.Json!);
    }

    /// <summary>Rejects a queued pair: the two are different people and never link automatically.</summary>
    public async Task<FhirTask> RejectAsync(string taskId, CancellationToken cancellationToken)
    {
        var (task, a, b) = await PendingReviewAsync(taskId, cancellationToken);
        if (await PersonOfAsync(a, cancellationToken) is { } person && Members(person).Contains(b))
        {
            await UnlinkAsync(a, b, cancellationToken);
        }

        return await SetStatusAsync(task, FhirTask.TaskStatus.Rejected, cancellationToken);
    }

    /// <summary>
    /// Merges <paramref name="source"/> into <paramref name="target"/> (FHIR R4 Patient.link): the source gets a
    /// <c>replaced-by</c> link and is made inactive, the target gets a <c>replaces</c> link, and both end up in one Person.
    /// Resources that refer to the source are not rewritten: they belong to the systems that sent them, and readers follow
    /// the <c>replaced-by</c> link or the Person.
    /// </summary>
    public async Task<Patient> MergeAsync(string source, string target, CancellationToken cancellationToken)
    {
        RequireDifferent(source, target, "merge");
        var from = await RequirePatientAsync(source, "source", cancellationToken);
        var into = await RequirePatientAsync(target, "target", cancellationToken);
        if (IsMerged(from))
        {
            throw FhirException.Unprocessable($"Patient/{source} was already merged into another record.", "source-patient");
        }

        if (IsMerged(into))
        {
            throw FhirException.Unprocessable($"Patient/{target} was merged into another record and cannot be a merge target.", "target-patient");
        }

        from.Active = false;
        from.Link.Add(new Patient.LinkComponent { Other = new ResourceReference("Patient/" + target), Type = Patient.LinkType.ReplacedBy });
        into.Link.Add(new Patient.LinkComponent { Other = new ResourceReference("Patient/" + source), Type = Patient.LinkType.Replaces });
        await writer.WriteAsync(from, cancellationToken);
        var result = await writer.WriteAsync(into, cancellationToken);
        await LinkAsync(target, source, cancellationToken);
        return (Patient)StoredJson.Parse(result.Json!);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static void RequireDifferent(string a, string b, string what)
    {
        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            throw FhirException.Unprocessable($"Cannot {what} Patient/{a} with itself: give two different records.");
        }
    }

    private async Task<Patient> RequirePatientAsync(string id, string role, CancellationToken cancellationToken)
    {
        var stored = FhirIds.IsValidId(id) ? await Session.ReadAsync("Patient", id, cancellationToken) : null;
        if (stored is null || stored.Deleted)
        {
            throw FhirException.NotFound($"The {role} Patient/{id} is not known.");
        }

        return (Patient)StoredJson.Parse(stored.Json!);
    }

    private async Task<(FhirTask Task, string A, string B)> PendingReviewAsync(string taskId, CancellationToken cancellationToken)
    {
        var stored = FhirIds.IsValidId(taskId) ? await Session.ReadAsync("Task", taskId, cancellationToken) : null;
        if (stored is null || stored.Deleted || StoredJson.Parse(stored.Json!) is not FhirTask task || !MpiCodes.IsManaged(task)
            || ReviewTasks.Code(task) != MpiCodes.ReviewCode || ReviewTasks.Pair(task) is not var (a, b))
        {
            throw FhirException.NotFound($"Task/{taskId} is not a review of the master person index.");
        }

        if (task.Status != FhirTask.TaskStatus.Requested)
        {
            throw FhirException.Unprocessable($"Task/{taskId} was already decided ({Hl7.Fhir.Utility.EnumUtility.GetLiteral(task.Status)}).");
        }

        return (task, a, b);
    }

    private async Task<FhirTask> SetStatusAsync(FhirTask task, FhirTask.TaskStatus status, CancellationToken cancellationToken)
    {
        task.Status = status;
        task.LastModifiedElement = new FhirDateTime(now);
        var result = await writer.WriteAsync(task, cancellationToken);
        return (FhirTask)StoredJson.Parse(result.Json!);
    }

    private async Task RecordNoLinkAsync(string a, string b, CancellationToken cancellationToken)
    {
        var existing = (await DecisionsAsync(a, cancellationToken))
            .FirstOrDefault(t => ReviewTasks.Pair(t) is var (x, y) && MpiCodes.PairKey(x, y) == MpiCodes.PairKey(a, b));
        if (existing is null)
        {
            await writer.WriteAsync(ReviewTasks.NoLink(a, b, now), cancellationToken);
        }
        else if (existing.Status != FhirTask.TaskStatus.Rejected)
        {
            await SetStatusAsync(existing, FhirTask.TaskStatus.Rejected, cancellationToken);
        }
    }

    /// <summary>A Patient may join a Person only if no member is a known non-match or certainly another person.</summary>
    private async Task<bool> CanJoinAsync(PreparedPerson me, string id, Person? person, string candidate, HashSet<string> noLink, CancellationToken cancellationToken)
    {
        foreach (var member in person is null ? [candidate] : Members(person))
        {
            if (member == id || noLink.Contains(member))
            {
                if (noLink.Contains(member))
                {
                    return false;
                }

                continue;
            }

            var stored = confirmed.TryGetValue(member, out var known) ? known.Stored : await Session.ReadAsync("Patient", member, cancellationToken);
            if (stored is { Json: not null }
                && prepared.Get(stored) is { Merged: false } other
                && matcher.Compare(me, other.Person).Grade == MatchGrade.CertainlyNot)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The record compared with the current, unmerged Patients sharing a blocking key (see <see cref="CandidateBlocks"/>), as
    /// this transaction sees them. A candidate compared before the transaction at the version still current is not read
    /// again (one statement checks every candidate's version); the rest, written since or new to the blocks, are.
    /// </summary>
    private async Task<List<(string Id, MatchResult Result)>> CompareCandidatesAsync(PreparedPerson me, IReadOnlyList<string> keys, string self,
        PreMatch? early, CancellationToken cancellationToken)
    {
        if (early?.FeedEnd is { } feedEnd
            && await index.ChangedSinceAsync(Session, "Patient", feedEnd, MpiCodes.BlockParam, keys, MaxChangedSincePreMatch, cancellationToken) is { } changed)
        {
            return await CompareChangedAsync(me, keys, self, early, changed, cancellationToken);
        }

        var max = matcher.Settings.Blocking.MaxBlockSize;
        var chosen = CandidateBlocks.Choose(
            await index.TokenPostingsAsync(Session, "Patient", MpiCodes.BlockParam, keys, CandidateBlocks.Limit(max), cancellationToken), self, max, maxCandidates);
        var versions = await index.CurrentVersionsAsync(Session, "Patient", chosen, cancellationToken);
        var compared = new List<(string, MatchResult)>(chosen.Count);
        foreach (var id in chosen)
        {
            if (!versions.TryGetValue(id, out var version))
            {
                continue;
            }

            if (early is not null && early.Compared.TryGetValue(id, out var seen) && seen.Version == version)
            {
                if (early.Parsed.TryGetValue(id, out var parsed))
                {
                    confirmed[id] = parsed;
                }

                if (seen.Result is { } result)
                {
                    compared.Add((id, result));
                }
            }
            else if (await Session.ReadAsync("Patient", id, cancellationToken) is { Json: not null } stored && prepared.Get(stored) is { Merged: false } candidate)
            {
                compared.Add((id, matcher.Compare(me, candidate.Person)));
            }
        }

        return compared;
    }

    /// <summary>Patients written since a pre-match beyond which the blocks are read again in full instead.</summary>
    private const int MaxChangedSincePreMatch = 256;

    /// <summary>
    /// Confirms a pre-match from what was written since it, instead of reading the blocks again: the pre-match's links and
    /// reviews still at the version compared are kept; every Patient written after the pre-match's feed position that
    /// shares a blocking key (changed candidates, and new records) is read in this transaction and compared. SQLite and
    /// PostgreSQL number change events in commit order, and the key locks make a concurrent writer of a shared key commit
    /// first or wait, so nothing that shares a key is missed.
    /// </summary>
    private async Task<List<(string Id, MatchResult Result)>> CompareChangedAsync(PreparedPerson me, IReadOnlyList<string> keys, string self,
        PreMatch early, IReadOnlyCollection<string> changed, CancellationToken cancellationToken)
    {
        var compared = new List<(string, MatchResult)>();
        // A purge removes a record without a change event: the version check catches it for the outcomes that matter.
        var kept = early.Compared
            .Where(c => c.Value.Result is { Outcome: not MatchOutcome.NoMatch } && !changed.Contains(c.Key))
            .Select(c => c.Key)
            .ToList();
        var versions = await index.CurrentVersionsAsync(Session, "Patient", kept, cancellationToken);
        foreach (var id in kept)
        {
            if (versions.TryGetValue(id, out var version) && version == early.Compared[id].Version)
            {
                if (early.Parsed.TryGetValue(id, out var parsed))
                {
                    confirmed[id] = parsed;
                }

                compared.Add((id, early.Compared[id].Result!));
            }
        }

        var mine = keys.ToHashSet(StringComparer.Ordinal);
        foreach (var id in changed)
        {
            if (id == self
                || await Session.ReadAsync("Patient", id, cancellationToken) is not { Json: not null, Deleted: false } stored
                || prepared.Get(stored) is not { Merged: false } candidate
                || !Blocking.KeysFor(candidate.Person, matcher.Settings.Blocking.Rules).Any(mine.Contains))
            {
                continue;
            }

            compared.Add((id, matcher.Compare(me, candidate.Person)));
        }

        return compared;
    }

    private async Task<Person?> PersonOfAsync(string patientId, CancellationToken cancellationToken)
    {
        var ids = await Session.FindIdsAsync(ByToken("Person", MpiCodes.LinkParam, patientId, 1), cancellationToken);
        if (ids.Count != 1 || await Session.ReadAsync("Person", ids[0], cancellationToken) is not { Json: { } json })
        {
            return null;
        }

        personJson[ids[0]] = json;
        return (Person)StoredJson.Parse(json);
    }

    private async Task<List<FhirTask>> DecisionsAsync(string patientId, CancellationToken cancellationToken)
    {
        var tasks = new List<FhirTask>();
        foreach (var id in await Session.FindIdsAsync(ByToken("Task", MpiCodes.SubjectParam, patientId, MaxDecisions), cancellationToken))
        {
            if (await Session.ReadAsync("Task", id, cancellationToken) is { Json: { } json } && StoredJson.Parse(json) is FhirTask task)
            {
                tasks.Add(task);
            }
        }

        return tasks;
    }

    private static HashSet<string> NoLinks(IEnumerable<FhirTask> decisions, string self) =>
        decisions.Where(t => t.Status == FhirTask.TaskStatus.Rejected)
            .Select(t => ReviewTasks.Pair(t)).OfType<(string A, string B)>()
            .Select(p => p.A == self ? p.B : p.A)
            .ToHashSet(StringComparer.Ordinal);

    internal static StoreQuery ByToken(string type, string param, string code, int count) =>
        new(type, [new TokenClause(param, [new TokenMatch(null, code, false)])], count) { Scope = MpiCodes.Lookup };

    private static string? TargetId(Person.LinkComponent link) =>
        link.Target?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) ? r["Patient/".Length..] : null;

    private static string? Origin(Person.LinkComponent link) => (link.GetExtension(MpiCodes.LinkOrigin)?.Value as Code)?.Value;

    private static Person NewPerson(Person.LinkComponent link) => new()
    {
        Meta = new Meta { Tag = [MpiCodes.ManagedTag] },
        Active = true,
        Link = [link],
    };

    private Person.LinkComponent Link(string patientId, string origin, MatchResult? result)
    {
        var link = new Person.LinkComponent
        {
            Target = new ResourceReference("Patient/" + patientId),
            // R4 IdentityAssuranceLevel: level4 for a person's decision, level3 for the matcher's.
            Assurance = origin == MpiCodes.Manual ? Person.IdentityAssuranceLevel.Level4 : Person.IdentityAssuranceLevel.Level3,
        };
        link.Extension.Add(new Extension(MpiCodes.LinkOrigin, new Code(origin)));
        link.Extension.Add(new Extension(MpiCodes.LinkDate, new FhirDateTime(now)));
        if (result is not null)
        {
            link.Extension.Add(new Extension(MpiCodes.LinkScore, new FhirDecimal(decimal.Round((decimal)result.Weight, 2))));
            link.Extension.Add(new Extension(MpiCodes.LinkRule, new Code(result.Rule.ToString())));
        }

        return link;
    }

    /// <summary>Replaces the Person's link to the same Patient in place, or appends the link when there is none.</summary>
    private static void SetLink(Person person, Person.LinkComponent link)
    {
        var index = person.Link.FindIndex(l => TargetId(l) == TargetId(link));
        if (index < 0)
        {
            person.Link.Add(link);
        }
        else
        {
            person.Link[index] = link;
        }
    }

    private async Task RemoveAsync(Person person, string patientId, CancellationToken cancellationToken)
    {
        person.Link.RemoveAll(l => TargetId(l) == patientId);
        if (person.Link.Count == 0)
        {
            if (!string.IsNullOrEmpty(person.Id))
            {
                await writer.DeleteAsync("Person", person.Id, cancellationToken);
            }

            return;
        }

        await SaveAsync(person, cancellationToken);
    }

    /// <summary>Refreshes the golden record from the members and writes the Person if anything changed.</summary>
    /// <param name="written">The Patient this write just stored, if it is a member: used as it is rather than read back.</param>
    private async Task<Person> SaveAsync(Person person, CancellationToken cancellationToken, Patient? written = null)
    {
        var before = string.IsNullOrEmpty(person.Id) ? null
            : personJson.TryGetValue(person.Id, out var read) ? read
            : (await Session.ReadAsync("Person", person.Id, cancellationToken))?.Json;
        var members = new List<Patient>();
        foreach (var id in Members(person))
        {
            if (written is not null && written.Id == id)
            {
                members.Add(written);
            }
            else if (confirmed.TryGetValue(id, out var known))
            {
                members.Add(known.Patient);
            }
            else if (await Session.ReadAsync("Patient", id, cancellationToken) is { Json: { } json })
            {
                members.Add((Patient)StoredJson.Parse(json));
            }
        }

        SetGoldenRecord(person, members);
        if (before is { } old && Comparable(old) == Comparable(FhirSerialization.ToJson(person)))
        {
            return person;
        }

        // The write gives the Person its id and meta; what was written is this very object, so it is not parsed back.
        var saved = await writer.WriteAsync(person, cancellationToken);
        personJson[saved.Id] = saved.Json!;
        return person;
    }

    /// <summary>
    /// The golden record, by survivorship: name, sex, birth date, address and telecom of the authoritative member, which
    /// is the first unmerged one in link order (the order the sources joined the Person in), as it is now; and every
    /// member's identifiers, valid NHS Numbers first, so a search by any linked identifier finds the Person. A source that
    /// joins later never replaces the demographics of one already established, however recently it was written: a
    /// mistaken or invented record that the matcher links must not rewrite the person everyone else sees.
    /// </summary>
    /// <param name="members">The member Patients in the Person's link order.</param>
    internal static void SetGoldenRecord(Person person, IReadOnlyList<Patient> members)
    {
        var authoritative = members.FirstOrDefault(m => !IsMerged(m)) ?? members.FirstOrDefault();
        if (authoritative is not null)
        {
            person.Name = authoritative.Name.Select(n => (HumanName)n.DeepCopy()).ToList();
            person.Gender = authoritative.Gender;
            person.BirthDate = authoritative.BirthDate;
            person.Address = authoritative.Address.Select(a => (Address)a.DeepCopy()).ToList();
            person.Telecom = authoritative.Telecom.Select(t => (ContactPoint)t.DeepCopy()).ToList();
        }
        else
        {
            person.Name = [];
            person.Gender = null;
            person.BirthDate = null;
            person.Address = [];
            person.Telecom = [];
        }

        person.Identifier = members.SelectMany(m => m.Identifier)
            .Where(i => !string.IsNullOrEmpty(i.Value))
            .GroupBy(i => (i.System, i.Value))
            .Select(g => (Identifier)g.First().DeepCopy())
            .OrderBy(i => i.System == NhsNumber.IdentifierSystem && NhsNumber.IsValid(i.Value) ? 0 : 1)
            .ToList();
    }

    // The stored JSON without meta (version and time differ), to tell whether a rewrite would change anything.
    private static string Comparable(string json)
    {
        var resource = StoredJson.Parse(json);
        resource.Meta = null;
        return FhirSerialization.ToJson(resource);
    }
}

/// <summary>What matching one Patient did: whether it joined another record's Person, and how many reviews it opened.</summary>
internal readonly record struct LinkOutcome(bool Linked, int Reviews);

/// <summary>
/// Matching done from committed data before a Patient's write transaction starts (<see cref="PersonLinker.PreMatchAsync"/>):
/// the record prepared, its blocking keys, and each candidate compared, by the version compared. Inside the transaction
/// only what changed since is read again, so a single-writer store does not hold its writer while candidates are read,
/// parsed and compared.
/// </summary>
/// <param name="Compared">Per candidate id: the version compared and the result (null: a merged record, no candidate).</param>
internal sealed record PreMatch(PreparedPerson Me, IReadOnlyList<string> Keys, IReadOnlyDictionary<string, (int Version, MatchResult? Result)> Compared)
{
    /// <summary>The change feed's end before the candidates were read: Patients written after it are compared again.</summary>
    public long? FeedEnd { get; init; }

    /// <summary>The candidates the record would link to, read and parsed before the transaction, for the golden record.</summary>
    public IReadOnlyDictionary<string, (StoredResource Stored, Patient Patient)> Parsed { get; init; } =
        new Dictionary<string, (StoredResource, Patient)>(StringComparer.Ordinal);
}
