namespace CareHub.Terminology.Snomed;

/// <summary>The SNOMED CT identifiers CareHub's terminology relies on (SNOMED CT metadata concepts, and the language refsets it prefers).</summary>
public static class Snomed
{
    /// <summary>The code system URI of SNOMED CT in FHIR ("Using SNOMED CT with FHIR").</summary>
    public const string System = "http://snomed.info/sct";

    /// <summary>116680003 |Is a (attribute)|.</summary>
    public const long IsA = 116680003;

    /// <summary>138875005 |SNOMED CT Concept (SNOMED RT+CTV3)|, the root.</summary>
    public const long Root = 138875005;

    /// <summary>900000000000003001 |Fully specified name|.</summary>
    public const long FullySpecifiedName = 900000000000003001;

    /// <summary>900000000000013009 |Synonym|.</summary>
    public const long Synonym = 900000000000013009;

    /// <summary>900000000000550004 |Definition|.</summary>
    public const long Definition = 900000000000550004;

    /// <summary>900000000000548007 |Preferred|.</summary>
    public const long Preferred = 900000000000548007;

    /// <summary>900000000000549004 |Acceptable|.</summary>
    public const long Acceptable = 900000000000549004;

    /// <summary>999001261000000100 |National Health Service realm language reference set (clinical part)|, the UK's preferred terms.</summary>
    public const long GbLanguage = 999001261000000100;

    /// <summary>900000000000509007 |United States of America English language reference set|, the International edition's.</summary>
    public const long UsLanguage = 900000000000509007;

    /// <summary>900000000000074008 |Primitive|.</summary>
    public const long Primitive = 900000000000074008;

    /// <summary>900000000000207008 |SNOMED CT core module|.</summary>
    public const long CoreModule = 900000000000207008;

    /// <summary>
    /// The expression behind an implicit value set URL ("Using SNOMED CT with FHIR", implicit value sets):
    /// <c>http://snomed.info/sct[/module/version/date]?fhir_vs</c> (all concepts), <c>?fhir_vs=isa/[id]</c>,
    /// <c>?fhir_vs=refset</c> (the refsets), <c>?fhir_vs=refset/[id]</c> and <c>?fhir_vs=ecl/[ECL]</c> (URL-encoded);
    /// null when the URL is not one. A malformed ECL expression throws <see cref="EclSyntaxException"/>.
    /// </summary>
    public static EclNode? ImplicitValueSet(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var query = url.IndexOf("?fhir_vs", StringComparison.Ordinal);
        if (query < 0 || !url.StartsWith(System, StringComparison.Ordinal) || (query > System.Length && url[System.Length] != '/'))
        {
            return null;
        }

        var rest = url[(query + "?fhir_vs".Length)..];
        if (rest.Length == 0)
        {
            return EclAny.Instance;
        }

        if (rest[0] != '=')
        {
            return null;
        }

        var value = rest[1..];
        return value switch
        {
            "refset" => EclRefsets.Instance,
            _ when value.StartsWith("isa/", StringComparison.Ordinal) => Ecl.Parse("<< " + value[4..]),
            _ when value.StartsWith("refset/", StringComparison.Ordinal) => Ecl.Parse("^ " + value[7..]),
            _ when value.StartsWith("ecl/", StringComparison.Ordinal) => Ecl.Parse(Uri.UnescapeDataString(value[4..])),
            _ => null,
        };
    }
}
