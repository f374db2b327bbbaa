using CareHub.Server.Fhir;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CareHub.Server.Tests.Fhir;

/// <summary>The CapabilityStatement says what the server really maps: every operation, and nothing else.</summary>
public sealed class CapabilityStatementTests : IAsyncLifetime
{
    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-capability-" + Guid.NewGuid().ToString("N"));
    private WebApplication? app;

    public ValueTask InitializeAsync()
    {
        app = CareHubHost.Build([],
        [
            new("CareHub:Storage:DataDirectory", data),
            new("Logging:LogLevel:Default", "Warning"),
            .. ServerFixture.DevTokens,
        ]);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }

        if (Directory.Exists(data))
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public void every_mapped_operation_is_in_the_capability_statement_and_every_listed_one_is_mapped()
    {
        var mapped = ((IEndpointRouteBuilder)app!).DataSources
            .SelectMany(d => d.Endpoints)
            .OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText ?? "")
            .Select(Operation)
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);

        var statement = app!.Services.GetRequiredService<CapabilityStatementFactory>().Build("http://carehub.test/fhir");
        var rest = Assert.Single(statement.Rest);
        var listed = rest.Operation.Select(o => "$" + o.Name)
            .Concat(rest.Resource.SelectMany(r => r.Operation.Select(o => r.Type + "/$" + o.Name)))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Empty(mapped.Except(listed));
        Assert.Empty(listed.Except(mapped));
        Assert.Contains("Patient/$everything", listed);
        Assert.All(rest.Resource.SelectMany(r => r.Operation).Concat(rest.Operation), o => Assert.False(string.IsNullOrEmpty(o.Definition)));
    }

    /// <summary>
    /// The operation a route serves, as "$name" (system level) or "Type/$name" (type or instance level), or null when the
    /// route is not an operation (the status URL of an asynchronous operation ends in its job id, not in a "$name").
    /// </summary>
    private static string? Operation(string route)
    {
        var segments = route.Trim('/').Split('/');
        return segments is ["fhir", .., var last] && last.StartsWith('$')
            ? segments.Length == 2 ? last : segments[1] + "/" + last
            : null;
    }
}
