namespace CareHub.Server.SignIn.Storage;

/// <summary>The sign-in stores' small shared pieces: OpenIddict's optional look-up criteria as a WHERE clause, and setters.</summary>
internal static class SignInFilter
{
    /// <summary>
    /// A conjunction of <c>column = @column</c> for every criterion given; a null criterion matches anything (OpenIddict's
    /// find and revoke methods take each one optionally).
    /// </summary>
    public static (string Where, (string, object?)[] Parameters) Build(params (string Column, string? Value)[] criteria)
    {
        var given = criteria.Where(c => c.Value is not null).ToArray();
        if (given.Length == 0)
        {
            return ("1 = 1", []);
        }

        return (string.Join(" AND ", given.Select(c => $"{c.Column} = @{c.Column}")), [.. given.Select(c => ("@" + c.Column, (object?)c.Value))]);
    }

    /// <summary>Sets a member of an entity held in memory; the store writes it on create or update.</summary>
    public static ValueTask Set(Action set)
    {
        set();
        return ValueTask.CompletedTask;
    }
}
