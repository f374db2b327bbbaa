using CareHub.Hl7v2;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// CWE / CE / CNE to CodeableConcept (datatype-cwe-to-codeableconcept): the primary triplet (CWE.1-3) and the alternate
/// (CWE.4-6) become codings, CWE.9 (original text) or else CWE.2 the text. Coding system names (HL7 table 0396) become
/// FHIR system URIs; names we do not know get a stable URI under <see cref="V2MappingOptions.LocalCodeSystemBase"/>.
/// </summary>
internal static class V2Codes
{
    public const string V2TablePrefix = "http://terminology.hl7.org/CodeSystem/v2-";

    private static readonly Dictionary<string, string> KnownSystems = new(StringComparer.OrdinalIgnoreCase)
    {
        ["LN"] = "http://loinc.org",
        ["LOINC"] = "http://loinc.org",
        ["SCT"] = "http://snomed.info/sct",
        ["SNM"] = "http://snomed.info/sct",
        ["SNOMED"] = "http://snomed.info/sct",
        ["SNOMEDCT"] = "http://snomed.info/sct",
        ["I10"] = "http://hl7.org/fhir/sid/icd-10",
        ["ICD10"] = "http://hl7.org/fhir/sid/icd-10",
        ["I10C"] = "http://hl7.org/fhir/sid/icd-10-cm",
        ["I9"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["I9C"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["I9CDX"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["UCUM"] = "http://unitsofmeasure.org",
        ["RXNORM"] = "http://www.nlm.nih.gov/research/umls/rxnorm",
        ["CVX"] = "http://hl7.org/fhir/sid/cvx",
        ["NDC"] = "http://hl7.org/fhir/sid/ndc",
        ["C4"] = "http://www.ama-assn.org/go/cpt",
        ["CPT4"] = "http://www.ama-assn.org/go/cpt",
        ["DCM"] = "http://dicom.nema.org/resources/ontology/DCM",
        ["ISO3166_1"] = "urn:iso:std:iso:3166",
        ["ISO+"] = "urn:iso:std:iso:2955",
        ["READ"] = "http://read.info/readv2",
        ["R2"] = "http://read.info/readv2",
        ["CTV3"] = "http://read.info/ctv3",
        ["DMD"] = "https://dmd.nhs.uk",
        ["OPCS4"] = "http://www.datadictionary.nhs.uk/data_dictionary/attributes/o/opcs/opcs_classification_of_interventions_and_procedures_code_de.asp",
    };

    /// <summary>A CWE (one repetition, or the first repetition of a field) as a CodeableConcept; null when it holds nothing.</summary>
    public static CodeableConcept? Concept(Hl7Element cwe, V2MappingOptions options, string? defaultTable = null, string? sender = null)
    {
        var coded = cwe.Level == Hl7ElementLevel.Component ? Hl7CodedElement.FromSubcomponents(cwe) : Hl7CodedElement.From(cwe);
        return Concept(coded, options, defaultTable, sender);
    }

    /// <summary>Every repetition of a CWE field as CodeableConcepts.</summary>
    public static List<CodeableConcept> Concepts(Hl7Element field, V2MappingOptions options, string? defaultTable = null, string? sender = null)
    {
        var list = new List<CodeableConcept>();
        foreach (var repetition in field.Repetitions)
        {
            if (Concept(repetition, options, defaultTable, sender) is { } concept)
            {
                list.Add(concept);
            }
        }

        return list;
    }

    public static CodeableConcept? Concept(Hl7CodedElement coded, V2MappingOptions options, string? defaultTable = null, string? sender = null)
    {
        var concept = new CodeableConcept();
        if (Coding(coded.Identifier, coded.Text, coded.CodingSystem, coded.CodingSystemVersion, options, defaultTable, sender) is { } primary)
        {
            concept.Coding.Add(primary);
        }

        if (Coding(coded.AlternateIdentifier, coded.AlternateText, coded.AlternateCodingSystem, coded.AlternateCodingSystemVersion, options, null, sender) is { } alternate)
        {
            concept.Coding.Add(alternate);
        }

        var text = V2Types.Code(coded.OriginalText) is null ? Trimmed(coded.Text) : coded.OriginalText.Trim();
        if (concept.Coding.Count == 0 && text is null)
        {
            return null;
        }

        concept.Text = text;
        return concept;
    }

    /// <summary>One coding; the system is <paramref name="defaultTable"/>'s (an HL7 table number such as "0078") when CWE.3 is empty.</summary>
    public static Coding? Coding(string identifier, string text, string codingSystem, string version, V2MappingOptions options, string? defaultTable, string? sender = null)
    {
        var code = V2Types.Code(identifier);
        if (code is null)
        {
            return null;
        }

        var name = V2Types.Code(codingSystem);
        var system = name is null
            ? (defaultTable is null ? null : V2TablePrefix + defaultTable)
            : SystemFor(name, options, sender);
        return new Coding
        {
            System = system,
            Code = code,
            Display = Trimmed(text),
            Version = V2Types.Code(version),
        };
    }

    /// <summary>
    /// The FHIR system of a coding system name: the known terminologies, HL7 tables (HL7nnnn) as
    /// terminology.hl7.org v2 code systems, local codes (table 0396 "L" and "99zzz") scoped to the sender that owns
    /// them, otherwise a stable local URI from the name.
    /// </summary>
    public static string SystemFor(string name, V2MappingOptions options, string? sender = null)
    {
        if (KnownSystems.TryGetValue(name, out var known))
        {
            return known;
        }

        if (name.Length == 7 && name.StartsWith("HL7", StringComparison.OrdinalIgnoreCase) && !name.AsSpan(3).ContainsAnyExcept("0123456789"))
        {
            return V2TablePrefix + name[3..];
        }

        if (sender is not null && (name.Equals("L", StringComparison.OrdinalIgnoreCase) || name.StartsWith("99", StringComparison.Ordinal)))
        {
            return new Uri(options.LocalCodeSystemBase, V2Identifiers.Slug(sender) + "/" + V2Identifiers.Slug(name)).AbsoluteUri;
        }

        return new Uri(options.LocalCodeSystemBase, V2Identifiers.Slug(name)).AbsoluteUri;
    }

    private static string? Trimmed(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
