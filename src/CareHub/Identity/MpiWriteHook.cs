using System.Globalization;
using CareHub.Fhir;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Identity;

/// <summary>
/// The master person index in the one door: checks NHS Numbers and birth dates on every Patient write, indexes the
/// blocking keys that find a Patient's candidates, and links each written Patient to a Person in the same transaction
/// (or, with <see cref="MpiMatching.Queued"/>, leaves that to <see cref="QueuedMatcher"/> after the commit).
/// </summary>
public sealed class MpiWriteHook(MpiOptions options, IPersonIndexStore index, PersonMatcher matcher, TimeProvider clock) : IWriteHook
{
    private readonly PreparedPatients prepared = new(options.CandidateCacheSize);

    /// <summary>With queued matching, called when a Patient write leaves its matching to <see cref="QueuedMatcher"/> (before it commits).</summary>
    public Action? Queued { get; set; }

    public IEnumerable<TokenIndexRow> IndexRows(Resource resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        switch (resource)
        {
            case Patient patient when options.Enabled && !PersonLinker.IsMerged(patient):
                // A merged-away record is no longer anyone's candidate: its survivor stands for it.
                return Blocking.KeysFor(PersonLinker.Prepare(patient), matcher.Settings.Blocking.Rules)
                    .Distinct(StringComparer.Ordinal)
                    .Select(k => new TokenIndexRow(MpiCodes.BlockParam, null, k))
                    .ToList();
            case Person person when MpiCodes.IsManaged(person):
                return PersonLinker.Members(person).Select(id => new TokenIndexRow(MpiCodes.LinkParam, null, id)).ToList();
            case FhirTask task when MpiCodes.IsManaged(task) && ReviewTasks.Pair(task) is var (a, b):
                return
                [
                    new TokenIndexRow(MpiCodes.SubjectParam, null, a),
                    new TokenIndexRow(MpiCodes.SubjectParam, null, b),
                    new TokenIndexRow(MpiCodes.PairParam, null, MpiCodes.PairKey(a, b)),
                    new TokenIndexRow(MpiCodes.StatusParam, null, ReviewTasks.StatusKey(task)),
                ];
            default:
                return [];
        }
    }

    public async Task BeforeWriteAsync(WriteHookContext write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (write.Internal)
        {
            return;
        }

        switch (write.Resource)
        {
            case Patient patient:
                CheckNhsNumbers(patient);
                CheckBirthDate(patient);
                if (options.Enabled && options.Matching == MpiMatching.Inline && !PersonLinker.IsMerged(patient))
                {
                    // The candidates are read and compared now, before a create's transaction starts; the transaction then
                    // reads only what changed since (PersonLinker.OnPatientWrittenAsync).
                    // The record's own Person is written inside the transaction, not prepared here: a Person prepared
                    // early would need deleting when the transaction finds someone to join after all
                    // (docs/decisions/mpi-performance.md).
                    write.Items[typeof(PreMatch)] = await PersonLinker.PreMatchAsync(index, patient, matcher, prepared, options.MaxCandidates, cancellationToken);
                }

                break;
            case Person or FhirTask when MpiCodes.IsManaged(write.Resource) || IsManaged(write.Previous):
                throw FhirException.Unprocessable(
                    $"{write.Type}/{write.Id} is managed by the master person index: change links through $mpi-link, $mpi-unlink, $merge and the review operations.", "meta.tag");
        }
    }

    public async Task AfterWriteAsync(WriteHookContext write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (!options.Enabled || write.Type != "Patient")
        {
            return;
        }

        var linker = new PersonLinker(write.Writer, index, matcher, clock.GetUtcNow(), prepared, options.MaxCandidates);
        if (write.Resource is null)
        {
            await linker.OnPatientDeletedAsync(write.Id, cancellationToken);
        }
        else if (!write.Internal && PersonLinker.MergedInto((Patient)write.Resource) is { } survivor)
        {
            // A merge written as resources (an HL7 v2 A40 through a channel, or a client's PUT) is a merge all the same:
            // the Person side is the one Patient/$merge makes.
            await linker.OnPatientMergedAsync(write.Id, survivor, cancellationToken);
        }
        else if (!write.Internal && options.Matching == MpiMatching.Queued)
        {
            // Matched after the commit, from the change feed (QueuedMatcher); deletes and merges above stay in the write. The
            // matcher's position is started here if it has none, so a write made before any matcher runs is still matched.
            await write.Writer.StartFeedPositionAsync(QueuedMatcher.FeedName, cancellationToken);
            Queued?.Invoke();
        }
        else if (!write.Internal)
        {
            await linker.OnPatientWrittenAsync((Patient)write.Resource, created: write.Previous is null, cancellationToken,
                write.Items.GetValueOrDefault(typeof(PreMatch)) as PreMatch);
        }
    }

    /// <summary>
    /// An NHS Number must pass the Modulus 11 check (NHS Data Dictionary, "NHS Number"). A valid one is stored as its ten
    /// digits (UK Core's form), whatever spacing it was sent with.
    /// </summary>
    private void CheckNhsNumbers(Patient patient)
    {
        var invalid = false;
        for (var i = 0; i < patient.Identifier.Count; i++)
        {
            var identifier = patient.Identifier[i];
            if (!string.Equals(identifier.System, NhsNumber.IdentifierSystem, StringComparison.Ordinal))
            {
                continue;
            }

            if (NhsNumber.TryParse(identifier.Value, out var number))
            {
                identifier.Value = number.Value;
                continue;
            }

            if (options.InvalidNhsNumber == InvalidNhsNumberHandling.Reject)
            {
                throw FhirException.Unprocessable(
                    $"Patient.identifier[{i}] is not a valid NHS Number: it must be ten digits whose last is the Modulus 11 check digit of the first nine.",
                    $"Patient.identifier[{i}].value");
            }

            invalid = true;
        }

        patient.Meta ??= new Meta();
        patient.Meta.Tag.RemoveAll(t => t.System == MpiCodes.System && t.Code == MpiCodes.InvalidNhsNumberTag.Code);
        if (invalid)
        {
            patient.Meta.Tag.Add(MpiCodes.InvalidNhsNumberTag);
        }
    }

    /// <summary>A birth date must be a calendar date and not in the future.</summary>
    private void CheckBirthDate(Patient patient)
    {
        var text = patient.BirthDate;
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        if (!PartialDate.TryParse(text, out var date) || date.Month is < 1 or > 12)
        {
            throw FhirException.Unprocessable("Patient.birthDate is not a calendar date.", "Patient.birthDate");
        }

        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var earliest = new DateOnly(date.Year, date.Month ?? 1, date.Day ?? 1);
        if (earliest > today)
        {
            throw FhirException.Unprocessable(
                string.Create(CultureInfo.InvariantCulture, $"Patient.birthDate is in the future (today is {today:yyyy-MM-dd})."), "Patient.birthDate");
        }
    }

    private static bool IsManaged(StoredResource? stored) =>
        stored?.Json is { } json && MpiCodes.IsManaged(StoredJson.Parse(json));
}
