using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace CareHub.Server.SignIn;

/// <summary>
/// Reads client assertions the way SMART Backend Services writes them (SMART App Launch 2.x, "Authenticating with a signed
/// JWT"): typed <c>JWT</c> (or untyped) as well as <c>client-authentication+jwt</c>, and addressed to the token endpoint
/// URL as well as to the issuer. OpenIddict accepts only the explicit type and the issuer of draft-ietf-oauth-rfc7523bis;
/// SMART tells clients to send <c>typ: JWT</c> and <c>aud</c> = the token URL, and RFC 7523 section 3 allows both. What the
/// draft guards against (an assertion made for one server replayed to another) is still guarded: the audience must name
/// this server, and each assertion's <c>jti</c> is accepted once.
/// </summary>
internal sealed class SmartClientAssertions(SignInOptions options) : IOpenIddictServerHandler<ValidateTokenContext>
{
    private const string ExplicitType = "client-authentication+jwt";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
        .UseSingletonHandler<SmartClientAssertions>()
        .SetOrder(OpenIddictServerHandlers.Protection.ResolveTokenValidationParameters.Descriptor.Order + 500)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(ValidateTokenContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ValidTokenTypes.Count == 1 && context.ValidTokenTypes.Contains(TokenTypeIdentifiers.Private.ClientAssertion) && context.TokenValidationParameters is { } parameters)
        {
            // The type returned is the one OpenIddict then reads the token as: a generic JWT presented as a client
            // assertion is one.
            parameters.ValidTypes = null;
            parameters.TypeValidator = (type, _, _) => type switch
            {
                null or "" or "JWT" or ExplicitType or "application/" + ExplicitType => ExplicitType,
                _ => throw new Microsoft.IdentityModel.Tokens.SecurityTokenInvalidTypeException($"A client assertion of type '{type}' is not accepted.") { InvalidType = type },
            };
            context.ValidAudiences.Add(options.Issuer.TrimEnd('/') + SignInServices.TokenPath);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Names a failed client assertion <c>invalid_client</c>, as RFC 7521 section 4.2.1 requires ("If the client assertion is
/// invalid for any reason"), where OpenIddict reports the token's own fault (<c>invalid_token</c>).
/// </summary>
internal sealed class ClientAssertionErrors : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
        .UseSingletonHandler<ClientAssertionErrors>()
        .SetOrder(int.MinValue + 100_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Request?.ClientAssertion is not null && context.Response.Error == Errors.InvalidToken)
        {
            context.Response.Error = Errors.InvalidClient;
        }

        return ValueTask.CompletedTask;
    }
}
