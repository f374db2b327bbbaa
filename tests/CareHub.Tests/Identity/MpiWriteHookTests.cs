using System.Net;
using CareHub.Fhir;
using CareHub.Identity;
using CareHub.Storage;
using Hl7.Fhir.Model;
using FhirTask = Hl7.Fhir.Model.Task;

namespace CareHub.Tests.Identity;

/// <summary>The MPI in the one door: NHS Number and birth date rules, incremental linking, decisions by people.</summary>
public sealed class MpiWriteHookTests : IAsyncLifetime
{
    private MpiFixture mpi = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => mpi = await MpiFixture.CreateAsync();

    public async ValueTask DisposeAsync() => await mpi.DisposeAsync();

    /// <summary>The same name and birth date as <see cref="MpiFixture.NewPatient"/>, no sex, another town: a pair to review.</summary>
    private static Patient Uncertain()
    {
        var patient = MpiFixture.NewPatient(postcode: null, gender: null);
        patient.Address.Add(new Address { City = "York" });
        return patient;
    }

    private static string[] Sorted(params string[] ids) => ids.Order(StringComparer.Ordinal).ToArray();

    private async Task<long> CountAsync(string type) =>
        (await mpi.Store.SearchAsync(new StoreQuery(type, [], 0, CountTotal: true) { Scope = QueryScope.Internal("test") }, Ct)).Total ?? -1;

    // ---- NHS Number and birth date ---------------------------------------------------------------------------------

    [Fact]
    public async Task rejects_an_nhs_number_with_a_bad_check_digit_naming_the_element_and_stores_nothing()
    {
        var patient = MpiFixture.NewPatient(localId: "p1");
        patient.Identifier.Insert(0, new Identifier(NhsNumber.IdentifierSystem, "9434765918"));

        var error = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.CreateAsync(patient, Ct));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(error));
        Assert.Equal("Patient.identifier[0].value", error.Issues[0].Expression);
        Assert.DoesNotContain("9434765918", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("Patient"));
        Assert.Equal(0, await CountAsync("Person"));
    }

    [Fact]
    public async Task accept_and_flag_stores_a_bad_nhs_number_as_sent_tagged_and_does_not_match_on_it()
    {
        await using var flagging = await MpiFixture.CreateAsync(new MpiOptions { InvalidNhsNumber = InvalidNhsNumberHandling.AcceptAndFlag });
        var id = await flagging.CreateAsync(MpiFixture.NewPatient(nhs: "9434765918"), Ct);

        var stored = (Patient)(await flagging.Records.ReadAsync(MpiFixture.Context, "Patient", id, null, Ct)).ToResource()!;
        Assert.Equal("9434765918", stored.Identifier[0].Value);
        Assert.Contains(stored.Meta!.Tag, t => t.System == MpiCodes.System && t.Code == "invalid-nhs-number");

        // Corrected, the flag goes.
        stored.Identifier[0].Value = "943 476 5919";
        await flagging.Records.UpdateAsync(MpiFixture.Context, "Patient", id, stored, null, Ct);
        var corrected = (Patient)(await flagging.Records.ReadAsync(MpiFixture.Context, "Patient", id, null, Ct)).ToResource()!;
        Assert.DoesNotContain(corrected.Meta!.Tag, t => t.System == MpiCodes.System);
    }

    [Fact]
    public async Task a_valid_nhs_number_sent_with_spaces_is_stored_as_ten_digits()
    {
        var id = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "943 476 5919"), Ct);

        var stored = (Patient)(await mpi.Records.ReadAsync(MpiFixture.Context, "Patient", id, null, Ct)).ToResource()!;
        Assert.Equal("9434765919", stored.Identifier[0].Value);
    }

    [Theory]
    [InlineData("1970-02-30")]
    [InlineData("2999-01-01")]
    public async Task rejects_an_impossible_birth_date(string birthDate)
    {
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.CreateAsync(MpiFixture.NewPatient(birthDate: birthDate), Ct));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(error));
        Assert.Equal("Patient.birthDate", error.Issues[0].Expression);
        Assert.Equal(0, await CountAsync("Patient"));
    }

    // ---- incremental linking ---------------------------------------------------------------------------------------

    [Fact]
    public async Task every_patient_gets_a_person_and_a_second_record_with_the_same_nhs_number_and_birth_date_joins_it()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1"), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Joanne", family: "Smyth", nhs: "9434765919", postcode: null, localId: "pas-7"), Ct);

        Assert.Equal(Sorted(a, b), await mpi.MembersAsync(a, Ct));
        var person = (await mpi.PersonOfAsync(a, Ct))!;
        var link = person.Link.Single(l => l.Target.Reference == "Patient/" + b);
        Assert.Equal(MpiCodes.Automatic, ((Code)link.GetExtension(MpiCodes.LinkOrigin)!.Value!).Value);
        Assert.Equal("SameNhsNumberAndBirthDate", ((Code)link.GetExtension(MpiCodes.LinkRule)!.Value!).Value);
        Assert.NotNull(link.GetExtension(MpiCodes.LinkScore));
        Assert.NotNull(link.GetExtension(MpiCodes.LinkDate));
        Assert.Equal(Person.IdentityAssuranceLevel.Level3, link.Assurance);
        // The golden record carries every linked identifier, so a search by any of them finds the person.
        Assert.Contains(person.Identifier, i => i.Value == "pas-7");
        Assert.Contains(person.Identifier, i => i.Value == "gp-1");
        Assert.Equal(1, await CountAsync("Person"));
    }

    [Fact]
    public async Task the_golden_record_keeps_the_established_sources_demographics_when_a_later_source_joins_or_is_rewritten()
    {
        var first = MpiFixture.NewPatient(nhs: "9434765919", localId: "gp-1");
        var a = await mpi.CreateAsync(first, Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Invented", family: "Othername", nhs: "9434765919", postcode: null), Ct);
        Assert.Equal(Sorted(a, b), await mpi.MembersAsync(a, Ct));
        Assert.Equal("Smith", (await mpi.PersonOfAsync(a, Ct))!.Name.Single().Family);

        // The later source written again, even last, does not take over; the established source's own update flows through.
        var later = MpiFixture.NewPatient(given: "Invented", family: "Otherername", nhs: "9434765919", postcode: null);
        later.Id = b;
        await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", b, later, null, Ct);
        Assert.Equal("Smith", (await mpi.PersonOfAsync(a, Ct))!.Name.Single().Family);
        first.Id = a;
        first.Name[0].Family = "Smith-Jones";
        await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", a, first, null, Ct);
        Assert.Equal("Smith-Jones", (await mpi.PersonOfAsync(b, Ct))!.Name.Single().Family);

        // When the established source leaves, the next in join order is authoritative.
        await mpi.Records.DeleteAsync(MpiFixture.Context, "Patient", a, null, Ct);
        Assert.Equal("Otherername", (await mpi.PersonOfAsync(b, Ct))!.Name.Single().Family);
    }

    [Fact]
    public async Task two_different_valid_nhs_numbers_never_link_automatically()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9000000009"), Ct);

        Assert.Equal([a], await mpi.MembersAsync(a, Ct));
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));
        Assert.Empty(await mpi.ReviewsAsync(Ct));
    }

    [Fact]
    public async Task matching_demographics_link_without_an_nhs_number_and_different_people_stay_apart()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var c = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", postcode: "M1 1AA", gender: AdministrativeGender.Male), Ct);

        Assert.Equal(2, (await mpi.MembersAsync(a, Ct)).Count);
        Assert.Contains(b, await mpi.MembersAsync(a, Ct));
        Assert.Equal([c], await mpi.MembersAsync(c, Ct));
    }

    [Fact]
    public async Task twins_born_the_same_day_at_one_address_are_queued_for_review_not_linked()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Samuel"), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Joseph"), Ct);

        Assert.Equal([a], await mpi.MembersAsync(a, Ct));
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));
        var review = Assert.Single(await mpi.ReviewsAsync(Ct));
        Assert.Contains(review.Input, i => i.Value is FhirString { Value: "GivenNameConflict" } || i.Value is Code { Value: "GivenNameConflict" });
    }

    [Fact]
    public async Task an_uncertain_pair_is_queued_once_with_its_score_and_fields_and_accepting_links_it()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var b = await mpi.CreateAsync(Uncertain(), Ct);

        var review = Assert.Single(await mpi.ReviewsAsync(Ct));
        Assert.Equal(FhirTask.TaskStatus.Requested, review.Status);
        Assert.Equal(new[] { "Patient/" + a, "Patient/" + b }.Order(StringComparer.Ordinal), new[] { review.Focus!.Reference!, review.For!.Reference! }.Order(StringComparer.Ordinal));
        Assert.Contains(review.Input, i => i.Type.Coding[0].Code == ReviewTasks.InputWeight);
        Assert.Contains(review.Input, i => i.Type.Coding[0].Code == ReviewTasks.InputAgrees && ((FhirString)i.Value!).Value!.StartsWith("FamilyName", StringComparison.Ordinal));
        Assert.Contains(review.Input, i => i.Type.Coding[0].Code == ReviewTasks.InputDiffers && ((FhirString)i.Value!).Value!.StartsWith("Town", StringComparison.Ordinal));
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));

        // Writing the record again does not queue the pair twice.
        var stored = (await mpi.Records.ReadAsync(MpiFixture.Context, "Patient", b, null, Ct)).ToResource()!;
        await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", b, stored, null, Ct);
        Assert.Single(await mpi.ReviewsAsync(Ct));

        var accepted = await mpi.Mpi.AcceptAsync(MpiFixture.Context, review.Id!, Ct);
        Assert.Equal(FhirTask.TaskStatus.Completed, accepted.Status);
        Assert.Equal(Sorted(a, b), await mpi.MembersAsync(a, Ct));
        var link = (await mpi.PersonOfAsync(a, Ct))!.Link.Single(l => l.Target.Reference == "Patient/" + b);
        Assert.Equal(Person.IdentityAssuranceLevel.Level4, link.Assurance);
        Assert.Empty(await mpi.ReviewsAsync(Ct));

        var again = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Mpi.AcceptAsync(MpiFixture.Context, review.Id!, Ct));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(again));
    }

    [Fact]
    public async Task rejecting_a_queued_pair_keeps_it_apart_and_out_of_the_queue()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var b = await mpi.CreateAsync(Uncertain(), Ct);
        var review = Assert.Single(await mpi.ReviewsAsync(Ct));

        var rejected = await mpi.Mpi.RejectAsync(MpiFixture.Context, review.Id!, Ct);

        Assert.Equal(FhirTask.TaskStatus.Rejected, rejected.Status);
        Assert.Empty(await mpi.ReviewsAsync(Ct));
        // Even an update that now agrees on everything does not link the pair.
        var stored = (Patient)(await mpi.Records.ReadAsync(MpiFixture.Context, "Patient", b, null, Ct)).ToResource()!;
        stored.Address = MpiFixture.NewPatient().Address;
        stored.Gender = AdministrativeGender.Female;
        await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", b, stored, null, Ct);
        Assert.Equal([a], await mpi.MembersAsync(a, Ct));
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));
    }

    [Fact]
    public async Task unlink_separates_the_pair_and_stops_it_relinking_on_later_writes()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        Assert.Equal(2, (await mpi.MembersAsync(a, Ct)).Count);

        var own = await mpi.Mpi.UnlinkAsync(MpiFixture.Context, a, b, Ct);

        Assert.Equal(["Patient/" + a], own.Link.Select(l => l.Target.Reference));
        foreach (var id in new[] { a, b })
        {
            var stored = (await mpi.Records.ReadAsync(MpiFixture.Context, "Patient", id, null, Ct)).ToResource()!;
            await mpi.Records.UpdateAsync(MpiFixture.Context, "Patient", id, stored, null, Ct);
        }

        Assert.Equal([a], await mpi.MembersAsync(a, Ct));
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));

        // A third record of the same number may join b, but never a's Person together with b.
        var c = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        Assert.False((await mpi.MembersAsync(c, Ct)).Contains(a) && (await mpi.MembersAsync(c, Ct)).Contains(b));
    }

    [Fact]
    public async Task a_manual_link_joins_two_persons_and_linking_a_record_to_itself_is_refused()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var c = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", postcode: "M1 1AA", gender: AdministrativeGender.Male), Ct);

        var person = await mpi.Mpi.LinkAsync(MpiFixture.Context, a, c, Ct);

        Assert.Equal(2, person.Link.Count);
        Assert.Equal(Sorted(a, c), await mpi.MembersAsync(c, Ct));
        Assert.Equal(1, await CountAsync("Person"));

        var self = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Mpi.LinkAsync(MpiFixture.Context, a, a, Ct));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(self));
        var missing = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Mpi.LinkAsync(MpiFixture.Context, a, "no-such", Ct));
        Assert.Equal(HttpStatusCode.NotFound, FhirStatus.Of(missing));
    }

    [Fact]
    public async Task merge_marks_the_source_replaced_by_and_the_target_replaces_and_refuses_bad_merges()
    {
        var source = await mpi.CreateAsync(MpiFixture.NewPatient(localId: "old"), Ct);
        var target = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", postcode: "M1 1AA", gender: AdministrativeGender.Male), Ct);
        var other = await mpi.CreateAsync(MpiFixture.NewPatient(given: "Mary", family: "Jones", birthDate: "1950-03-03", postcode: "B1 1AA"), Ct);

        var survivor = await mpi.Mpi.MergeAsync(MpiFixture.Context, source, target, Ct);

        Assert.Contains(survivor.Link, l => l.Type == Patient.LinkType.Replaces && l.Other.Reference == "Patient/" + source);
        var merged = (Patient)(await mpi.Records.ReadAsync(MpiFixture.Context, "Patient", source, null, Ct)).ToResource()!;
        Assert.False(merged.Active);
        Assert.Contains(merged.Link, l => l.Type == Patient.LinkType.ReplacedBy && l.Other.Reference == "Patient/" + target);
        Assert.Equal(Sorted(source, target), await mpi.MembersAsync(target, Ct));

        var versions = (await mpi.Store.ReadAsync("Patient", target, null, Ct))!.Version;
        foreach (var (from, into, status) in new[]
        {
            (target, target, HttpStatusCode.UnprocessableEntity),
            (source, other, HttpStatusCode.UnprocessableEntity),
            (other, source, HttpStatusCode.UnprocessableEntity),
            (other, "no-such", HttpStatusCode.NotFound),
        })
        {
            var error = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Mpi.MergeAsync(MpiFixture.Context, from, into, Ct));
            Assert.Equal(status, FhirStatus.Of(error));
        }

        Assert.Equal(versions, (await mpi.Store.ReadAsync("Patient", target, null, Ct))!.Version);
        Assert.Equal([other], await mpi.MembersAsync(other, Ct));
    }

    [Fact]
    public async Task a_deleted_patient_leaves_its_person_and_a_person_left_empty_is_deleted()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);
        var b = await mpi.CreateAsync(MpiFixture.NewPatient(nhs: "9434765919"), Ct);

        await mpi.Records.DeleteAsync(MpiFixture.Context, "Patient", a, null, Ct);
        Assert.Equal([b], await mpi.MembersAsync(b, Ct));
        await mpi.Records.DeleteAsync(MpiFixture.Context, "Patient", b, null, Ct);
        Assert.Equal(0, await CountAsync("Person"));
    }

    [Fact]
    public async Task clients_cannot_write_the_persons_and_tasks_the_mpi_manages()
    {
        var a = await mpi.CreateAsync(MpiFixture.NewPatient(), Ct);
        var person = (await mpi.PersonOfAsync(a, Ct))!;
        person.Link.Clear();

        var error = await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Records.UpdateAsync(MpiFixture.Context, "Person", person.Id!, person, null, Ct));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, FhirStatus.Of(error));

        var forged = new Person { Meta = new Meta { Tag = [MpiCodes.ManagedTag] } };
        await Assert.ThrowsAnyAsync<FhirException>(() => mpi.Records.CreateAsync(MpiFixture.Context, forged, null, Ct));
        Assert.Equal([a], await mpi.MembersAsync(a, Ct));
    }

    [Fact]
    public async Task patients_in_a_transaction_bundle_are_linked_in_that_transaction()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        foreach (var local in new[] { "t-1", "t-2" })
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = "urn:uuid:" + Guid.NewGuid(),
                Resource = MpiFixture.NewPatient(nhs: "9434765919", localId: local),
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" },
            });
        }

        var response = await mpi.Records.ProcessBundleAsync(MpiFixture.Context, bundle, Ct);

        var ids = response.Entry.Select(e => e.Response!.Location!.Split('/')[1]).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), await mpi.MembersAsync(ids[0], Ct));
    }
}
