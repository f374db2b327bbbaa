using CareHub.Governance;

namespace CareHub.Tests.Governance;

public class SmartScopeTests
{
    [Theory]
    [InlineData("system/Patient.rs", ScopeContext.System, "Patient", "rs")]
    [InlineData("user/*.cruds", ScopeContext.User, "*", "cruds")]
    [InlineData("patient/Observation.r", ScopeContext.Patient, "Observation", "r")]
    [InlineData("user/Encounter.cud", ScopeContext.User, "Encounter", "cud")]
    [InlineData("user/Patient.read", ScopeContext.User, "Patient", "rs")]
    [InlineData("system/*.write", ScopeContext.System, "*", "cud")]
    [InlineData("patient/*.*", ScopeContext.Patient, "*", "cruds")]
    public void parses_v2_and_v1_resource_scopes(string text, ScopeContext context, string resourceType, string permissions)
    {
        var scope = SmartScope.Parse(text);

        Assert.True(scope.IsResourceScope);
        Assert.Equal(context, scope.Context);
        Assert.Equal(resourceType, scope.ResourceType);
        Assert.Equal(permissions, scope.Permissions);
        Assert.Null(scope.Query);
        Assert.Equal(text, scope.Value);
    }

    [Fact]
    public void keeps_a_v2_query_restriction()
    {
        var scope = SmartScope.Parse("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory");

        Assert.True(scope.IsResourceScope);
        Assert.Equal("Observation", scope.ResourceType);
        Assert.Equal("category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", scope.Query);
        Assert.True(scope.Allows(ScopeContext.Patient, "Observation", FhirInteraction.Search));
    }

    [Theory]
    [InlineData("openid")]
    [InlineData("fhirUser")]
    [InlineData("launch")]
    [InlineData("launch/patient")]
    [InlineData("offline_access")]
    [InlineData("user/Patient.sr")]       // v2 letters out of order
    [InlineData("user/Patient.rr")]       // repeated letter
    [InlineData("user/Patient.x")]        // unknown letter
    [InlineData("user/Patient.")]         // no permissions
    [InlineData("user/.rs")]              // no resource type
    [InlineData("User/Patient.read")]     // contexts are case-sensitive
    [InlineData("admin/Patient.read")]    // unknown context
    [InlineData("user/patient.read")]     // resource types start with a capital
    [InlineData("user/Patient.read?x=1")] // v1 words take no query
    [InlineData("user/Patient.rs?")]      // empty query
    public void keeps_other_scopes_but_grants_nothing(string text)
    {
        var scope = SmartScope.Parse(text);

        Assert.False(scope.IsResourceScope);
        Assert.Equal(text, scope.Value);
        Assert.Equal("", scope.Permissions);
        foreach (var interaction in Enum.GetValues<FhirInteraction>())
        {
            Assert.False(scope.AllowsInAnyContext("Patient", interaction));
        }
    }

    [Fact]
    public void v1_read_grants_read_and_search_only()
    {
        var scope = SmartScope.Parse("user/Patient.read");

        Assert.True(scope.Allows(ScopeContext.User, "Patient", FhirInteraction.Read));
        Assert.True(scope.Allows(ScopeContext.User, "Patient", FhirInteraction.Search));
        Assert.False(scope.Allows(ScopeContext.User, "Patient", FhirInteraction.Create));
        Assert.False(scope.Allows(ScopeContext.User, "Patient", FhirInteraction.Update));
        Assert.False(scope.Allows(ScopeContext.User, "Patient", FhirInteraction.Delete));
    }

    [Fact]
    public void v1_write_grants_create_update_and_delete_but_not_read()
    {
        var scope = SmartScope.Parse("system/*.write");

        Assert.True(scope.Allows(ScopeContext.System, "Observation", FhirInteraction.Create));
        Assert.True(scope.Allows(ScopeContext.System, "Observation", FhirInteraction.Update));
        Assert.True(scope.Allows(ScopeContext.System, "Observation", FhirInteraction.Delete));
        Assert.False(scope.Allows(ScopeContext.System, "Observation", FhirInteraction.Read));
        Assert.False(scope.Allows(ScopeContext.System, "Observation", FhirInteraction.Search));
    }

    [Fact]
    public void a_scope_applies_only_to_its_own_context_and_resource_type()
    {
        var scope = SmartScope.Parse("patient/Observation.r");

        Assert.True(scope.Allows(ScopeContext.Patient, "Observation", FhirInteraction.Read));
        Assert.False(scope.Allows(ScopeContext.User, "Observation", FhirInteraction.Read));
        Assert.False(scope.Allows(ScopeContext.Patient, "Condition", FhirInteraction.Read));
        Assert.False(scope.Allows(ScopeContext.Patient, "observation", FhirInteraction.Read));
        Assert.False(scope.Allows(ScopeContext.Patient, "Observation", FhirInteraction.Search));
    }

    [Theory]
    [InlineData("system/Patient.r", "system/*.rs", true)]
    [InlineData("system/Patient.rs", "system/Patient.read", true)]
    [InlineData("system/Patient.rs", "system/Patient.r", false)]
    [InlineData("system/Patient.r", "user/*.cruds", false)]
    [InlineData("system/Patient.r", "system/Observation.r", false)]
    [InlineData("system/Observation.r?category=vital-signs", "system/Observation.rs", true)]
    [InlineData("system/Observation.r", "system/Observation.rs?category=vital-signs", false)]
    [InlineData("openid", "openid", true)]
    [InlineData("openid", "system/*.cruds", false)]
    public void a_narrower_scope_is_covered_by_a_broader_one(string narrow, string broad, bool covered) =>
        Assert.Equal(covered, SmartScope.Parse(narrow).IsCoveredBy(SmartScope.Parse(broad)));
}

public class ScopeSetTests
{
    [Fact]
    public void parses_a_space_separated_string_and_drops_duplicates()
    {
        var scopes = ScopeSet.Parse("openid  fhirUser user/Patient.rs user/Patient.rs launch/patient");

        Assert.Equal(["openid", "fhirUser", "user/Patient.rs", "launch/patient"], scopes.Select(s => s.Value));
        Assert.Equal("openid fhirUser user/Patient.rs launch/patient", scopes.ToString());
        Assert.True(scopes.Contains("fhirUser"));
        Assert.False(scopes.Contains("offline_access"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void no_scope_string_gives_the_empty_set(string? text)
    {
        var scopes = ScopeSet.Parse(text);

        Assert.Empty(scopes);
        Assert.False(scopes.Allows("Patient", FhirInteraction.Read));
    }

    [Fact]
    public void allows_when_any_scope_grants_the_interaction()
    {
        var scopes = ScopeSet.Parse("openid user/Patient.r user/Observation.cruds");

        Assert.True(scopes.Allows(ScopeContext.User, "Patient", FhirInteraction.Read));
        Assert.True(scopes.Allows(ScopeContext.User, "Observation", FhirInteraction.Delete));
        Assert.False(scopes.Allows(ScopeContext.User, "Patient", FhirInteraction.Search));
        Assert.False(scopes.Allows(ScopeContext.System, "Patient", FhirInteraction.Read));
        Assert.True(scopes.Allows("Patient", FhirInteraction.Read));
    }

    [Fact]
    public void covers_a_scope_granted_by_any_member()
    {
        var scopes = ScopeSet.Parse("system/Patient.rs system/Observation.cruds");

        Assert.True(scopes.Covers(SmartScope.Parse("system/Observation.c")));
        Assert.True(scopes.Covers(SmartScope.Parse("system/Patient.read")));
        Assert.False(scopes.Covers(SmartScope.Parse("system/Patient.u")));
        Assert.False(scopes.Covers(SmartScope.Parse("system/*.r")));
    }

    [Fact]
    public void sets_with_the_same_scopes_in_another_order_are_equal()
    {
        Assert.Equal(ScopeSet.Parse("a b system/*.rs"), ScopeSet.Parse("system/*.rs b a"));
        Assert.NotEqual(ScopeSet.Parse("a b"), ScopeSet.Parse("a c"));
        Assert.NotEqual(ScopeSet.Parse("a b"), ScopeSet.Parse("a"));
    }
}

public class PrincipalTests
{
    private static Principal Citizen() => new()
    {
        Kind = PrincipalKind.Patient,
        Subject = "citizen-42",
        ClientId = "nhs-app",
        Issuer = "https://auth.example.nhs.uk",
        Name = "Jane Example",
        FhirUser = "Patient/42",
        PatientId = "42",
        Scopes = ScopeSet.Parse("openid patient/*.rs user/*.cruds system/*.cruds"),
    };

    [Fact]
    public void a_citizen_uses_patient_scopes_only()
    {
        var citizen = Citizen();

        Assert.Equal(ScopeContext.Patient, citizen.ScopeContext);
        Assert.True(citizen.Allows("Observation", FhirInteraction.Read));
        Assert.True(citizen.Allows("Observation", FhirInteraction.Search));
        Assert.False(citizen.Allows("Observation", FhirInteraction.Create));
    }

    [Theory]
    [InlineData(PrincipalKind.System, "system/Patient.rs", true)]
    [InlineData(PrincipalKind.System, "user/Patient.rs", false)]
    [InlineData(PrincipalKind.User, "user/Patient.rs", true)]
    [InlineData(PrincipalKind.User, "patient/Patient.rs", false)]
    [InlineData(PrincipalKind.Patient, "system/Patient.rs", false)]
    public void the_kind_of_caller_decides_which_scope_context_applies(PrincipalKind kind, string scope, bool allowed)
    {
        var principal = Citizen() with { Kind = kind, Scopes = ScopeSet.Parse(scope) };

        Assert.Equal(allowed, principal.Allows("Patient", FhirInteraction.Read));
    }

    [Fact]
    public void to_string_carries_identifiers_but_not_the_name()
    {
        var text = Citizen().ToString();

        Assert.DoesNotContain("Jane", text, StringComparison.Ordinal);
        Assert.Contains("sub=citizen-42", text, StringComparison.Ordinal);
        Assert.Contains("patient=42", text, StringComparison.Ordinal);
        Assert.Contains("Patient", text, StringComparison.Ordinal);
    }

    [Fact]
    public void principals_with_the_same_values_are_equal()
    {
        Assert.Equal(Citizen(), Citizen() with { Scopes = ScopeSet.Parse("system/*.cruds user/*.cruds patient/*.rs openid") });
        Assert.NotEqual(Citizen(), Citizen() with { Role = "R8000" });
    }
}
