using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using CareHub.Fhir;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Search;

/// <summary>
/// _text and _content (R4 search.html#text), kept simple and said plainly. Each resource gets the distinct words of its
/// narrative (text.div with the markup stripped) as "_text" string rows, case- and accent-folded like every string
/// (<see cref="SearchValues.Normalize"/>). _content has no rows of its own (a word list of every string cost three times
/// the rest of the index on the Synthea data): it looks for the words in the narrative's rows and in what the index
/// already holds as text, the values of every string parameter and the displays and texts of every token, of any
/// parameter, by a scan of those rows. A search matches a resource that has a word starting with each word of the value
/// ("_content=heart fail" finds "Heart failure"); commas separate alternatives. There is no ranking, phrase, stemming or
/// boolean syntax, and only the first <see cref="MaxWords"/> distinct words of a narrative are indexed.
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

            var clauses = words.Select(w => name == Text
                ? (QueryClause)new StringClause(Text, [w], StringMode.Prefix)
                : new AnyClause([new StringClause(Text, [w], StringMode.Prefix), new ContentClause(w)])).ToList();
            alternatives.Add(clauses.Count == 1 ? clauses[0] : new AllClause(clauses));
        }

        return alternatives.Count == 1 ? alternatives[0] : new AnyClause(alternatives);
    }

    /// <summary>Adds the _text word rows of a resource.</summary>
    public static void AddRows(List<IndexRow> rows, Resource resource)
    {
        if (resource is not DomainResource { Text.Div: { Length: > 0 } div })
        {
            return;
        }

        var words = new HashSet<string>(StringComparer.Ordinal);
        Collect(StripMarkup(div), words);
        foreach (var word in words)
        {
            rows.Add(new StringIndexRow(Text, word, word));
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
