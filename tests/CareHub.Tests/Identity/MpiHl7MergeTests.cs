using CareHub.Identity;
using CareHub.Messaging.Mapping;
using CareHub.Records;
using CareHub.Tests.Messaging.Mapping;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Identity;

/// <summary>An HL7 v2 A40 through the one door makes the merge Patient/$merge makes, in the message's transaction.</summary>
public sealed class MpiHl7MergeTests
{
    private const string HospitalNumbers = "https://fhir.carehub.local/Id/rx1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Hl7v2.Hl7Message Merge = Hl7v2.Hl7Message.Parse(string.Join('\r',
        "MSH|^~\\&|PAS|RX1|CAREHUB|CAREHUB|20250302101500||ADT^A40^ADT_A39|MSG0003|P|2.5.1",
        "EVN|A40|20250302101500",
        $"PID|1||{V2Messages.NhsNumber}^^^NHS^NH~H123456^^^RX1^MR||SMITH^JANE||19800214|F",
        "MRG|H999999^^^RX1^MR"));

    private static async Task ApplyAsync(MpiFixture mpi, Hl7v2.Hl7Message message)
    {
        var response = await mpi.Records.ProcessBundleAsync(MpiFixture.Context, V2ToFhir.Map(message, V2MappingOptions.Default).Bundle, Ct);
        Assert.All(response.Entry, e => Assert.StartsWith("2", e.Response!.Status, StringComparison.Ordinal));
    }

    private static async Task<string> IdOfAsync(MpiFixture mpi, string hospitalNumber)
    {
        var found = await mpi.Records.SearchAsync(MpiFixture.Context, "Patient", QueryString.Parse("identifier=" + Uri.EscapeDataString(HospitalNumbers + "|" + hospitalNumber)), Ct);
        return Assert.Single(found.Entry).Resource!.Id!;
    }

    [Fact]
    public async Task an_a40_puts_the_prior_and_surviving_records_in_one_person_as_a_persons_decision()
    {
        await using var mpi = await MpiFixture.CreateAsync();
        // The prior record is someone else by demographics, so only the merge can put the two together.
        await ApplyAsync(mpi, V2Messages.Adt("A04", pid3: "H999999^^^RX1^MR"));
        var prior = await IdOfAsync(mpi, "H999999");
        var unrelated = MpiFixture.NewPatient(given: "Ahmed", family: "Khan", birthDate: "1988-07-14", gender: AdministrativeGender.Male);
        var other = await mpi.CreateAsync(unrelated, Ct);

        await ApplyAsync(mpi, Merge);

        var survivor = await IdOfAsync(mpi, "H123456");
        Assert.Equal(new[] { prior, survivor }.Order(StringComparer.Ordinal), await mpi.MembersAsync(survivor, Ct));
        var person = (await mpi.PersonOfAsync(survivor, Ct))!;
        Assert.All(person.Link, l => Assert.Equal(Person.IdentityAssuranceLevel.Level4, l.Assurance));
        Assert.All(person.Link, l => Assert.Equal(MpiCodes.Manual, ((Code)l.GetExtension(MpiCodes.LinkOrigin)!.Value!).Value));
        Assert.Equal([other], await mpi.MembersAsync(other, Ct));

        // The same merge sent again changes nothing.
        var version = person.Meta!.VersionId;
        await ApplyAsync(mpi, Merge);
        Assert.Equal(version, (await mpi.PersonOfAsync(survivor, Ct))!.Meta!.VersionId);
    }

    [Fact]
    public async Task an_a40_undoes_a_no_link_decision_between_the_pair_as_merge_does()
    {
        await using var mpi = await MpiFixture.CreateAsync();
        await ApplyAsync(mpi, V2Messages.Adt("A04", pid3: "H999999^^^RX1^MR"));
        await ApplyAsync(mpi, V2Messages.Adt("A04", pid3: "H123456^^^RX1^MR"));
        var prior = await IdOfAsync(mpi, "H999999");
        var survivor = await IdOfAsync(mpi, "H123456");
        // Same demographics: the matcher linked them; a person then said they are different people.
        Assert.Contains(survivor, await mpi.MembersAsync(prior, Ct));
        await mpi.Mpi.UnlinkAsync(MpiFixture.Context, prior, survivor, Ct);
        Assert.Equal([prior], await mpi.MembersAsync(prior, Ct));

        await ApplyAsync(mpi, Merge);

        Assert.Equal(new[] { prior, survivor }.Order(StringComparer.Ordinal), await mpi.MembersAsync(prior, Ct));
    }
}
