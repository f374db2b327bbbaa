using CareHub.Demo;
using CareHub.Directories;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Directories;

/// <summary>The directory look-up over the demo's directory loaded through the door, on each store.</summary>
public abstract class DirectoryLookupTests : IAsyncLifetime
{
    private readonly RequestContext context = RecordsFixture.System();
    private DirectoryStores? stores;

    protected abstract bool Postgres { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private DirectoryLookup Lookup => new(stores!.Lookups);

    public async ValueTask InitializeAsync()
    {
        stores = await DirectoryStores.CreateAsync(Postgres, Ct);
        await stores.Records.ProcessBundleAsync(context, DemoCommunity.Generate(new DemoCommunityOptions { Patients = 1 })[0], Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (stores is not null)
        {
            await stores.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task finds_the_endpoint_of_an_organisation_for_each_purpose()
    {
        foreach (var purpose in EndpointPurpose.All)
        {
            var endpoint = Assert.Single(await Lookup.EndpointsAsync(DemoCommunity.GpPracticeId, purpose, Ct));
            Assert.Equal(DemoCommunity.EndpointId(DemoCommunity.GpPracticeId, purpose), endpoint.Id);
        }

        var mllp = Assert.Single(await Lookup.EndpointsAsync(DemoCommunity.AcuteTrustId, EndpointPurpose.Mllp, Ct));
        Assert.Equal("mllp://rth.example.org:2575", mllp.Address);
        Assert.Equal("hl7v2-mllp", mllp.ConnectionType.Code);
        Assert.Empty(await Lookup.EndpointsAsync(DemoCommunity.CouncilId, EndpointPurpose.Mllp, Ct));
    }

    [Fact]
    public async Task a_branch_without_endpoints_of_its_own_is_reached_through_its_parent_and_one_with_its_own_through_those()
    {
        await PutAsync(new Organization { Id = "A81001B", Name = "BRANCH SURGERY", PartOf = new ResourceReference($"Organization/{DemoCommunity.GpPracticeId}") });
        await PutAsync(new Organization { Id = "A81001C", Name = "OTHER BRANCH", PartOf = new ResourceReference($"Organization/{DemoCommunity.GpPracticeId}") });
        await PutAsync(new Endpoint
        {
            Id = "a81001c-fhir",
            Status = Endpoint.EndpointStatus.Active,
            ConnectionType = EndpointPurpose.FhirBase.ConnectionType,
            PayloadType = [EndpointPurpose.FhirBase.PayloadType()],
            ManagingOrganization = new ResourceReference("Organization/A81001C"),
            Address = "https://branch.example.org/fhir",
        });

        Assert.Equal("a81001-fhir-base", Assert.Single(await Lookup.EndpointsAsync("A81001B", EndpointPurpose.FhirBase, Ct)).Id);
        Assert.Equal("a81001c-fhir", Assert.Single(await Lookup.EndpointsAsync("A81001C", EndpointPurpose.FhirBase, Ct)).Id);
        Assert.Empty(await Lookup.EndpointsAsync("NOWHERE", EndpointPurpose.FhirBase, Ct));
    }

    [Fact]
    public async Task an_endpoint_that_is_off_is_not_an_answer()
    {
        var id = DemoCommunity.EndpointId(DemoCommunity.CommunityTrustId, EndpointPurpose.Mhd);
        var endpoint = (Endpoint)(await stores!.Records.ReadAsync(context, "Endpoint", id, null, Ct)).ToResource()!;
        endpoint.Status = Endpoint.EndpointStatus.Off;
        await PutAsync(endpoint);

        Assert.Empty(await Lookup.EndpointsAsync(DemoCommunity.CommunityTrustId, EndpointPurpose.Mhd, Ct));
    }

    [Fact]
    public async Task lists_the_services_an_organisation_offers_and_leaves_out_inactive_ones()
    {
        Assert.Equal(["ryg-community-mental-health", "ryg-district-nursing"], (await Lookup.ServicesAsync(DemoCommunity.CommunityTrustId, Ct)).Select(s => s.Id));
        await PutAsync(new HealthcareService { Id = "ryg-closed", Active = false, Name = "A closed clinic", ProvidedBy = new ResourceReference($"Organization/{DemoCommunity.CommunityTrustId}") });

        var services = await Lookup.ServicesAsync(DemoCommunity.CommunityTrustId, Ct);

        Assert.DoesNotContain(services, s => s.Id == "ryg-closed");
        Assert.Equal("elec", services[0].ReferralMethod.Single().Coding.Single().Code);
    }

    [Fact]
    public async Task lists_the_roles_of_a_practitioner_with_their_sds_job_role()
    {
        await PutAsync(new PractitionerRole
        {
            Id = "gp-smith-locum",
            Active = true,
            Practitioner = new ResourceReference($"Practitioner/{DemoCommunity.GpSmithId}"),
            Organization = new ResourceReference($"Organization/{DemoCommunity.OtherPracticeId}"),
        });
        await PutAsync(new PractitionerRole { Id = "gp-smith-old", Active = false, Practitioner = new ResourceReference($"Practitioner/{DemoCommunity.GpSmithId}") });

        var roles = await Lookup.RolesAsync(DemoCommunity.GpSmithId, Ct);

        Assert.Equal(["gp-smith-locum", DemoCommunity.RoleId(DemoCommunity.GpSmithId)], roles.Select(r => r.Id));
        Assert.Contains(roles[1].Code, c => c.Coding.Any(x => x.System == DemoCommunity.SdsJobRoleSystem && x.Code == "R8000"));
        Assert.Equal($"Organization/{DemoCommunity.GpPracticeId}", roles[1].Organization?.Reference);
    }

    private Task PutAsync(Resource resource) => stores!.Records.UpdateAsync(context, resource.TypeName, resource.Id!, resource, null, Ct);
}

/// <summary>The directory look-up on the embedded store.</summary>
public sealed class SqliteDirectoryLookupTests : DirectoryLookupTests
{
    protected override bool Postgres => false;
}

/// <summary>The directory look-up on PostgreSQL.</summary>
public sealed class PostgresDirectoryLookupTests : DirectoryLookupTests
{
    protected override bool Postgres => true;
}
