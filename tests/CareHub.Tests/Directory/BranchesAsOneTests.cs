using CareHub.Directories;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Directories;

/// <summary>
/// The access policy's BranchesAsOne option: a patient registered at a branch surgery is visible to a GP of the main
/// practice (and one at the practice to a GP of the branch) only when the policy document says so; a practice's
/// commissioner never joins the group.
/// </summary>
public sealed class BranchesAsOneTests
{
    private const string Ods = OdsOrganizationMapper.OdsOrganizationCodeSystem;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false, "A00001", "at-practice")]
    [InlineData(false, "A00001B", "at-branch")]
    [InlineData(true, "A00001", "at-branch,at-practice")]
    [InlineData(true, "A00001B", "at-branch,at-practice")]
    [InlineData(true, "A00002", "at-other")]
    [InlineData(true, "00X", "")]
    public async Task a_branch_and_its_practice_share_their_patients_only_when_configured(bool branchesAsOne, string userOrganisation, string expected)
    {
        await using var stores = await DirectoryStores.CreateAsync(false, Ct, PolicyDocument.Default with { BranchesAsOne = branchesAsOne });
        var loader = RecordsFixture.System();
        await PutAsync(stores, loader, Organisation("00X", "A COMMISSIONER", null, practice: false));
        await PutAsync(stores, loader, Organisation("A00001", "MAIN PRACTICE", "00X", practice: true));
        await PutAsync(stores, loader, Organisation("A00001B", "BRANCH SURGERY", "A00001", practice: false));
        await PutAsync(stores, loader, Organisation("A00002", "OTHER PRACTICE", "00X", practice: true));
        await PutAsync(stores, loader, RegisteredAt("at-practice", "A00001"));
        await PutAsync(stores, loader, RegisteredAt("at-branch", "A00001B"));
        await PutAsync(stores, loader, RegisteredAt("at-other", "A00002"));
        var gp = new RequestContext(
            new Principal
            {
                Kind = PrincipalKind.User, Subject = "gp", ClientId = "tests", Issuer = "tests", Role = "gp", Organisation = userOrganisation,
                FhirUser = "Practitioner/gp", Scopes = ScopeSet.Parse("user/*.rs"),
            },
            "http://localhost/fhir",
            Guid.NewGuid().ToString("N"));

        var bundle = await stores.Records.SearchAsync(gp, "Patient", [], Ct);

        Assert.Equal(expected, string.Join(',', bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource!.Id).Order(StringComparer.Ordinal)));
    }

    private static Organization Organisation(string code, string name, string? parent, bool practice) => new()
    {
        Id = code,
        Name = name,
        Identifier = [new Identifier(Ods, code)],
        Type = practice ? [new CodeableConcept(OdsOrganizationMapper.OrganisationRoleSystem, "RO76")] : [],
        PartOf = parent is null ? null : OdsOrganizationMapper.Reference(parent),
    };

    private static Patient RegisteredAt(string id, string practice) => new() { Id = id, GeneralPractitioner = [new ResourceReference($"Organization/{practice}")] };

    private static Task PutAsync(DirectoryStores stores, RequestContext context, Resource resource) =>
        stores.Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);
}
