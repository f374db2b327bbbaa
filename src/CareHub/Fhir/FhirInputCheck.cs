using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using System.Xml;

namespace CareHub.Fhir;

/// <summary>
/// A cheap streaming pass over a FHIR body before the Firely parser sees it. The parser recurses once per level of
/// nesting, so a body nested thousands deep ends the process with a stack overflow; this pass reads the body with a
/// flat loop and refuses, with a 400 naming the limit, anything nested deeper than the limit. It also refuses what the
/// parser would otherwise store silently: bytes that are not UTF-8 (R4 http.html#mime-type: FHIR is UTF-8; they would
/// become U+FFFD), JSON string escapes that are unpaired surrogates, and control characters in strings (R4
/// datatypes.html#string allows none below U+0020 except tab, carriage return and line feed).
/// </summary>
public static class FhirInputCheck
{
    /// <summary>The nesting depth a body may reach when nothing is configured: real resources stay below 20.</summary>
    public const int DefaultMaxDepth = 100;

    /// <summary>Checks a body and returns its text (without a byte order mark); a 400 <see cref="FhirException"/> otherwise.</summary>
    public static string Check(ReadOnlySpan<byte> utf8, FhirFormat format, int maxDepth)
    {
        utf8 = WithoutByteOrderMark(utf8);
        var text = DecodeUtf8(utf8);
        if (format == FhirFormat.Json)
        {
            CheckJson(utf8, maxDepth, patch: false);
        }
        else
        {
            CheckXml(text, maxDepth);
        }

        return text;
    }

    /// <summary>
    /// Checks a JSON Patch body (RFC 6902, an array of operations) as a resource body is checked: its values become FHIR
    /// elements, so the same nesting bound and string rules apply. Returns its text.
    /// </summary>
    public static string CheckJsonPatch(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        utf8 = WithoutByteOrderMark(utf8);
        var text = DecodeUtf8(utf8);
        CheckJson(utf8, maxDepth, patch: true);
        return text;
    }

    private static ReadOnlySpan<byte> WithoutByteOrderMark(ReadOnlySpan<byte> utf8) =>
        utf8.StartsWith("\uFEFF"u8) ? utf8[3..] : utf8;

    /// <summary>The text of UTF-8 bytes; a 400 at the first byte that is not UTF-8 (never a silent U+FFFD).</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> utf8)
    {
        var chars = new char[Encoding.UTF8.GetMaxCharCount(utf8.Length)];
        var status = Utf8.ToUtf16(utf8, chars, out var read, out var written, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
        {
            throw FhirException.BadRequest($"The body is not valid UTF-8 (at byte offset {read}); FHIR is exchanged as UTF-8.");
        }

        return new string(chars, 0, written);
    }

    private static TooCostlyException TooDeep(int maxDepth, string? path) =>
        new($"The body is nested more than {maxDepth} levels deep, this server's limit (CareHub:Fhir:MaxNestingDepth).", path);

    private static void CheckJson(ReadOnlySpan<byte> utf8, int maxDepth, bool patch)
    {
        // The reader's own limit sits one above ours, so ours is the one that answers.
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth + 1, CommentHandling = JsonCommentHandling.Disallow });
        var path = new JsonPath();
        try
        {
            if (!reader.Read())
            {
                throw FhirException.BadRequest("The body is empty.");
            }

            if (patch && reader.TokenType != JsonTokenType.StartArray)
            {
                throw FhirException.BadRequest($"A JSON Patch is an array of operations (RFC 6902), not a {Describe(reader.TokenType)}.");
            }

            if (!patch && reader.TokenType != JsonTokenType.StartObject)
            {
                throw FhirException.BadRequest($"A FHIR JSON body is one resource, a JSON object (R4 json.html), not a {Describe(reader.TokenType)}.");
            }

            path.Enter(patch);
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var name = CheckedString(ref reader, path);
                        if (name.Length == 0)
                        {
                            // No FHIR element has an empty name (R4 json.html); the parser fails on one with an internal error.
                            throw FhirException.BadRequest("A JSON property has an empty name; FHIR elements are named.", path.ToString());
                        }

                        path.Name(name);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        path.Value();
                        if (reader.CurrentDepth >= maxDepth)
                        {
                            throw TooDeep(maxDepth, path.ToString());
                        }

                        path.Enter(reader.TokenType == JsonTokenType.StartArray);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.Leave();
                        break;
                    case JsonTokenType.String:
                        path.Value();
                        CheckedString(ref reader, path);
                        break;
                    default:
                        path.Value();
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw FhirException.BadRequest($"The body is not valid JSON: {FirstSentence(e.Message)} (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
    }

    private static string CheckedString(ref Utf8JsonReader reader, JsonPath path)
    {
        string value;
        try
        {
            value = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The reader refuses escapes that do not make UTF-16 (a lone \ud800); Firely would let them through.
            throw FhirException.BadRequest("A JSON string holds an escape that is not a Unicode character (an unpaired surrogate such as \\ud800).", path.ToString());
        }

        // Raw control characters are already invalid JSON (RFC 8259 section 7); escaped ones are checked here.
        if (reader.ValueIsEscaped && FirstControlCharacter(value) is { } bad)
        {
            throw FhirException.BadRequest($"A FHIR string may not hold the control character U+{(int)bad:X4} (R4 datatypes.html#string).", path.ToString());
        }

        return value;
    }

    /// <summary>The first character below U+0020 other than tab, carriage return and line feed, if any.</summary>
    public static char? FirstControlCharacter(string value)
    {
        foreach (var c in value)
        {
            if (c < ' ' && c is not ('\t' or '\r' or '\n'))
            {
                return c;
            }
        }

        return null;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "JSON object",
        JsonTokenType.StartArray => "JSON array",
        JsonTokenType.String => "JSON string",
        JsonTokenType.Number => "JSON number",
        JsonTokenType.True or JsonTokenType.False => "JSON boolean",
        JsonTokenType.Null => "JSON null",
        _ => "JSON value",
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return FhirException.Excerpt(end < 0 ? message.TrimEnd('.') : message[..end]);
    }

    private static void CheckXml(string text, int maxDepth)
    {
        var settings = new XmlReaderSettings
        {
            // No DTDs: entity expansion is the XML way to make a small body large (R4 xml.html forbids DTDs in resources).
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            // XML 1.0 allows no control characters but tab, carriage return and line feed, as FHIR strings (literal or &#n;).
            CheckCharacters = true,
            IgnoreComments = true,
            IgnoreWhitespace = true,
        };
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var seenRoot = false;
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    continue;
                }

                seenRoot = true;
                if (reader.Depth >= maxDepth)
                {
                    throw TooDeep(maxDepth, null);
                }

                CheckXmlElement(reader);
            }

            if (!seenRoot)
            {
                throw FhirException.BadRequest("The body holds no XML element.");
            }
        }
        catch (XmlException e)
        {
            throw FhirException.BadRequest($"The body is not well-formed XML: {FhirException.Excerpt(e.Message)}");
        }
    }

    private const string FhirNamespace = "http://hl7.org/fhir";
    private const string XhtmlNamespace = "http://www.w3.org/1999/xhtml";

    /// <summary>
    /// R4 xml.html: FHIR elements are in the FHIR namespace and carry only <c>value</c>, <c>url</c> and <c>id</c>
    /// attributes; the narrative is XHTML. The parser fails with internal errors on anything else.
    /// </summary>
    private static void CheckXmlElement(XmlReader reader)
    {
        if (reader.NamespaceURI == XhtmlNamespace)
        {
            return;
        }

        if (reader.NamespaceURI != FhirNamespace)
        {
            throw FhirException.BadRequest($"The element '{reader.LocalName}' is in the namespace '{reader.NamespaceURI}'; FHIR XML elements are in {FhirNamespace} (R4 xml.html).");
        }

        if (!reader.MoveToFirstAttribute())
        {
            return;
        }

        do
        {
            var declaration = reader.Prefix == "xmlns" || reader.Name == "xmlns";
            if (!declaration && (reader.NamespaceURI.Length > 0 || reader.LocalName is not ("value" or "url" or "id")))
            {
                throw FhirException.BadRequest($"The attribute '{reader.Name}' is not FHIR: elements carry only value, url and id (R4 xml.html).");
            }
        }
        while (reader.MoveToNextAttribute());

        reader.MoveToElement();
    }

    /// <summary>Where the JSON reader is, as a FHIRPath-like path (name[0].family), for the expression.</summary>
    private sealed class JsonPath
    {
        private readonly List<(bool Array, int Index, string? Name)> frames = [];

        public void Enter(bool array) => frames.Add((array, -1, null));

        public void Leave()
        {
            if (frames.Count > 0)
            {
                frames.RemoveAt(frames.Count - 1);
            }
        }

        public void Name(string name)
        {
            var top = frames[^1];
            frames[^1] = top with { Name = name };
        }

        /// <summary>A value starts: in an array, the next index.</summary>
        public void Value()
        {
            if (frames.Count > 0 && frames[^1].Array)
            {
                var top = frames[^1];
                frames[^1] = top with { Index = top.Index + 1 };
            }
        }

        public override string ToString()
        {
            var builder = new StringBuilder();
            foreach (var (array, index, name) in frames)
            {
                if (array)
                {
                    builder.Append('[').Append(index.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(']');
                }
                else if (name is not null)
                {
                    if (builder.Length > 0)
                    {
                        builder.Append('.');
                    }

                    builder.Append(FhirException.Excerpt(name, 40));
                }
            }

            return builder.ToString();
        }
    }
}
