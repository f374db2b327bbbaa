using CareHub.Server.Cli;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;

namespace CareHub.Server.Tests.Security;

/// <summary>Every endpoint the server maps states its permission, so an endpoint added without one fails here.</summary>
public sealed class EndpointAuthorizationTests : IDisposable
{
    private readonly string data = Path.Combine(Path.GetTempPath(), "carehub-endpoints-" + Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The endpoints open to anyone: the banner, health, the CapabilityStatement and the development token endpoint; and the
    /// authorization server's token endpoint (a client authenticates there, RFC 6749 section 3.2) and SMART configuration
    /// (read before a client has a token). Its discovery, JWK Set, introspection and revocation endpoints are answered by
    /// OpenIddict before routing, so they are not mapped endpoints; introspection and revocation authenticate the client.
    /// </summary>
    private static readonly HashSet<string> Open =
        ["/", "/health", "/fhir/metadata", "/auth/token", "/auth/jwks", "/connect/token", "/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"];

    [Fact]
    public async Task every_mapped_endpoint_but_the_open_ones_requires_an_authorization_policy()
    {
        await using var app = CareHubHost.Build([], [new("CareHub:Storage:DataDirectory", data), new("urls", "http://127.0.0.1:0"), .. ServeCommand.DemoSettings(), .. ServeCommand.SignInSettings("http://127.0.0.1:8080")]);
        var endpoints = ((IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>().ToList();
        Assert.NotEmpty(endpoints);

        var open = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var route = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                Assert.True(Open.Contains(route), $"{endpoint.DisplayName} is open to anonymous callers but is not one of the open endpoints.");
                open.Add(route);
                continue;
            }

            var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).OfType<string>().ToList();
            Assert.True(policies.Count > 0, $"{endpoint.DisplayName} ({route}) carries no authorization policy.");
            Assert.All(policies, p => Assert.StartsWith("carehub/", p, StringComparison.Ordinal));
        }

        Assert.Equal(Open.Order(StringComparer.Ordinal), open.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task the_admin_apis_require_their_permissions()
    {
        await using var app = CareHubHost.Build([], [new("CareHub:Storage:DataDirectory", data), new("urls", "http://127.0.0.1:0"), .. ServeCommand.DemoSettings(), .. ServeCommand.SignInSettings("http://127.0.0.1:8080")]);
        var endpoints = ((IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>().ToList();
        IReadOnlyList<string> Policies(string pattern, string method) => endpoints
            .Single(e => "/" + e.RoutePattern.RawText!.TrimStart('/') == pattern && e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Contains(method))
            .Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy!).ToList();

        Assert.Contains("carehub/admin", Policies("/fhir/$reindex", "POST"));
        Assert.Contains("carehub/mpi.admin", Policies("/fhir/Patient/$mpi-link", "POST"));
        Assert.Contains("carehub/messages.read", Policies("/admin/messaging/messages/{id:long}", "GET"));
        Assert.Contains("carehub/messages.manage", Policies("/admin/messaging/messages/reprocess", "POST"));
        Assert.Contains("carehub/messages.send", Policies("/channels/{name}/messages", "POST"));
        Assert.Equal(["carehub/fhir"], Policies("/fhir/{type}/{id}", "GET"));
    }

    public void Dispose()
    {
        if (Directory.Exists(data))
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
