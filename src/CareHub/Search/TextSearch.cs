using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using CareHub.Fhir;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Search;

/// <summary>
/// _text and _content (R4 search.html#text), kept simple and said plainly: each resource gets the distinct words of its
/// narrative (text.div with the markup stripped) as "_text" string rows, and the distinct words of all its string values
/// (every string and markdown element, and the narrative) as "_content" rows, case- and accent-folded like every string
/// (<see cref="SearchValues.Normalize"/>). A search matches a resource that has a word starting with each word of the
/// value ("_content=heart fail" finds "Heart failure"); commas separate alternatives. There is no ranking, phrase,
/// stemming or boolean syntax, and only the first <see cref="MaxWords"/> distinct words of a resource are indexed.
/// </summary>
public static partial class TextSearch
{
    public const string Text = "_text";
    public const string Content = "_content";

    /// <summary>The most distinct words indexed per resource and parameter: rows cost on every write.</summary>
    public const int MaxWords = 300;

    private const int MaxWordLength = 64;

    public static bool IsTextParameter(string name) => name is Text or Content;

    public static QueryClause Parse(string rawName, string name, string? modifier, bool chained, string value)
    {
        if (modifier is not null || chained)
        {
            throw FhirException.BadRequest($"{name} takes no modifier or chain.", rawName);
        }

        var alternatives = new List<QueryClause>();
        foreach (var item in SearchCriteria.SplitEscaped(value, ','))
        {
            var words = Words(SearchCriteria.Unescape(item)).ToList();
            if (words.Count == 0)
            {
                throw FhirException.BadRequest($"{name} needs at least one word (letters or digits), not '{item}'.", rawName);
            }

            alternatives.Add(words.Count == 1
                ? new StringClause(name, words, StringMode.Prefix)
                : new AllClause([.. words.Select(w => (QueryClause)new StringClause(name, [w], StringMode.Prefix))]));
        }

        return alternatives.Count == 1 ? alternatives[0] : new AnyClause(alternatives);
    }

    /// <summary>Adds the _text and _content word rows of a resource.</summary>
    public static void AddRows(List<IndexRow> rows, Resource resource)
    {
        var narrative = resource is DomainResource { Text.Div: { Length: > 0 } div } ? StripMarkup(div) : null;
        var text = new HashSet<string>(StringComparer.Ordinal);
        if (narrative is not null)
        {
            Collect(narrative, text);
            foreach (var word in text)
            {
                rows.Add(new StringIndexRow(Text, word, word));
            }
        }

        var content = new HashSet<string>(text, StringComparer.Ordinal);
        CollectStrings(resource, content, 0);
        foreach (var word in content)
        {
            rows.Add(new StringIndexRow(Content, word, word));
        }
    }

    private static void CollectStrings(Base node, HashSet<string> words, int depth)
    {
        if (words.Count >= MaxWords || depth > 32)
        {
            return;
        }

        foreach (var (name, value) in node.EnumerateElements())
        {
            if (name is "text" && node is DomainResource)
            {
                // The narrative is collected once, stripped of its markup.
                continue;
            }

            switch (value)
            {
                case FhirString { Value: { } s }:
                    Collect(s, words);
                    break;
                case Markdown { Value: { } m }:
                    Collect(m, words);
                    break;
                case Resource:
                    // Contained resources are resources of their own.
                    break;
                case Base child:
                    CollectStrings(child, words, depth + 1);
                    break;
                case System.Collections.IEnumerable many and not string:
                    foreach (var item in many)
                    {
                        switch (item)
                        {
                            case FhirString { Value: { } s }:
                                Collect(s, words);
                                break;
                            case Markdown { Value: { } m }:
                                Collect(m, words);
                                break;
                            case Resource:
                                break;
                            case Base child:
                                CollectStrings(child, words, depth + 1);
                                break;
                        }
                    }

                    break;
            }
        }
    }

    private static void Collect(string value, HashSet<string> words)
    {
        foreach (var word in Words(value))
        {
            if (words.Count >= MaxWords)
            {
                return;
            }

            words.Add(word);
        }
    }

    /// <summary>The folded words of a text: runs of letters and digits.</summary>
    public static IEnumerable<string> Words(string value)
    {
        var folded = SearchValues.Normalize(value);
        var word = new StringBuilder();
        foreach (var c in folded.Append(' '))
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(c);
                continue;
            }

            if (word.Length > 0)
            {
                yield return word.Length > MaxWordLength ? word.ToString(0, MaxWordLength) : word.ToString();
                word.Clear();
            }
        }
    }

    /// <summary>The text of an XHTML narrative: tags removed, entities decoded.</summary>
    public static string StripMarkup(string xhtml) => WebUtility.HtmlDecode(Tag().Replace(xhtml, " "));

    [GeneratedRegex("<[^>]*>", RegexOptions.CultureInvariant)]
    private static partial Regex Tag();
}
