using System.Globalization;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Terminology.Snomed;
using Hl7.Fhir.Model;

namespace CareHub.Terminology;

/// <summary>
/// ConceptMap/$translate (conceptmap-operation-translate.html) over the ConceptMaps stored in the record and SNOMED CT's
/// map refsets (implicit concept maps, "Using SNOMED CT with FHIR"): a SNOMED CT code translates through every active
/// map refset member whose source it is, and with <c>reverse</c> a code of the target scheme translates back to the
/// SNOMED CT concepts mapped to it.
/// </summary>
public sealed partial class TerminologyService
{
    /// <summary>The most stored ConceptMaps one translation looks through when no url names one.</summary>
    private const int MaxConceptMaps = 100;

    public Task<Parameters> TranslateAsync(RequestContext context, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$translate", "ConceptMap", async reader =>
        {
            var (system, code) = CodeOf(input, "system", "code", "coding");
            var url = Text(input, "url");
            var targetSystem = Text(input, "targetsystem");
            var reverse = Text(input, "reverse") == "true";
            var matches = new List<(string Equivalence, Coding Concept, string Source)>();

            if (url is null || url.StartsWith(Snomed.Snomed.System, StringComparison.Ordinal))
            {
                await SnomedMapsAsync(system, code, reverse, targetSystem, url, matches, cancellationToken);
            }

            if (url is null || !url.StartsWith(Snomed.Snomed.System, StringComparison.Ordinal))
            {
                foreach (var map in await ConceptMapsAsync(reader, url, cancellationToken))
                {
                    Translate(map, system, code, reverse, targetSystem, matches);
                }
            }

            var output = new Parameters();
            output.Add("result", new FhirBoolean(matches.Any(m => m.Equivalence is not ("unmatched" or "disjoint"))));
            if (matches.Count == 0)
            {
                output.Add("message", new FhirString($"No mapping of '{code}' from '{system}' was found."));
            }

            foreach (var (equivalence, concept, source) in matches)
            {
                output.Parameter.Add(new Parameters.ParameterComponent
                {
                    Name = "match",
                    Part =
                    [
                        new Parameters.ParameterComponent { Name = "equivalence", Value = new Code(equivalence) },
                        new Parameters.ParameterComponent { Name = "concept", Value = concept },
                        new Parameters.ParameterComponent { Name = "source", Value = new FhirUri(source) },
                    ],
                });
            }

            return output;
        }, cancellationToken);

    private async System.Threading.Tasks.Task SnomedMapsAsync(string system, string code, bool reverse, string? targetSystem, string? url, List<(string, Coding, string)> matches, CancellationToken cancellationToken)
    {
        var onlyRefset = url is not null && url.IndexOf("?fhir_cm=", StringComparison.Ordinal) is var at and >= 0 ? url[(at + "?fhir_cm=".Length)..] : null;
        if (!reverse && system == Snomed.Snomed.System && IsSctId(code))
        {
            foreach (var map in await snomed.MapsAsync(long.Parse(code, CultureInfo.InvariantCulture), null, cancellationToken))
            {
                var refset = map.RefsetId.ToString(CultureInfo.InvariantCulture);
                var target = MapTarget(refset);
                if ((onlyRefset is null || onlyRefset == refset) && (targetSystem is null || targetSystem == target))
                {
                    matches.Add((Equivalence(map), new Coding(target, map.Target), $"{Snomed.Snomed.System}?fhir_cm={refset}"));
                }
            }
        }
        else if (reverse && system != Snomed.Snomed.System && (targetSystem is null or Snomed.Snomed.System))
        {
            foreach (var map in await snomed.MapsAsync(null, code, cancellationToken))
            {
                var refset = map.RefsetId.ToString(CultureInfo.InvariantCulture);
                if (MapTarget(refset) == system && (onlyRefset is null || onlyRefset == refset))
                {
                    var concept = await snomed.ConceptAsync(map.ConceptId, cancellationToken);
                    matches.Add((Equivalence(map), new Coding(Snomed.Snomed.System, map.ConceptId.ToString(CultureInfo.InvariantCulture), concept?.Display), $"{Snomed.Snomed.System}?fhir_cm={refset}"));
                }
            }
        }
    }

    private string MapTarget(string refset) => options.MapTargets.TryGetValue(refset, out var system) ? system : $"{Snomed.Snomed.System}?fhir_cm={refset}";

    /// <summary>A simple map member is an equivalent; a complex or extended map member is related (its rules and advice decide).</summary>
    private static string Equivalence(SnomedMap map) => map.Group is null ? "equivalent" : "relatedto";

    private static async Task<List<ConceptMap>> ConceptMapsAsync(IRecordReader reader, string? url, CancellationToken cancellationToken)
    {
        if (url is not null)
        {
            return [(await FindAsync<ConceptMap>(reader, "ConceptMap", url, cancellationToken))?.Resource
                ?? throw FhirException.NotFound($"The concept map '{url}' is not known to this server.")];
        }

        var found = await reader.SearchAsync(new StoreQuery("ConceptMap", [], MaxConceptMaps) { Scope = QueryScope.Request }, cancellationToken);
        var maps = new List<ConceptMap>();
        foreach (var stored in found)
        {
            if (stored.Json is { } json && StoredJson.Parse(json) is ConceptMap map)
            {
                reader.Disclose(stored);
                maps.Add(map);
            }
        }

        return maps;
    }

    private static void Translate(ConceptMap map, string system, string code, bool reverse, string? targetSystem, List<(string, Coding, string)> matches)
    {
        foreach (var group in map.Group)
        {
            var (from, to) = reverse ? (group.Target, group.Source) : (group.Source, group.Target);
            if (from != system || (targetSystem is not null && to != targetSystem))
            {
                continue;
            }

            foreach (var element in group.Element)
            {
                foreach (var target in element.Target)
                {
                    var (source, destination, display) = reverse ? (target.Code, element.Code, element.Display) : (element.Code, target.Code, target.Display);
                    if (source == code)
                    {
                        matches.Add((Hl7.Fhir.Utility.EnumUtility.GetLiteral(target.Equivalence) ?? "equivalent", new Coding(to, destination, display), map.Url ?? $"ConceptMap/{map.Id}"));
                    }
                }
            }
        }
    }
}
