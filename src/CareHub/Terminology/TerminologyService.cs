using System.Globalization;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;
using CareHub.Terminology.Snomed;
using Hl7.Fhir.Model;

namespace CareHub.Terminology;

/// <summary>
/// The FHIR R4 terminology operations (terminology-service.html): <c>CodeSystem/$lookup</c>, <c>$subsumes</c> and
/// <c>$validate-code</c>, <c>ValueSet/$expand</c> and <c>$validate-code</c>, and <c>ConceptMap/$translate</c>, over
/// SNOMED CT as loaded into the <see cref="SnomedStore"/> (with its implicit value sets and map refsets, "Using SNOMED CT
/// with FHIR") and over the CodeSystems, ValueSets and ConceptMaps stored in the record. Each operation runs through the
/// one door as a read operation (<see cref="RecordService.ReadOperationAsync{T}"/>): the caller must be allowed to search
/// the operation's resource type, stored terminology is read under the caller's access decision, and the operation is
/// audited as one event. Terminology holds no patient data.
/// </summary>
public sealed partial class TerminologyService(RecordService records, SnomedStore snomed, TerminologyOptions options)
{
    /// <summary>CodeSystem/$lookup (codesystem-operation-lookup.html).</summary>
    public Task<Parameters> LookupAsync(RequestContext context, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$lookup", "CodeSystem", async reader =>
        {
            var (system, code) = CodeOf(input, "system", "code", "coding");
            var wanted = input.Parameter.Where(p => p.Name == "property").Select(p => p.Value?.ToString()).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var output = new Parameters();
            if (system == Snomed.Snomed.System)
            {
                await LookupSnomedAsync(output, SctId(code, "code"), wanted, cancellationToken);
                return output;
            }

            var codeSystem = await CodeSystemAsync(reader, system, cancellationToken);
            var concept = codeSystem.Find(code) ?? throw FhirException.NotFound($"'{code}' is not a code of the code system '{system}'.");
            output.Add("name", new FhirString(codeSystem.Resource.Name ?? codeSystem.Resource.Title ?? system));
            if (codeSystem.Resource.Version is { } version)
            {
                output.Add("version", new FhirString(version));
            }

            if (concept.Display is { } display)
            {
                output.Add("display", new FhirString(display));
            }

            foreach (var designation in concept.Designation)
            {
                AddDesignation(output, designation.Language, designation.Use, designation.Value);
            }

            foreach (var property in concept.Property.Where(p => p.Code is not ("parent" or "child")))
            {
                AddProperty(output, wanted, property.Code ?? string.Empty, property.Value);
            }

            foreach (var parent in codeSystem.ParentsOf(code))
            {
                AddProperty(output, wanted, "parent", new Code(parent));
            }

            foreach (var child in codeSystem.ChildrenOf(code))
            {
                AddProperty(output, wanted, "child", new Code(child));
            }

            return output;
        }, cancellationToken);

    private async System.Threading.Tasks.Task LookupSnomedAsync(Parameters output, long id, HashSet<string> wanted, CancellationToken cancellationToken)
    {
        var concept = await snomed.ConceptAsync(id, cancellationToken) ?? throw FhirException.NotFound($"{id} is not a SNOMED CT concept in the release loaded.");
        output.Add("name", new FhirString("SNOMED CT"));
        if (await snomed.LastLoadAsync(cancellationToken) is { } load)
        {
            output.Add("version", new FhirString(load.Source));
        }

        output.Add("display", new FhirString(concept.Display));
        foreach (var description in await snomed.DescriptionsAsync(id, cancellationToken))
        {
            var use = description.TypeId switch
            {
                Snomed.Snomed.FullySpecifiedName => new Coding(Snomed.Snomed.System, "900000000000003001", "Fully specified name"),
                Snomed.Snomed.Definition => new Coding(Snomed.Snomed.System, "900000000000550004", "Definition"),
                _ => new Coding(Snomed.Snomed.System, "900000000000013009", "Synonym"),
            };
            AddDesignation(output, description.LanguageCode, use, description.Term);
        }

        AddProperty(output, wanted, "inactive", new FhirBoolean(!concept.Active));
        AddProperty(output, wanted, "sufficientlyDefined", new FhirBoolean(concept.DefinitionStatusId != Snomed.Snomed.Primitive));
        AddProperty(output, wanted, "moduleId", new Code(concept.ModuleId.ToString(CultureInfo.InvariantCulture)));
        AddProperty(output, wanted, "effectiveTime", new FhirString(concept.EffectiveTime.ToString(CultureInfo.InvariantCulture)));
        foreach (var relationship in await snomed.RelationshipsAsync(id, cancellationToken))
        {
            // Using SNOMED CT with FHIR: parents as "parent", attributes as properties named by their type's id.
            var name = relationship.TypeId == Snomed.Snomed.IsA ? "parent" : relationship.TypeId.ToString(CultureInfo.InvariantCulture);
            AddProperty(output, wanted, name, new Code(relationship.Other.ToString(CultureInfo.InvariantCulture)));
        }

        foreach (var child in await snomed.ChildrenAsync(id, cancellationToken))
        {
            AddProperty(output, wanted, "child", new Code(child.Other.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private static void AddDesignation(Parameters output, string? language, Coding? use, string? value)
    {
        var parts = new List<Parameters.ParameterComponent>();
        if (language is not null)
        {
            parts.Add(new Parameters.ParameterComponent { Name = "language", Value = new Code(language) });
        }

        if (use is not null)
        {
            parts.Add(new Parameters.ParameterComponent { Name = "use", Value = use });
        }

        parts.Add(new Parameters.ParameterComponent { Name = "value", Value = new FhirString(value) });
        output.Parameter.Add(new Parameters.ParameterComponent { Name = "designation", Part = parts });
    }

    private static void AddProperty(Parameters output, HashSet<string> wanted, string code, DataType? value)
    {
        if (wanted.Count > 0 && !wanted.Contains(code))
        {
            return;
        }

        output.Parameter.Add(new Parameters.ParameterComponent
        {
            Name = "property",
            Part = [new Parameters.ParameterComponent { Name = "code", Value = new Code(code) }, new Parameters.ParameterComponent { Name = "value", Value = value }],
        });
    }

    /// <summary>CodeSystem/$subsumes (codesystem-operation-subsumes.html): equivalent, subsumes, subsumed-by or not-subsumed.</summary>
    public Task<Parameters> SubsumesAsync(RequestContext context, Parameters input, CancellationToken cancellationToken) =>
        records.ReadOperationAsync(context, "$subsumes", "CodeSystem", async reader =>
        {
            var (systemA, a) = CodeOf(input, "system", "codeA", "codingA");
            var (systemB, b) = CodeOf(input, "system", "codeB", "codingB");
            if (systemA != systemB)
            {
                throw FhirException.BadRequest($"codeA and codeB are from different code systems ('{systemA}' and '{systemB}').", "system");
            }

            string outcome;
            if (systemA == Snomed.Snomed.System)
            {
                var (idA, idB) = (SctId(a, "codeA"), SctId(b, "codeB"));
                foreach (var id in new[] { idA, idB })
                {
                    _ = await snomed.ConceptAsync(id, cancellationToken) ?? throw FhirException.BadRequest($"{id} is not a SNOMED CT concept in the release loaded.", "code");
                }

                outcome = idA == idB ? "equivalent"
                    : await snomed.IsBelowAsync(idA, idB, cancellationToken) ? "subsumes"
                    : await snomed.IsBelowAsync(idB, idA, cancellationToken) ? "subsumed-by"
                    : "not-subsumed";
            }
            else
            {
                var codeSystem = await CodeSystemAsync(reader, systemA, cancellationToken);
                foreach (var code in new[] { a, b })
                {
                    _ = codeSystem.Find(code) ?? throw FhirException.BadRequest($"'{code}' is not a code of the code system '{systemA}'.", "code");
                }

                outcome = a == b ? "equivalent" : codeSystem.Below(a).Contains(b) ? "subsumes" : codeSystem.Below(b).Contains(a) ? "subsumed-by" : "not-subsumed";
            }

            var output = new Parameters();
            output.Add("outcome", new Code(outcome));
            return output;
        }, cancellationToken);

    // ---- inputs ----------------------------------------------------------------------------------------------------

    /// <summary>A system and code given as two parameters or as a Coding; a missing one is a 400 naming it.</summary>
    private static (string System, string Code) CodeOf(Parameters input, string systemName, string codeName, string codingName)
    {
        if (input.GetSingle(codingName)?.Value is Coding coding)
        {
            return (coding.System ?? throw FhirException.BadRequest($"{codingName} has no system.", codingName),
                coding.Code ?? throw FhirException.BadRequest($"{codingName} has no code.", codingName));
        }

        var code = Text(input, codeName) ?? throw FhirException.BadRequest($"Give {codeName} (with {systemName}) or {codingName}.", codeName);
        var system = Text(input, systemName) ?? throw FhirException.BadRequest($"Give {systemName} with {codeName}.", systemName);
        return (system, code);
    }

    /// <summary>A primitive parameter's value as text, or null when the parameter is absent.</summary>
    private static string? Text(Parameters input, string name) => input.GetSingle(name)?.Value switch
    {
        null => null,
        PrimitiveType primitive => primitive.ToString(),
        _ => throw FhirException.BadRequest($"{name} must be a primitive value.", name),
    };

    private static long SctId(string code, string name) =>
        code.Length is >= 6 and <= 18 && code[0] != '0' && code.All(char.IsAsciiDigit)
            ? long.Parse(code, NumberStyles.None, CultureInfo.InvariantCulture)
            : throw FhirException.BadRequest($"'{code}' is not a SNOMED CT concept id (6 to 18 digits).", name);

    private static async Task<StoredCodeSystem> CodeSystemAsync(IRecordReader reader, string url, CancellationToken cancellationToken) =>
        new((await FindAsync<CodeSystem>(reader, "CodeSystem", url, cancellationToken))?.Resource
            ?? throw FhirException.NotFound($"The code system '{url}' is not known to this server (no CodeSystem with that url is stored, and it is not SNOMED CT)."));

    /// <summary>A stored terminology resource by canonical url (with |version), or "Type/id", read under the caller's access decision.</summary>
    private static async Task<(T Resource, StoredResource Stored)?> FindAsync<T>(IRecordReader reader, string type, string url, CancellationToken cancellationToken)
        where T : Resource
    {
        StoredResource? stored;
        if (url.StartsWith(type + "/", StringComparison.Ordinal))
        {
            stored = await reader.ReadAsync(type, url[(type.Length + 1)..], cancellationToken);
        }
        else
        {
            var bar = url.IndexOf('|', StringComparison.Ordinal);
            List<QueryClause> clauses = [new UriClause("url", [bar < 0 ? url : url[..bar]], UriMode.Exact)];
            if (bar >= 0)
            {
                clauses.Add(new TokenClause("version", [new TokenMatch(null, url[(bar + 1)..], AnySystem: true)]));
            }

            var found = await reader.SearchAsync(new StoreQuery(type, clauses, 1) { Sort = [new SortBy("_lastUpdated", SortSource.LastUpdated, Descending: true)], Scope = QueryScope.Request }, cancellationToken);
            stored = found.Count > 0 ? found[0] : null;
        }

        if (stored?.Json is not { } json || StoredJson.Parse(json) is not T resource)
        {
            return null;
        }

        reader.Disclose(stored);
        return (resource, stored);
    }
}
