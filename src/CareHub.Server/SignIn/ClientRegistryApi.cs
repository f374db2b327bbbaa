using CareHub.Server.Security;

namespace CareHub.Server.SignIn;

/// <summary>
/// The client registry over HTTP, <c>/admin/clients</c>, for administrators (permission <c>carehub/admin</c>): register a
/// backend client, list, show and remove. Errors are <c>{"error": ...}</c> saying what to fix, as CareHub's other admin
/// APIs answer.
/// </summary>
public static class ClientRegistryApi
{
    /// <summary>Maps the registry when the authorization server is on.</summary>
    public static IEndpointRouteBuilder MapClientRegistryApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<SignInOptions>() is not { Enabled: true })
        {
            return endpoints;
        }

        var group = endpoints.MapGroup("/admin/clients").RequireAuthorization(Permissions.Admin);
        group.MapGet("", async (ClientRegistry registry, CancellationToken cancellationToken) => Results.Json(await registry.ListAsync(cancellationToken)));
        group.MapGet("/{clientId}", async (string clientId, ClientRegistry registry, CancellationToken cancellationToken) =>
            await registry.FindAsync(clientId, cancellationToken) is { } client ? Results.Json(client) : NotFound(clientId));
        group.MapPost("", RegisterAsync).DisableAntiforgery();
        group.MapDelete("/{clientId}", async (string clientId, ClientRegistry registry, CancellationToken cancellationToken) =>
            await registry.RemoveAsync(clientId, cancellationToken) ? Results.NoContent() : NotFound(clientId));
        return endpoints;
    }

    private static async Task<IResult> RegisterAsync(HttpContext http, ClientRegistry registry)
    {
        ClientRegistration? registration;
        try
        {
            registration = await http.Request.ReadFromJsonAsync<ClientRegistration>(http.RequestAborted);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException)
        {
            return Error("The body must be a JSON object: {\"clientId\", \"scopes\", and \"secret\" or \"jwks\"}.", StatusCodes.Status400BadRequest);
        }

        if (registration is null)
        {
            return Error("The body must be a JSON object: {\"clientId\", \"scopes\", and \"secret\" or \"jwks\"}.", StatusCodes.Status400BadRequest);
        }

        try
        {
            var (client, secret) = await registry.RegisterAsync(registration, http.RequestAborted);
            return Results.Json(new { client, secret }, statusCode: StatusCodes.Status201Created);
        }
        catch (ClientRegistryException e)
        {
            return Error(e.Message, e.Conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest);
        }
    }

    private static IResult NotFound(string clientId) => Error($"No client '{clientId}' is registered.", StatusCodes.Status404NotFound);

    private static IResult Error(string message, int status) =>
        Results.Json(new CareHubAuthorizationResultHandler.ErrorBody(message), statusCode: status);
}
