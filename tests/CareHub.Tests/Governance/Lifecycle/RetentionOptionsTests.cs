using CareHub.Governance.Lifecycle;

namespace CareHub.Tests.Governance.Lifecycle;

public sealed class RetentionOptionsTests
{
    [Fact]
    public void the_defaults_keep_gp_records_and_purge_nothing_younger_than_eight_years()
    {
        var defaults = new RetentionOptions();

        defaults.Validate();
        Assert.Contains(defaults.EffectiveRules, r => r.Keep && r.Category!.EndsWith("|gp-record", StringComparison.Ordinal));
        Assert.All(defaults.EffectiveRules.Where(r => !r.Keep), r => Assert.True(r.RetainFor!.Value.Years >= 8));
        Assert.DoesNotContain(defaults.EffectiveRules, r => r.ResourceTypes.Contains("Patient") || r.ResourceTypes.Contains("AuditEvent"));
    }

    [Theory]
    [InlineData("AuditEvent", "P7Y", "lastUpdated", "audit records")]
    [InlineData("Observation", "P0D", "lastUpdated", "empty RetainFor")]
    [InlineData("Observation", "P1Y", "period/end", "From must be")]
    public void refuses_a_rule_that_would_break_the_chain_or_cannot_be_applied(string type, string period, string from, string message)
    {
        var options = new RetentionOptions
        {
            Rules = [new RetentionRule { Name = "r", ResourceTypes = [type], RetainFor = RetentionPeriod.Parse(period), From = from }],
        };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("P8Y", 8, 0, 0)]
    [InlineData("P6M", 0, 6, 0)]
    [InlineData("P1Y2M3D", 1, 2, 3)]
    public void parses_iso_periods(string text, int years, int months, int days) =>
        Assert.Equal(new RetentionPeriod(years, months, days), RetentionPeriod.Parse(text));

    [Theory]
    [InlineData("P")]
    [InlineData("8Y")]
    [InlineData("P1W")]
    public void refuses_what_is_not_a_period(string text) => Assert.Throws<FormatException>(() => RetentionPeriod.Parse(text));
}
