using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CareHub.Fhir;
using Hl7.Fhir.Model;

namespace CareHub.Records.Patch;

/// <summary>
/// The JSON Patch body of the FHIR R4 patch interaction (http.html#patch, media type application/json-patch+json):
/// RFC 6902 operations applied to the resource's FHIR JSON, with RFC 6901 JSON Pointers.
/// </summary>
public static class JsonPatch
{
    /// <summary>
    /// Applies <paramref name="patchJson"/> to a copy of <paramref name="current"/> and returns the patched resource;
    /// <paramref name="current"/> is never changed.
    /// </summary>
    /// <exception cref="FhirException">
    /// 400 when the document is not a JSON Patch document; 422 when an operation cannot be applied (RFC 6902 section 5:
    /// the whole patch then fails), changes <c>id</c> or <c>resourceType</c>, or the result is not a valid resource.
    /// </exception>
    public static Resource Apply(Resource current, string patchJson)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(patchJson);

        var operations = ParseDocument(patchJson);
        JsonNode? document = PatchedResource.ToJson(current);
        var resourceType = current.TypeName;
        var id = current.Id;

        foreach (var operation in operations)
        {
            document = operation.ApplyTo(document);

            // The logical id and type are the resource's identity on the server; a patch edits content, not identity.
            if (StringMember(document, "resourceType") != resourceType)
            {
                throw operation.Unprocessable("it changes resourceType, which a patch may not do");
            }

            if (StringMember(document, "id") != id)
            {
                throw operation.Unprocessable("it changes id, which a patch may not do");
            }
        }

        return PatchedResource.Parse(document, "JSON Patch");
    }

    private static string? StringMember(JsonNode? node, string name) =>
        node is JsonObject o && o.TryGetPropertyValue(name, out var v) && v is JsonValue value
            && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : null;

    private static List<Operation> ParseDocument(string patchJson)
    {
        JsonNode? root;
        try
        {
            // A repeated member name ("op" twice) has no defined meaning, so it is refused rather than guessed at.
            root = JsonNode.Parse(patchJson, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException)
        {
            throw FhirException.BadRequest("The JSON Patch document is not valid JSON, or repeats a member name within an object.");
        }

        if (root is not JsonArray array)
        {
            throw FhirException.BadRequest("A JSON Patch document must be a JSON array of operations (RFC 6902 section 3).");
        }

        var operations = new List<Operation>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            operations.Add(Operation.Parse(i, array[i]));
        }

        return operations;
    }

    private sealed record Operation(int Index, string Op, JsonPointer Path, JsonPointer? From, JsonNode? Value)
    {
        public static Operation Parse(int index, JsonNode? node)
        {
            if (node is not JsonObject o)
            {
                throw BadRequest(index, "an operation must be a JSON object");
            }

            var op = RequiredString(index, o, "op");
            var path = JsonPointer.Parse(RequiredString(index, o, "path"), index, "path");

            // RFC 6902 section 4: members not defined for the operation are ignored.
            switch (op)
            {
                case "add" or "replace" or "test":
                    if (!o.TryGetPropertyValue("value", out var value))
                    {
                        throw BadRequest(index, $"'{op}' needs a 'value' member");
                    }

                    return new Operation(index, op, path, null, value);
                case "remove":
                    return new Operation(index, op, path, null, null);
                case "move" or "copy":
                    var from = JsonPointer.Parse(RequiredString(index, o, "from"), index, "from");
                    return new Operation(index, op, path, from, null);
                default:
                    throw BadRequest(index, "'op' must be one of add, remove, replace, move, copy, test");
            }
        }

        public JsonNode? ApplyTo(JsonNode? document)
        {
            switch (Op)
            {
                case "add":
                    return Add(document, Path, Value?.DeepClone());
                case "remove":
                    return Remove(document, Path, out _);
                case "replace":
                    Resolve(document, Path);
                    if (Path.IsRoot)
                    {
                        return Value?.DeepClone();
                    }

                    document = Remove(document, Path, out _);
                    return Add(document, Path, Value?.DeepClone());
                case "move":
                    if (From!.IsProperPrefixOf(Path))
                    {
                        throw Unprocessable("a location cannot be moved into one of its own children (RFC 6902 section 4.4)");
                    }

                    if (From.Equals(Path))
                    {
                        Resolve(document, From);
                        return document;
                    }

                    document = Remove(document, From, out var moved);
                    return Add(document, Path, moved);
                case "copy":
                    return Add(document, Path, Resolve(document, From!)?.DeepClone());
                case "test":
                    if (!JsonValueEquality.Equal(Resolve(document, Path), Value))
                    {
                        throw Unprocessable("the test failed: the value at the path differs");
                    }

                    return document;
                default:
                    throw new InvalidOperationException("Unreachable: operations are validated when parsed.");
            }
        }

        /// <summary>RFC 6902 section 4.1: the target's parent must exist; arrays take an index up to their size, or "-".</summary>
        private JsonNode? Add(JsonNode? document, JsonPointer path, JsonNode? value)
        {
            if (path.IsRoot)
            {
                return value;
            }

            var parent = Resolve(document, path.Parent);
            var token = path.Last;
            switch (parent)
            {
                case JsonObject o:
                    o[token] = value;
                    return document;
                case JsonArray a:
                    if (token == "-")
                    {
                        a.Add(value);
                        return document;
                    }

                    var index = ArrayIndex(token, path);
                    if (index > a.Count)
                    {
                        throw Unprocessable($"index {index} at '{path}' is beyond the end of the array");
                    }

                    a.Insert(index, value);
                    return document;
                default:
                    throw Unprocessable($"the parent of '{path}' is not an object or an array");
            }
        }

        private JsonNode? Remove(JsonNode? document, JsonPointer path, out JsonNode? removed)
        {
            if (path.IsRoot)
            {
                throw Unprocessable("the whole resource cannot be removed");
            }

            var parent = Resolve(document, path.Parent);
            var token = path.Last;
            switch (parent)
            {
                case JsonObject o when o.TryGetPropertyValue(token, out removed):
                    o.Remove(token);
                    return document;
                case JsonArray a:
                    var index = ArrayIndex(token, path);
                    if (index >= a.Count)
                    {
                        throw Unprocessable($"'{path}' does not exist");
                    }

                    removed = a[index];
                    a.RemoveAt(index);
                    return document;
                default:
                    throw Unprocessable($"'{path}' does not exist");
            }
        }

        private JsonNode? Resolve(JsonNode? document, JsonPointer path)
        {
            var node = document;
            for (var depth = 0; depth < path.Tokens.Count; depth++)
            {
                var token = path.Tokens[depth];
                switch (node)
                {
                    case JsonObject o when o.TryGetPropertyValue(token, out var child):
                        node = child;
                        break;
                    case JsonArray a when token != "-" && IsArrayIndex(token) && ArrayIndex(token, path) < a.Count:
                        node = a[ArrayIndex(token, path)];
                        break;
                    default:
                        throw Unprocessable($"'{path}' does not exist");
                }
            }

            return node;
        }

        /// <summary>RFC 6901 section 4: an array index is "0" or digits without a leading zero.</summary>
        private static bool IsArrayIndex(string token) =>
            token.Length > 0 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token[0] != '0');

        private int ArrayIndex(string token, JsonPointer path)
        {
            if (!IsArrayIndex(token) || !int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                throw Unprocessable($"'{token}' in '{path}' is not a valid array index");
            }

            return index;
        }

        public FhirException Unprocessable(string problem) =>
            FhirException.Unprocessable($"JSON Patch operation {Index} ({Op} '{Path}') cannot be applied: {problem}.");

        private static FhirException BadRequest(int index, string problem) =>
            FhirException.BadRequest($"JSON Patch operation {index} is malformed: {problem}.");

        private static string RequiredString(int index, JsonObject o, string member) =>
            o.TryGetPropertyValue(member, out var v) && v is JsonValue value && value.GetValueKind() == JsonValueKind.String
                ? value.GetValue<string>()
                : throw BadRequest(index, $"'{member}' must be present and be a string");
    }

    /// <summary>An RFC 6901 JSON Pointer, unescaped into its reference tokens.</summary>
    private sealed class JsonPointer : IEquatable<JsonPointer>
    {
        private readonly string text;

        private JsonPointer(string text, IReadOnlyList<string> tokens)
        {
            this.text = text;
            Tokens = tokens;
        }

        public IReadOnlyList<string> Tokens { get; }

        public bool IsRoot => Tokens.Count == 0;

        public string Last => Tokens[^1];

        public JsonPointer Parent => new(this.text[..text.LastIndexOf('/')], Tokens.Take(Tokens.Count - 1).ToList());

        public static JsonPointer Parse(string text, int index, string member)
        {
            if (text.Length == 0)
            {
                return new JsonPointer(text, []);
            }

            if (text[0] != '/')
            {
                throw FhirException.BadRequest(
                    $"JSON Patch operation {index} is malformed: '{member}' is not a JSON Pointer; it must be empty or start with '/' (RFC 6901 section 3).");
            }

            var tokens = text[1..].Split('/').Select(raw => Unescape(raw, index, member)).ToList();
            return new JsonPointer(text, tokens);
        }

        /// <summary>RFC 6901 section 4: "~1" becomes "/" and then "~0" becomes "~"; any other "~" is an error.</summary>
        private static string Unescape(string raw, int index, string member)
        {
            for (var i = 0; i < raw.Length; i++)
            {
                if (raw[i] == '~' && (i + 1 == raw.Length || (raw[i + 1] != '0' && raw[i + 1] != '1')))
                {
                    throw FhirException.BadRequest(
                        $"JSON Patch operation {index} is malformed: '{member}' has a '~' not followed by 0 or 1 (RFC 6901 section 3).");
                }
            }

            return raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
        }

        public bool IsProperPrefixOf(JsonPointer other) =>
            other.Tokens.Count > Tokens.Count && Tokens.Select((t, i) => t == other.Tokens[i]).All(same => same);

        public bool Equals(JsonPointer? other) => other is not null && Tokens.SequenceEqual(other.Tokens);

        public override bool Equals(object? obj) => Equals(obj as JsonPointer);

        public override int GetHashCode() => this.text.GetHashCode(StringComparison.Ordinal);

        public override string ToString() => this.text;
    }
}
