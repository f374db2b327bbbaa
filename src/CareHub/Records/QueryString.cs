namespace CareHub.Records;

/// <summary>Splits an application/x-www-form-urlencoded query (conditional URLs, search criteria) into ordered pairs.</summary>
public static class QueryString
{
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string query)
    {
        var start = query.IndexOf('?', StringComparison.Ordinal);
        if (start >= 0)
        {
            query = query[(start + 1)..];
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? part : part[..equals];
            var value = equals < 0 ? string.Empty : part[(equals + 1)..];
            pairs.Add(new(Decode(name), Decode(value)));
        }

        return pairs;
    }

    private static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}
