using CareHub.Governance;
using CareHub.Identity;
using CareHub.Records;
using CareHub.Server.Fhir;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace CareHub.Server.Security;

/// <summary>
/// The permissions of CareHub's HTTP faces, one authorization policy each, required on their endpoints with
/// <c>RequireAuthorization</c> (docs/governance.md, "Administration"). What a permitted caller may see inside is still the
/// access policy's decision, made by the door.
/// </summary>
public static class Permissions
{
    /// <summary>The FHIR API: any authenticated caller (the access policy decides per resource).</summary>
    public const string Fhir = "carehub/fhir";

    /// <summary>CareHub's own administration ($reindex): a system with <see cref="Administration.Scope"/> or <c>system/*.cruds</c>.</summary>
    public const string Admin = "carehub/admin";

    /// <summary>MPI administration ($merge, $mpi-link, $mpi-unlink, $mpi-status): a system client or a user in <see cref="Administration.Role"/>.</summary>
    public const string MpiAdmin = "carehub/mpi.admin";

    /// <summary>List channels and search the message store: an admin system, or a user whose role may <c>s</c> on <c>messages</c>.</summary>
    public const string MessagesSearch = "carehub/messages.search";

    /// <summary>Read a stored message's content: an admin system, or a user whose role may <c>r</c> on <c>messages</c>.</summary>
    public const string MessagesRead = "carehub/messages.read";

    /// <summary>Reprocess messages, pause and resume channels: an admin system, or a user whose role may <c>u</c> on <c>messages</c>.</summary>
    public const string MessagesManage = "carehub/messages.manage";

    /// <summary>Send a message to an HTTP channel: a system with <see cref="SendScope"/> or <c>system/*.cruds</c>.</summary>
    public const string MessagesSend = "carehub/messages.send";

    /// <summary>The scope of a system that sends HL7 v2 messages over HTTP (SMART backend services).</summary>
    public const string SendScope = "carehub.messaging.send";

    /// <summary>The access policy's category for HL7 v2 messages in the message store (default-policy.json).</summary>
    public const string MessagesCategory = "messages";

    /// <summary>Registers one policy per permission, the handler that decides them, and the responses to a refusal.</summary>
    public static IServiceCollection AddCareHubAuthorization(this IServiceCollection services)
    {
        services.AddAuthorization(options =>
        {
            options.AddPolicy(Fhir, p => p.RequireAuthenticatedUser());
            options.AddPolicy(Admin, p => p.RequireAuthenticatedUser().AddRequirements(new SystemScopeRequirement(Administration.Scope)));
            options.AddPolicy(MpiAdmin, p => p.RequireAuthenticatedUser().AddRequirements(new MpiAdministratorRequirement()));
            options.AddPolicy(MessagesSearch, p => p.RequireAuthenticatedUser().AddRequirements(new MessagesRequirement('s')));
            options.AddPolicy(MessagesRead, p => p.RequireAuthenticatedUser().AddRequirements(new MessagesRequirement('r')));
            options.AddPolicy(MessagesManage, p => p.RequireAuthenticatedUser().AddRequirements(new MessagesRequirement('u')));
            options.AddPolicy(MessagesSend, p => p.RequireAuthenticatedUser().AddRequirements(new SystemScopeRequirement(SendScope)));
            // A request that matches no endpoint under /fhir still needs a token, so an unauthenticated client learns
            // nothing about which FHIR paths exist; elsewhere it is an ordinary 404.
            options.FallbackPolicy = new AuthorizationPolicyBuilder().AddRequirements(new FhirPathRequirement()).Build();
        });
        services.AddSingleton<IAuthorizationHandler, CareHubAuthorizationHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, CareHubAuthorizationResultHandler>();
        return services;
    }
}

/// <summary>A system holding the scope, or <c>system/*.cruds</c>.</summary>
public sealed record SystemScopeRequirement(string Scope) : IAuthorizationRequirement;

/// <summary>A system client, or a user in the administrator role.</summary>
public sealed record MpiAdministratorRequirement : IAuthorizationRequirement;

/// <summary>An admin system, or a user whose job role the access policy allows <see cref="Letter"/> (c r u d s) on the messages category.</summary>
public sealed record MessagesRequirement(char Letter) : IAuthorizationRequirement;

/// <summary>An authenticated caller for any path under /fhir except the CapabilityStatement.</summary>
public sealed record FhirPathRequirement : IAuthorizationRequirement;

/// <summary>
/// Decides CareHub's requirements from the caller's principal and, for raw messages, the access policy (the default
/// policy when a host registers none).
/// </summary>
public sealed class CareHubAuthorizationHandler(IAccessPolicy? policy = null) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        var principal = CareHubPrincipal.Find(context.User);
        foreach (var requirement in context.PendingRequirements.ToList())
        {
            switch (requirement)
            {
                case FhirPathRequirement:
                    // Neither granted nor refused for an anonymous caller under /fhir: the middleware then challenges.
                    if (principal is not null || context.Resource is not HttpContext http || !CareHubAuthorizationResultHandler.NeedsToken(http.Request.Path))
                    {
                        context.Succeed(requirement);
                    }

                    break;
                case SystemScopeRequirement scope:
                    Decide(context, requirement, principal is not null && Administration.SystemHolds(principal, scope.Scope),
                        $"This needs a system token with the scope {scope.Scope} (or system/*.cruds).");
                    break;
                case MpiAdministratorRequirement:
                    Decide(context, requirement, principal is not null && MasterPersonIndex.IsAdministrator(principal), MasterPersonIndex.AdministratorsOnly);
                    break;
                case MessagesRequirement messages:
                    Decide(context, requirement, principal is not null && PermitsMessages(principal, messages.Letter),
                        $"This needs a system token with the scope {Administration.Scope} (or system/*.cruds), or a user whose role may '{messages.Letter}' on {Permissions.MessagesCategory} (e.g. integration-engineer).");
                    break;
            }
        }

        return Task.CompletedTask;
    }

    private void Decide(AuthorizationHandlerContext context, IAuthorizationRequirement requirement, bool permitted, string refusal)
    {
        if (permitted)
        {
            context.Succeed(requirement);
        }
        else
        {
            context.Fail(new AuthorizationFailureReason(this, refusal));
        }
    }

    /// <summary>The messages rule: a system with the admin scope, or a user whose role may do the letter on the messages category.</summary>
    private bool PermitsMessages(Principal principal, char letter)
    {
        var document = policy is GovernancePolicy governance ? governance.Document : PolicyDocument.Default;
        return Administration.SystemHolds(principal, Administration.Scope)
            || (principal.Kind == PrincipalKind.User
                && document.Role(principal.Role)?.Access.GetValueOrDefault(Permissions.MessagesCategory)?.Contains(letter, StringComparison.Ordinal) == true);
    }
}

/// <summary>
/// Answers a refused request the way each face always has: under /fhir an OperationOutcome (401 with the bearer challenge
/// and an audited failed <c>authenticate</c>, or 403 saying what is needed); elsewhere a JSON <c>{"error": ...}</c>.
/// </summary>
public sealed class CareHubAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private static readonly Principal Anonymous = new() { Kind = PrincipalKind.System, Subject = "anonymous", ClientId = "none", Issuer = "none" };

    /// <summary>Paths under /fhir need a token, except the CapabilityStatement (R4 http.html#capabilities).</summary>
    public static bool NeedsToken(PathString path) =>
        path.StartsWithSegments("/fhir", StringComparison.Ordinal) && !path.StartsWithSegments("/fhir/metadata", StringComparison.Ordinal);

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(authorizeResult);
        var fhir = context.Request.Path.StartsWithSegments("/fhir", StringComparison.Ordinal);
        if (authorizeResult.Challenged)
        {
            var authenticated = await context.AuthenticateAsync(BearerAuthenticationHandler.SchemeName);
            var failure = (authenticated.Failure as AuthFailureException)?.Failure ?? AuthFailure.Missing;
            context.Response.Headers.WWWAuthenticate = failure.WwwAuthenticate;
            if (fhir)
            {
                var audit = context.RequestServices.GetRequiredService<AuditTrail>();
                var request = new RequestContext(Anonymous, FhirHttp.BaseUrl(context), context.TraceIdentifier, context.Connection.RemoteIpAddress?.ToString());
                audit.Record(request, new AuditFacts("authenticate", AuditEvent.AuditEventAction.E, null, [], [], false, failure.Description));
                throw new CareHub.Fhir.UnauthenticatedException(failure.Description);
            }

            await Results.Json(new ErrorBody(failure.Description), statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
            return;
        }

        if (authorizeResult.Forbidden)
        {
            var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? "This caller may not do this.";
            if (fhir)
            {
                throw new AccessDeniedException(reason);
            }

            await Results.Json(new ErrorBody(reason), statusCode: StatusCodes.Status403Forbidden).ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    /// <summary>The error body of the non-FHIR faces.</summary>
    public sealed record ErrorBody(string Error);
}
