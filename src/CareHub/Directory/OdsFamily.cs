namespace CareHub.Directories;

/// <summary>
/// An ODS extract family: the file NHS Digital publishes (epraccur, etr), its layout's column count, and the tag its
/// organisations carry in the record, so a full extract of the family can close the organisations it no longer lists
/// and leave every other family's alone.
/// </summary>
public sealed record OdsFamily(string Code, string Display, int Columns)
{
    /// <summary>The code system of the tag on each imported Organization (meta.tag) naming the extract it came from.</summary>
    public const string TagSystem = "https://carehub.local/fhir/CodeSystem/ods-extract";

    /// <summary>epraccur: GP practices and the other prescribing cost centres, 27 columns.</summary>
    public static readonly OdsFamily GpPractices = new("epraccur", "GP practices and prescribing cost centres", 27);

    /// <summary>etr: NHS trusts, the ODS organisation layout of 24 (older releases) or 27 columns.</summary>
    public static readonly OdsFamily NhsTrusts = new("etr", "NHS trusts", 27);

    public string Describe() => $"{Code} ({Display})";
}
