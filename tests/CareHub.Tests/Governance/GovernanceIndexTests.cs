using CareHub.Governance;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Governance;

public sealed class GovernanceIndexTests
{
    [Fact]
    public void the_source_organisation_is_read_from_an_ods_meta_source_and_nothing_else()
    {
        Assert.Equal("RTH", OrganisationSource.Parse("https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/RTH#pas"));
        Assert.Equal("A81001", OrganisationSource.Parse(OrganisationSource.For("a81001")));
        Assert.Null(OrganisationSource.Parse("https://example.org/organisations/RTH"));
        Assert.Null(OrganisationSource.Parse("https://directory.spineservices.nhs.uk/ORD/2-0-0/organisations/"));
        Assert.Null(OrganisationSource.Parse(null));
    }

    [Fact]
    public void a_consent_is_indexed_by_effect_actor_and_class()
    {
        var consent = new Consent
        {
            Status = Consent.ConsentState.Active,
            Provision = new Consent.provisionComponent
            {
                Type = Consent.ConsentProvisionType.Deny,
                Actor =
                [
                    new Consent.provisionActorComponent { Reference = new ResourceReference("Organization/RTH") },
                    new Consent.provisionActorComponent { Reference = new ResourceReference { Identifier = new Identifier(OrganisationSource.OdsSystem, "RYG") } },
                ],
                Class = [new Coding(GovernanceIndex.ResourceTypesSystem, "Observation")],
            },
        };

        var rows = GovernanceIndex.Rows(consent, []).OfType<TokenIndexRow>().ToList();

        Assert.Equal(["deny|Organization/RTH", "deny|ods:RYG"], rows.Where(r => r.Param == GovernanceIndex.ConsentParam).Select(r => $"{r.System}|{r.Code}"));
        Assert.Equal("Observation", Assert.Single(rows, r => r.Param == GovernanceIndex.ConsentClassParam).Code);
    }

    [Fact]
    public void a_consent_without_actors_applies_to_everyone_and_one_without_a_type_applies_to_nothing()
    {
        var everyone = new Consent { Provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Permit } };
        var undecided = new Consent { Provision = new Consent.provisionComponent() };

        Assert.Equal("permit|*", Assert.Single(GovernanceIndex.Rows(everyone, []).OfType<TokenIndexRow>().Select(r => $"{r.System}|{r.Code}")));
        Assert.Empty(GovernanceIndex.Rows(undecided, []));
    }

    [Fact]
    public void a_resource_is_indexed_under_the_patients_of_its_compartment_and_a_patient_under_itself()
    {
        var observation = new Observation { Subject = new ResourceReference("Patient/p1"), Performer = [new ResourceReference("Practitioner/x")] };
        var extracted = CareHub.Search.IndexExtractor.Extract(observation);
        var patient = new Patient { Id = "p2" };

        Assert.Equal(["p1"], GovernanceIndex.Rows(observation, extracted).OfType<ReferenceIndexRow>().Where(r => r.Param == GovernanceIndex.PatientParam).Select(r => r.TargetId));
        Assert.Equal(["p2"], GovernanceIndex.Rows(patient, []).OfType<ReferenceIndexRow>().Select(r => r.TargetId));
        Assert.Empty(GovernanceIndex.Rows(new Organization { Id = "o" }, []));
    }

    [Fact]
    public async System.Threading.Tasks.Task a_write_by_a_caller_acting_for_an_organisation_is_stamped_with_it_unless_it_says_its_source()
    {
        await using var fixture = await RecordsFixture.CreateAsync();
        var context = RecordsFixture.System() with { Principal = RecordsFixture.System().Principal with { Organisation = "RYG" }, Return = ReturnPreference.Representation };

        var stamped = await fixture.Records.CreateAsync(context, new Organization { Name = "x" }, null, CancellationToken.None);
        var kept = await fixture.Records.CreateAsync(context, new Organization { Name = "y", Meta = new Meta { Source = "urn:example:pas" } }, null, CancellationToken.None);

        Assert.Equal(OrganisationSource.For("RYG"), stamped.ToResource()!.Meta!.Source);
        Assert.Equal("urn:example:pas", kept.ToResource()!.Meta!.Source);
    }

    [Fact]
    public void an_agreement_is_read_from_an_executed_data_sharing_contract_only()
    {
        var contract = new Contract
        {
            Id = "dsa",
            Status = Contract.ContractResourceStatusCodes.Executed,
            Type = new CodeableConcept(DataSharingAgreement.TypeSystem, DataSharingAgreement.TypeCode),
            Applies = new Period { Start = "2024-01-01", End = "2025-01-01" },
            Term =
            [
                new Contract.TermComponent
                {
                    Offer = new Contract.ContractOfferComponent
                    {
                        Party =
                        [
                            new Contract.ContractPartyComponent { Role = new CodeableConcept(DataSharingAgreement.PartySystem, "source"), Reference = [new ResourceReference("Organization/rth")] },
                            new Contract.ContractPartyComponent { Role = new CodeableConcept(DataSharingAgreement.PartySystem, "recipient"), Reference = [new ResourceReference { Identifier = new Identifier(OrganisationSource.OdsSystem, "00K") }] },
                        ],
                    },
                    Asset = [new Contract.ContractAssetComponent { Type = [new CodeableConcept(DataSharingAgreement.CategorySystem, "laboratory")] }],
                },
            ],
        };

        var agreement = DataSharingAgreement.Parse(CareHub.Fhir.FhirSerialization.ToJson(contract))!;

        Assert.Equal(["RTH"], agreement.Sources);
        Assert.Equal(["00K"], agreement.Recipients);
        Assert.Equal(["laboratory"], agreement.Categories);
        Assert.True(agreement.InForce(new DateTimeOffset(2024, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.False(agreement.InForce(new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.True(agreement.Covers("ETREAT"));

        contract.Status = Contract.ContractResourceStatusCodes.Offered;
        Assert.Null(DataSharingAgreement.Parse(CareHub.Fhir.FhirSerialization.ToJson(contract)));
        contract.Status = Contract.ContractResourceStatusCodes.Executed;
        contract.Type = new CodeableConcept("http://example.org", "lease");
        Assert.Null(DataSharingAgreement.Parse(CareHub.Fhir.FhirSerialization.ToJson(contract)));
    }

    [Theory]
    [InlineData("""{"categories":[{"code":"a","match":[{"type":"Patient"}]}],"roles":[{"code":"r","consent":"implied","access":{"b":"r"}}]}""", "names category 'b'")]
    [InlineData("""{"categories":[{"code":"a","match":[{"type":"Patient"}]}],"roles":[{"code":"r","consent":"implied","access":{"a":"rx"}}]}""", "use the letters c r u d s")]
    [InlineData("""{"categories":[{"code":"a","match":[{"type":"Patiently"}]}],"roles":[]}""", "not a FHIR R4 resource type")]
    [InlineData("""{"categories":[{"code":"a","match":[{"type":"Patient"}]}],"roles":[{"code":"r","consent":"sometimes","access":{}}]}""", "consent model 'sometimes'")]
    [InlineData("""{"categories":[]}""", "must list categories")]
    [InlineData("""{"categories":""", "not valid JSON")]
    public void a_policy_file_that_cannot_work_is_refused_saying_what_to_fix(string json, string expected)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));

        var e = Assert.Throws<InvalidOperationException>(() => PolicyDocument.Parse(stream, "policy.json"));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void the_default_policy_loads()
    {
        Assert.Equal(["gp", "hospital-doctor", "community-nurse", "social-worker", "ig-officer", "system-admin", "mpi-reviewer", "integration-engineer"], PolicyDocument.Default.Roles.Select(r => r.Code));
        Assert.Same(PolicyDocument.Default.Roles[0], PolicyDocument.Default.Role("R8000"));
    }
}
