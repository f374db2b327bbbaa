using Microsoft.AspNetCore.Authentication;
using CareHub.Server.SignIn;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CareHub.Server.Security;

public static class AuthServiceCollectionExtensions
{
    /// <summary>
    /// Binds and validates <c>CareHub:Auth</c> (throwing at once on a bad setting), and registers
    /// <see cref="AuthOptions"/>, <see cref="BearerTokenValidator"/> and, when development tokens are
    /// enabled, <see cref="DevTokenIssuer"/>, all as singletons; CareHub's own authorization server when
    /// <c>CareHub:SignIn</c> turns it on (<see cref="SignInServices.AddCareHubSignInServer"/>); then the authentication schemes of every face (the
    /// bearer scheme, the default) and one authorization policy per permission (<see cref="Permissions"/>). A browser
    /// session scheme is one more <c>.AddScheme</c> / <c>.AddCookie</c> on the builder below, signing in a
    /// <see cref="CareHubIdentity"/>.
    /// </summary>
    public static IServiceCollection AddCareHubAuth(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var signIn = configuration.GetSection(SignInOptions.SectionName).Get<SignInOptions>() ?? new SignInOptions();
        signIn.Validate();
        var options = configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
        options.Validate(signIn.Enabled);

        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        if (options.DevTokens is { Enabled: true } devTokens)
        {
            services.AddSingleton(sp => new DevTokenIssuer(
                devTokens, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DevTokenIssuer>>()));
        }

        if (signIn.Enabled && (options.Issuers.Any(i => string.Equals(i.Issuer, signIn.Issuer, StringComparison.Ordinal))
            || string.Equals(options.DevTokens?.Issuer, signIn.Issuer, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"Invalid authentication settings: {SignInOptions.SectionName}:Issuer '{signIn.Issuer}' is also the issuer of another trusted issuer or of development tokens; use another.");
        }

        services.AddSingleton(sp => new BearerTokenValidator(
            options,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<BearerTokenValidator>>(),
            sp.GetService<DevTokenIssuer>(),
            signIn: signIn.Enabled ? (signIn, sp.GetRequiredService<SignInKeys>(), sp.GetRequiredService<SignInTokenStatus>()) : null));
        services.AddCareHubSignInServer(signIn);
        services.AddAuthentication(BearerAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);
        services.AddCareHubAuthorization();
        return services;
    }
}
