using CareHub.Governance;
using CareHub.Notifications;

namespace CareHub.Tests.Notifications;

/// <summary>What is kept of the principal who writes a Subscription, to judge its notifications later.</summary>
public sealed class SubscriberPrincipalTests
{
    [Fact]
    public void the_subscriber_keeps_its_identity_role_organisation_and_scopes_but_no_emergency_and_no_name()
    {
        var writer = new Principal
        {
            Kind = PrincipalKind.User,
            Subject = "gp.smith",
            ClientId = "demo-system",
            Issuer = "https://issuer.example",
            Name = "Dr Helen Smith",
            FhirUser = "Practitioner/p1",
            Organisation = "A81001",
            Role = "gp",
            Scopes = ScopeSet.Parse("user/*.rs"),
            PurposeOfUse = "ETREAT",
            BreakGlassReason = "collapsed in clinic",
        };

        var kept = SubscriberPrincipal.Deserialize(SubscriberPrincipal.Serialize(writer));

        Assert.Equal(writer with { Name = null, PurposeOfUse = null, BreakGlassReason = null }, kept);
        Assert.DoesNotContain("Helen", SubscriberPrincipal.Serialize(writer), StringComparison.Ordinal);
    }
}
