using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Identity;

/// <summary>
/// The master person index's operations, all through the one door: <c>Patient/$match</c>, the IHE PIXm cross-reference,
/// link, unlink, merge and the review queue. Linking on every Patient write is <see cref="MpiWriteHook"/>'s job.
/// </summary>
public sealed class MasterPersonIndex(RecordService records, IPersonIndexStore index, MpiOptions options, PersonMatcher matcher, TimeProvider clock)
{
    /// <summary>The most records one $match answers, whatever count asks for.</summary>
    public const int MaxMatchCount = 100;

    /// <summary>The most review tasks one page of the queue lists.</summary>
    public const int MaxQueuePage = 500;

    private readonly PreparedPatients prepared = new(options.CandidateCacheSize);

    /// <summary>
    /// FHIR R4 Patient $match (patient-operation-match): the Patients that may be the person described by
    /// <c>resource</c>, best first, as a searchset Bundle whose entries carry <c>search.score</c> (the match probability)
    /// and the match-grade extension. With <c>onlyCertainMatches</c> only <c>certain</c> matches are returned.
    /// </summary>
    public Task<Bundle> MatchAsync(RequestContext context, Parameters parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(parameters);
        var resource = parameters.Parameter.FirstOrDefault(p => p.Name == "resource")?.Resource
            ?? throw FhirException.BadRequest("$match needs a 'resource' parameter holding the Patient to match.", "Parameters.parameter");
        if (resource is not Patient probe)
        {
            throw FhirException.BadRequest($"$match matches Patients: the 'resource' parameter holds a {resource.TypeName}.", "Parameters.parameter.resource");
        }

        var onlyCertain = parameters.Parameter.FirstOrDefault(p => p.Name == "onlyCertainMatches")?.Value switch
        {
            null => false,
            FhirBoolean b => b.Value ?? false,
            _ => throw FhirException.BadRequest("'onlyCertainMatches' must be a boolean.", "Parameters.parameter"),
        };
        var count = parameters.Parameter.FirstOrDefault(p => p.Name == "count")?.Value switch
        {
            null => options.DefaultMatchCount,
            Integer i when i.Value is > 0 => Math.Min(i.Value.Value, MaxMatchCount),
            PositiveInt i when i.Value is > 0 => Math.Min(i.Value.Value, MaxMatchCount),
            _ => throw FhirException.BadRequest("'count' must be a positive integer.", "Parameters.parameter"),
        };

        var me = PersonLinker.Prepare(probe);
        return records.ReadOperationAsync(context, "operation $match", "Patient", async reader =>
        {
            // Only the chosen candidates are read and compared, from their prepared form; only those answered are parsed in full.
            var max = matcher.Settings.Blocking.MaxBlockSize;
            var candidates = await CandidateBlocks.ReadAsync(
                CandidateBlocks.KeyByKey(query => reader.FindIdsAsync(query, cancellationToken), max), ids => reader.SearchAsync(new StoreQuery("Patient", [new IdClause(ids)], ids.Count) { Scope = MpiCodes.Lookup }, cancellationToken),
                Blocking.KeysFor(me, matcher.Settings.Blocking.Rules).Distinct(StringComparer.Ordinal).ToList(), null, max, options.MaxCandidates, prepared);
            var ranked = candidates
                .Where(c => !c.Prepared.Merged)
                .Select(c => (c.Stored, Result: matcher.Compare(me, c.Prepared.Person)))
                .Where(c => c.Result.Grade is MatchGrade.Certain or MatchGrade.Probable or MatchGrade.Possible)
                .Where(c => !onlyCertain || c.Result.Grade == MatchGrade.Certain)
                .OrderBy(c => c.Result.Grade)
                .ThenByDescending(c => c.Result.Weight)
                .ThenBy(c => c.Stored.Id, StringComparer.Ordinal)
                .Take(count)
                .ToList();

            var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = FhirIds.NewId(), Total = ranked.Count, Meta = new Meta { LastUpdated = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds()) } };
            foreach (var (stored, result) in ranked)
            {
                var patient = StoredJson.Parse(stored.Json!);
                reader.Disclose(stored);
                var search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match, Score = decimal.Round((decimal)result.Probability, 4) };
                search.Extension.Add(new Extension(MpiCodes.MatchGrade, new Code(ReviewTasks.GradeCode(result.Grade!.Value))));
                bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"{context.BaseUrl}/Patient/{stored.Id}", Resource = patient, Search = search });
            }

            return bundle;
        }, cancellationToken);
    }

    /// <summary>
    /// IHE PIXm ITI-83 (<c>Patient/$ihe-pix</c>): the identifiers and Patient records linked to the Patient with
    /// <paramref name="sourceIdentifier"/> (<c>system|value</c>), optionally only those in <paramref name="targetSystems"/>.
    /// An unknown identifier is 404, as ITI-83 asks.
    /// </summary>
    public Task<Parameters> CrossReferenceAsync(RequestContext context, string? sourceIdentifier, IReadOnlyList<string> targetSystems, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(targetSystems);
        var bar = sourceIdentifier?.IndexOf('|', StringComparison.Ordinal) ?? -1;
        if (sourceIdentifier is null || bar <= 0 || bar == sourceIdentifier.Length - 1)
        {
            throw FhirException.BadRequest("sourceIdentifier must be given as system|value (the assigning authority and the identifier).", "sourceIdentifier");
        }

        var system = sourceIdentifier[..bar];
        var value = sourceIdentifier[(bar + 1)..];
        if (system == NhsNumber.IdentifierSystem && NhsNumber.TryParse(value, out var nhs))
        {
            value = nhs.Value;
        }

        return records.ReadOperationAsync(context, "operation $ihe-pix", "Patient", async reader =>
        {
            var sources = await reader.SearchAsync(new StoreQuery("Patient", [new TokenClause("identifier", [new TokenMatch(system, value, false)])], 20) { Scope = MpiCodes.Lookup }, cancellationToken);
            if (sources.Count == 0)
            {
                throw FhirException.NotFound("sourceIdentifier Patient Identifier not found");
            }

            var linked = new Dictionary<string, Patient>(StringComparer.Ordinal);
            foreach (var source in sources)
            {
                var persons = await reader.SearchAsync(PersonLinker.ByToken("Person", MpiCodes.LinkParam, source.Id, 1), cancellationToken);
                var members = persons.Count == 1 ? PersonLinker.Members((Person)StoredJson.Parse(persons[0].Json!)).ToList() : [source.Id];
                foreach (var id in members)
                {
                    if (!linked.ContainsKey(id) && await reader.ReadAsync("Patient", id, cancellationToken) is { Json: { } json } stored)
                    {
                        linked[id] = (Patient)StoredJson.Parse(json);
                        reader.Disclose(stored);
                    }
                }
            }

            bool Wanted(string? s) => targetSystems.Count == 0 || (s is not null && targetSystems.Contains(s, StringComparer.Ordinal));
            var result = new Parameters();
            var seen = new HashSet<(string?, string?)> { (system, value) };
            foreach (var (id, patient) in linked.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                var isSource = sources.Any(s => s.Id == id);
                if (!isSource && (targetSystems.Count == 0 || patient.Identifier.Any(i => Wanted(i.System))))
                {
                    result.Parameter.Add(new Parameters.ParameterComponent { Name = "targetId", Value = new ResourceReference("Patient/" + id) });
                }

                foreach (var identifier in patient.Identifier.Where(i => Wanted(i.System) && !string.IsNullOrEmpty(i.Value)))
                {
                    if (seen.Add((identifier.System, identifier.Value)))
                    {
                        result.Parameter.Add(new Parameters.ParameterComponent { Name = "targetIdentifier", Value = new Identifier(identifier.System, identifier.Value) });
                    }
                }
            }

            return result;
        }, cancellationToken);
    }

    /// <summary>Merges one Patient into another (see <see cref="PersonLinker.MergeAsync"/>); answers the surviving Patient.</summary>
    public Task<Patient> MergeAsync(RequestContext context, string source, string target, CancellationToken cancellationToken)
    {
        RequireAdministrator(context);
        return records.WriteOperationAsync(context, "operation $merge", "Patient", FhirInteraction.Update,
            writer => Linker(writer).MergeAsync(source, target, cancellationToken), cancellationToken);
    }

    /// <summary>Links two Patients as one person by a person's decision; answers the Person.</summary>
    public Task<Person> LinkAsync(RequestContext context, string source, string target, CancellationToken cancellationToken)
    {
        RequireAdministrator(context);
        return records.WriteOperationAsync(context, "operation $mpi-link", "Person", FhirInteraction.Update,
            writer => Linker(writer).LinkAsync(source, target, cancellationToken), cancellationToken);
    }

    /// <summary>Separates <paramref name="source"/> from <paramref name="target"/> for good; answers the source's new Person.</summary>
    public Task<Person> UnlinkAsync(RequestContext context, string source, string target, CancellationToken cancellationToken)
    {
        RequireAdministrator(context);
        return records.WriteOperationAsync(context, "operation $mpi-unlink", "Person", FhirInteraction.Update,
            writer => Linker(writer).UnlinkAsync(source, target, cancellationToken), cancellationToken);
    }

    /// <summary>Accepts a review; for the callers the access policy lets change review Tasks (see <see cref="RequireReviewerAsync"/>).</summary>
    public Task<FhirTask> AcceptAsync(RequestContext context, string taskId, CancellationToken cancellationToken) =>
        records.WriteOperationAsync(context, "operation $mpi-accept", "Task", FhirInteraction.Update, async writer =>
        {
            await RequireReviewerAsync(context, taskId, cancellationToken);
            return await Linker(writer).AcceptAsync(taskId, cancellationToken);
        }, cancellationToken);

    /// <summary>Rejects a review; for the callers the access policy lets change review Tasks.</summary>
    public Task<FhirTask> RejectAsync(RequestContext context, string taskId, CancellationToken cancellationToken) =>
        records.WriteOperationAsync(context, "operation $mpi-reject", "Task", FhirInteraction.Update, async writer =>
        {
            await RequireReviewerAsync(context, taskId, cancellationToken);
            return await Linker(writer).RejectAsync(taskId, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// The review tasks awaiting a decision, oldest first by id, as a searchset Bundle of Task. They are read through the
    /// access policy like <c>GET Task</c>: review Tasks are the data category <c>identity-review</c>, so a caller whose
    /// role is not allowed that category gets an empty queue, exactly as their Task search finds none.
    /// </summary>
    public Task<Bundle> ReviewQueueAsync(RequestContext context, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (count < 1)
        {
            throw FhirException.BadRequest("_count must be a positive integer.", "_count");
        }

        return records.ReadOperationAsync(context, "operation $mpi-reviews", "Task", async reader =>
        {
            var tasks = await reader.SearchAsync(
                PersonLinker.ByToken("Task", MpiCodes.StatusParam, ReviewTasks.StatusKey(MpiCodes.ReviewCode, FhirTask.TaskStatus.Requested), Math.Min(count, MaxQueuePage)),
                cancellationToken);
            var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = FhirIds.NewId(), Total = tasks.Count, Meta = new Meta { LastUpdated = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds()) } };
            foreach (var stored in tasks)
            {
                reader.Disclose(stored);
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    FullUrl = $"{context.BaseUrl}/Task/{stored.Id}",
                    Resource = StoredJson.Parse(stored.Json!),
                    Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match },
                });
            }

            return bundle;
        }, cancellationToken);
    }

    /// <summary>Patients one page of a rematch lists; each is then matched in its own transaction.</summary>
    public const int RematchPage = 200;

    /// <summary>
    /// Re-runs matching for every stored Patient, oldest write first, as if each had just been written: its blocking keys
    /// are indexed again and it is matched against the Patients before it, each Patient in its own transaction through the
    /// one door, so no-link decisions, manual links and the review cap apply exactly as on a write. For a store loaded
    /// with the MPI off, or after the thresholds or blocking rules change. Safe to run again: a Patient already linked is
    /// not moved (an automatic link never merges established Persons) and a pair is queued once.
    /// </summary>
    public async Task<RematchSummary> RematchAsync(RequestContext context, IProgress<RematchSummary>? progress, CancellationToken cancellationToken)
    {
        RequireAdministrator(context);
        if (!options.Enabled)
        {
            throw new InvalidOperationException($"The master person index is off ({MpiOptions.SectionName}:Enabled=false): turn it on to rematch.");
        }

        var summary = new RematchSummary(0, 0, 0);
        PageCursor? after = null;
        // Oldest write first, so each Patient meets the same earlier records the incremental path would have shown it.
        var order = new SortBy("_lastUpdated", SortSource.LastUpdated, false);
        do
        {
            var page = await index.SearchAsync(new StoreQuery("Patient", [], RematchPage, After: after) { Sort = [order], Scope = QueryScope.Internal("re-matching every Patient") }, cancellationToken);
            foreach (var listed in page.Resources)
            {
                var outcome = await records.WriteOperationAsync(context, "operation $mpi-rematch", "Patient", FhirInteraction.Update, async writer =>
                    // Read again inside the transaction: the page may be stale by now.
                    await writer.ReindexAsync("Patient", listed.Id, cancellationToken) is Patient patient
                        ? await Linker(writer).OnPatientWrittenAsync(patient, created: false, cancellationToken)
                        : new LinkOutcome(false, 0),
                    cancellationToken);
                summary = new RematchSummary(summary.Patients + 1, summary.Links + (outcome.Linked ? 1 : 0), summary.Reviews + outcome.Reviews);
            }

            progress?.Report(summary);
            after = page.HasMore ? page.NextCursor : null;
        }
        while (after is not null);

        return summary;
    }

    /// <summary>
    /// <c>Patient/$mpi-status</c>: how Patient writes are matched and, with queued matching, where the matcher is in the
    /// change feed and how many Patient writes wait for it. For administrators; it discloses no patient data.
    /// </summary>
    public async Task<Parameters> StatusAsync(RequestContext context, QueuedMatcher queue, CancellationToken cancellationToken)
    {
        RequireAdministrator(context);
        ArgumentNullException.ThrowIfNull(queue);
        var result = new Parameters();
        result.Add("enabled", new FhirBoolean(options.Enabled));
        result.Add("matching", new Code(options.Matching == MpiMatching.Queued ? "queued" : "inline"));
        if (options.Enabled && options.Matching == MpiMatching.Queued)
        {
            var status = await queue.StatusAsync(cancellationToken);
            result.Add("position", new FhirString(status.Position.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            result.Add("pending", new Integer(status.Pending));
            result.Add("pendingCapped", new FhirBoolean(status.PendingCapped));
        }

        return result;
    }

    private PersonLinker Linker(IRecordWriter writer) => new(writer, index, matcher, clock.GetUtcNow(), prepared, options.MaxCandidates);

    /// <summary>
    /// A review decision is for the callers the access policy lets change the review Task (the data category
    /// <c>identity-review</c>: system clients, and the roles the policy file allows it). To anyone else the Task reads as
    /// one that is not a review, which is also what an unknown id answers.
    /// </summary>
    private async Task RequireReviewerAsync(RequestContext context, string taskId, CancellationToken cancellationToken)
    {
        if ((await records.VisibleIdsAsync(context, "Task", [taskId], FhirInteraction.Update, cancellationToken)).Count == 0)
        {
            throw FhirException.NotFound($"Task/{taskId} is not a review of the master person index.");
        }
    }

    /// <summary>
    /// Link, unlink and merge change who a record belongs to: they are for backend systems (whose system
    /// scopes the door then checks) and users in the administrator role (<see cref="Administration.Role"/>), never a
    /// citizen or an ordinary user session.
    /// </summary>
    private static void RequireAdministrator(RequestContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!IsAdministrator(context.Principal))
        {
            throw new AccessDeniedException(AdministratorsOnly);
        }
    }

    /// <summary>Why a caller who is not an MPI administrator is refused.</summary>
    public const string AdministratorsOnly = "Master person index administration needs a system client or the " + Administration.Role + " role.";

    /// <summary>A backend system, or a user in the administrator role.</summary>
    public static bool IsAdministrator(Principal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.Kind == PrincipalKind.System
            || (principal.Kind == PrincipalKind.User && string.Equals(principal.Role, Administration.Role, StringComparison.Ordinal));
    }
}

/// <summary>What a rematch did: Patients matched, automatic links made, review tasks opened.</summary>
public sealed record RematchSummary(int Patients, int Links, int Reviews);
