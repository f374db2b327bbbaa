using System.Globalization;
using CareHub.Fhir;
using CareHub.Search;
using CareHub.Terminology.Snomed;

namespace CareHub.Terminology;

/// <summary>
/// SNOMED CT for the search modifiers: <c>code:below=http://snomed.info/sct|73211009</c> is the concept and its
/// descendants from the closure table, <c>:above</c> its ancestors, and <c>:in</c> takes the implicit value sets
/// (<c>http://snomed.info/sct?fhir_vs=isa/73211009</c>, <c>?fhir_vs=refset/[id]</c>, <c>?fhir_vs=ecl/[ECL]</c>). Only
/// active concepts are listed besides the code asked about, which is always kept (a record may hold an inactive code).
/// </summary>
public sealed class SnomedSearchTerminology(SnomedStore store) : ISearchTerminology
{
    public bool Holds(string system) => system == Snomed.Snomed.System;

    public bool HoldsValueSet(string url) => url.StartsWith(Snomed.Snomed.System, StringComparison.Ordinal) && url.Contains("?fhir_vs", StringComparison.Ordinal);

    public async Task<IReadOnlyList<string>> SubsumptionAsync(string rawName, string system, string code, bool below, int max, CancellationToken cancellationToken)
    {
        if (code.Length is < 6 or > 18 || code[0] == '0' || !code.All(char.IsAsciiDigit))
        {
            throw FhirException.BadRequest($"{rawName}: '{code}' is not a SNOMED CT concept id.", rawName);
        }

        var id = long.Parse(code, NumberStyles.None, CultureInfo.InvariantCulture);
        if (await store.ConceptAsync(id, cancellationToken) is null)
        {
            throw FhirException.BadRequest($"{rawName}: {code} is not a SNOMED CT concept in the release loaded (./carehub import snomed loads one).", rawName);
        }

        var codes = await SelectAsync(rawName, new EclHierarchy(below ? "<" : ">", new EclConcept(id)), max - 1, cancellationToken);
        return [code, .. codes.Select(c => c.Code)];
    }

    public async Task<IReadOnlyList<(string System, string Code)>> ExpandAsync(string rawName, string url, int max, CancellationToken cancellationToken)
    {
        EclNode node;
        try
        {
            node = Snomed.Snomed.ImplicitValueSet(url) ?? throw FhirException.BadRequest($"{rawName}: '{url}' is not an implicit SNOMED CT value set (?fhir_vs, =isa/, =refset/, =ecl/).", rawName);
        }
        catch (EclSyntaxException e)
        {
            throw FhirException.BadRequest($"{rawName}: {e.Message}", rawName);
        }

        return await SelectAsync(rawName, node, max, cancellationToken);
    }

    private async Task<List<(string System, string Code)>> SelectAsync(string rawName, EclNode node, int max, CancellationToken cancellationToken)
    {
        var page = await store.SelectAsync(EclSql.Compile(node), [], 0, max, cancellationToken);
        if (page.Total > max)
        {
            throw FhirException.BadRequest($"{rawName} stands for {page.Total} SNOMED CT concepts, more than the {max} a search may ask for.", rawName);
        }

        return [.. page.Concepts.Select(c => (Snomed.Snomed.System, c.Id.ToString(CultureInfo.InvariantCulture)))];
    }
}
