using CareHub.Hl7v2;

namespace CareHub.Messaging;

/// <summary>Decides whether a channel takes a message: message type and trigger, sending facility, path predicates.</summary>
public sealed class MessageFilter
{
    private readonly FilterOptions options;
    private readonly IReadOnlyList<Condition> conditions;

    public MessageFilter(FilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        conditions = options.Conditions.Select(c => TryParseCondition(c, out var parsed) ? parsed! : throw new ArgumentException($"'{c}' is not a condition.", nameof(options))).ToList();
    }

    /// <summary>One predicate: the value at a path equals (or not) a value, or is present.</summary>
    public sealed record Condition(string Path, string? Value, bool Negated);

    /// <summary>Parses <c>PV1-2=I</c>, <c>PV1-2!=I</c> or <c>EVN-1</c> (the value is present).</summary>
    public static bool TryParseCondition(string text, out Condition? condition)
    {
        condition = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var notEquals = text.IndexOf("!=", StringComparison.Ordinal);
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        string path;
        string? value = null;
        var negated = false;
        if (notEquals > 0)
        {
            path = text[..notEquals].Trim();
            value = text[(notEquals + 2)..].Trim();
            negated = true;
        }
        else if (equals > 0)
        {
            path = text[..equals].Trim();
            value = text[(equals + 1)..].Trim();
        }
        else if (equals == 0 || notEquals == 0)
        {
            return false;
        }
        else
        {
            path = text.Trim();
        }

        if (!Hl7Path.TryParse(path, out _))
        {
            return false;
        }

        condition = new Condition(path, value, negated);
        return true;
    }

    /// <summary>True when the message passes every filter that is set.</summary>
    public bool Matches(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (options.MessageTypes.Length > 0 && !options.MessageTypes.Any(t => TypeMatches(t, message)))
        {
            return false;
        }

        if (options.SendingFacilities.Length > 0 && !options.SendingFacilities.Contains(message.SendingFacility, StringComparer.Ordinal))
        {
            return false;
        }

        foreach (var condition in conditions)
        {
            var actual = message.Get(condition.Path);
            var holds = condition.Value is null ? actual.Length > 0 : string.Equals(actual, condition.Value, StringComparison.Ordinal);
            if (holds == condition.Negated)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TypeMatches(string pattern, Hl7Message message)
    {
        var caret = pattern.IndexOf('^', StringComparison.Ordinal);
        var type = caret < 0 ? pattern : pattern[..caret];
        var trigger = caret < 0 ? "*" : pattern[(caret + 1)..];
        return (type == "*" || string.Equals(type, message.MessageType, StringComparison.Ordinal))
            && (trigger == "*" || string.Equals(trigger, message.TriggerEvent, StringComparison.Ordinal));
    }
}
