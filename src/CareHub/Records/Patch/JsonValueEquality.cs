using System.Text.Json;
using System.Text.Json.Nodes;

namespace CareHub.Records.Patch;

/// <summary>
/// RFC 6902 section 4.6 equality for the test operation: same JSON type; strings equal by code points; numbers equal
/// by value (so 1, 1.0 and 1e0 are equal); arrays equal element by element in order; objects equal when they hold the
/// same member names with equal values, in any order.
/// </summary>
internal static class JsonValueEquality
{
    public static bool Equal(JsonNode? a, JsonNode? b)
    {
        var kind = KindOf(a);
        if (kind != KindOf(b))
        {
            return false;
        }

        switch (kind)
        {
            case JsonValueKind.Object:
                var left = (JsonObject)a!;
                var right = (JsonObject)b!;
                return left.Count == right.Count
                    && left.All(member => right.TryGetPropertyValue(member.Key, out var other) && Equal(member.Value, other));
            case JsonValueKind.Array:
                var first = (JsonArray)a!;
                var second = (JsonArray)b!;
                return first.Count == second.Count && first.Zip(second).All(pair => Equal(pair.First, pair.Second));
            case JsonValueKind.String:
                return string.Equals(a!.GetValue<string>(), b!.GetValue<string>(), StringComparison.Ordinal);
            case JsonValueKind.Number:
                return NumbersEqual((JsonValue)a!, (JsonValue)b!);
            default:
                // null, true and false carry no value beyond their kind.
                return true;
        }
    }

    private static JsonValueKind KindOf(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;

    private static bool NumbersEqual(JsonValue a, JsonValue b)
    {
        if (a.TryGetValue<decimal>(out var x) && b.TryGetValue<decimal>(out var y))
        {
            return x == y;
        }

        // Beyond decimal's range: compare as doubles, which is what most JSON parsers would do anyway.
        return a.TryGetValue<double>(out var p) && b.TryGetValue<double>(out var q) && p.Equals(q);
    }
}
