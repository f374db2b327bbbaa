using System.Diagnostics.CodeAnalysis;
using System.Text;
using CareHub.Governance;

namespace CareHub.Server.Security;

/// <summary>The outcome of authenticating a request: a principal, or a failure fit to show the client.</summary>
public sealed record AuthResult
{
    private AuthResult(Principal? principal, AuthFailure? failure)
    {
        Principal = principal;
        Failure = failure;
    }

    public Principal? Principal { get; }

    public AuthFailure? Failure { get; }

    [MemberNotNullWhen(true, nameof(Principal))]
    [MemberNotNullWhen(false, nameof(Failure))]
    public bool Succeeded => Principal is not null;

    public static AuthResult Success(Principal principal) => new(principal ?? throw new ArgumentNullException(nameof(principal)), null);

    public static AuthResult Fail(AuthFailure failure) => new(null, failure ?? throw new ArgumentNullException(nameof(failure)));
}

/// <summary>
/// Why authentication failed, in words a client may see: never the token, never a library's exception text.
/// <see cref="Error"/> is the RFC 6750 section 3.1 error code, or null when the request carried no bearer
/// token at all (the RFC says to send no error code then).
/// </summary>
public sealed record AuthFailure(string? Error, string Description)
{
    public const string InvalidRequestCode = "invalid_request";
    public const string InvalidTokenCode = "invalid_token";

    public static AuthFailure Missing { get; } = new(null, "Authentication required");

    public static AuthFailure InvalidRequest(string description) => new(InvalidRequestCode, description);

    public static AuthFailure InvalidToken(string description) => new(InvalidTokenCode, description);

    /// <summary>400 for a malformed request, otherwise 401 (RFC 6750 section 3.1).</summary>
    public int StatusCode => Error == InvalidRequestCode ? StatusCodes.Status400BadRequest : StatusCodes.Status401Unauthorized;

    /// <summary>The <c>WWW-Authenticate</c> header value to send with the error response.</summary>
    public string WwwAuthenticate => BearerChallenge.For(this);
}

/// <summary>Builds <c>WWW-Authenticate: Bearer ...</c> header values (RFC 6750 section 3).</summary>
public static class BearerChallenge
{
    public const string Realm = "carehub";

    /// <summary>The challenge for a failed authentication; a missing token gets the bare challenge.</summary>
    public static string For(AuthFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return failure.Error is null ? Build(null, null) : Build(failure.Error, failure.Description);
    }

    /// <summary>The challenge for a valid token whose scopes do not allow the request (403, RFC 6750 section 3.1).</summary>
    public static string InsufficientScope(string description, string? requiredScope = null) =>
        Build("insufficient_scope", description, requiredScope);

    /// <summary>
    /// <c>Bearer realm="carehub"</c> followed by the given attributes. Characters that RFC 6750 does not allow
    /// inside the quoted values (quote, backslash, control and non-ASCII characters) are replaced.
    /// </summary>
    public static string Build(string? error, string? description, string? scope = null)
    {
        var header = new StringBuilder("Bearer realm=\"").Append(Realm).Append('"');
        AppendAttribute(header, "error", error);
        AppendAttribute(header, "error_description", description);
        AppendAttribute(header, "scope", scope);
        return header.ToString();
    }

    private static void AppendAttribute(StringBuilder header, string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        header.Append(", ").Append(name).Append("=\"");
        foreach (var c in value)
        {
            // RFC 6750 section 3: error_description uses %x20-21 / %x23-5B / %x5D-7E.
            header.Append(c switch
            {
                '"' => '\'',
                '\\' => '/',
                < ' ' or > '~' => ' ',
                _ => c,
            });
        }

        header.Append('"');
    }
}
