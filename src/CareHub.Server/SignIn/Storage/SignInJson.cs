using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.SignIn.Storage;

/// <summary>How the sign-in store writes OpenIddict's lists, maps and key sets as JSON text columns, and reads them back.</summary>
public static class SignInJson
{
    public static string Strings(ImmutableArray<string> values) => JsonSerializer.Serialize(values.IsDefault ? [] : values.ToArray());

    public static ImmutableArray<string> Strings(string? json) =>
        string.IsNullOrEmpty(json) ? [] : [.. JsonSerializer.Deserialize<string[]>(json) ?? []];

    public static string Properties(ImmutableDictionary<string, JsonElement>? values) => JsonSerializer.Serialize(values ?? ImmutableDictionary<string, JsonElement>.Empty);

    public static ImmutableDictionary<string, JsonElement> Properties(string? json) =>
        string.IsNullOrEmpty(json)
            ? ImmutableDictionary<string, JsonElement>.Empty
            : (JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json) ?? []).ToImmutableDictionary(StringComparer.Ordinal);

    public static Dictionary<string, string> Cultures(ImmutableDictionary<CultureInfo, string> values) =>
        values.ToDictionary(p => p.Key.Name, p => p.Value, StringComparer.Ordinal);

    public static ImmutableDictionary<CultureInfo, string> Cultures(Dictionary<string, string>? values) =>
        (values ?? []).ToImmutableDictionary(p => CultureInfo.GetCultureInfo(p.Key), p => p.Value);

    /// <summary>
    /// A JWK Set as JSON (RFC 7517 section 5), public members only: a client registers the keys it signs assertions
    /// with, and a private member sent by mistake is not kept.
    /// </summary>
    public static string? KeySet(JsonWebKeySet? set)
    {
        if (set is null)
        {
            return null;
        }

        var keys = set.Keys.Select(k =>
        {
            var members = new Dictionary<string, string>(StringComparer.Ordinal) { ["kty"] = k.Kty };
            void Add(string name, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    members[name] = value;
                }
            }

            Add("kid", k.Kid);
            Add("use", k.Use);
            Add("alg", k.Alg);
            Add("n", k.N);
            Add("e", k.E);
            Add("crv", k.Crv);
            Add("x", k.X);
            Add("y", k.Y);
            return members;
        });
        return JsonSerializer.Serialize(new { keys });
    }

    public static JsonWebKeySet? KeySet(string? json) => string.IsNullOrEmpty(json) ? null : new JsonWebKeySet(json);
}
