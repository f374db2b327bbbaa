using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CareHub.Hl7v2;
using CareHub.Identity;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Mapping;

/// <summary>
/// Identifier systems for v2 identifiers (CX, EI, HD, XCN.1/XCN.9). The rule, in order:
/// <list type="number">
/// <item>NHS Numbers (assigning authority in <see cref="V2MappingOptions.NhsNumberAuthorities"/> or identifier type in
/// <see cref="V2MappingOptions.NhsNumberTypeCodes"/>) with a valid check digit: <c>https://fhir.nhs.uk/Id/nhs-number</c>;
/// a placeholder (<see cref="V2MappingOptions.PlaceholderNhsNumbers"/>) is no identifier at all.</item>
/// <item>An authority whose universal id (HD.2) is an OID: <c>urn:oid:&lt;oid&gt;</c> (IG datatype-hd-to-...: ISO OIDs
/// are systems of their own); a UUID: <c>urn:uuid:&lt;uuid&gt;</c>; a URI: the URI itself.</item>
/// <item>Known national authorities: ODS for organisation codes, GMC / GMP numbers for clinicians.</item>
/// <item>Any other named authority (HD.1): <c>{LocalIdentifierBase}/&lt;slug of the name&gt;</c>, e.g.
/// <c>https://fhir.carehub.local/Id/good-health-hospital</c>.</item>
/// <item>No authority: the identifier is only unique at the sender, so the system is scoped to the sender and the kind of
/// identifier: <c>{LocalIdentifierBase}/&lt;sending facility or application&gt;/&lt;kind&gt;</c>.</item>
/// </list>
/// The same input always gives the same system, so a repeated message finds what the first one wrote.
/// </summary>
internal static partial class V2Identifiers
{
    public const string OdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string GmcSystem = "https://fhir.hl7.org.uk/Id/gmc-number";
    public const string GmpSystem = "https://fhir.hl7.org.uk/Id/gmp-number";
    public const string V2IdentifierTypes = "http://terminology.hl7.org/CodeSystem/v2-0203";

    /// <summary>An OID: arcs of digits without leading zeros, starting 0, 1 or 2 (ITU-T X.660).</summary>
    [GeneratedRegex(@"^[0-2](\.(0|[1-9][0-9]*))+$", RegexOptions.CultureInvariant)]
    private static partial Regex OidPattern();

    /// <summary>The shape of ODS codes: trusts (RX1), sites (RX1CC), practices (A81001), commissioners (00L).</summary>
    [GeneratedRegex("^[A-Z0-9]{3,6}$", RegexOptions.CultureInvariant)]
    private static partial Regex OdsPattern();

    public static bool IsOid(string? text) => text is not null && OidPattern().IsMatch(text);

    public static bool LooksLikeOds(string? text) => text is not null && OdsPattern().IsMatch(text);

    /// <summary>Lower case letters, digits, '.' and '-' only, for use in a URI path.</summary>
    public static string Slug(string text)
    {
        var sb = new StringBuilder(text.Length);
        var dash = false;
        foreach (var c in text.Trim().ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c) || c == '.')
            {
                sb.Append(c);
                dash = false;
            }
            else if (!dash && sb.Length > 0)
            {
                sb.Append('-');
                dash = true;
            }
        }

        var slug = sb.ToString().TrimEnd('-');
        return slug.Length == 0 ? "unnamed" : slug;
    }

    /// <summary>The system of an assigning authority (HD), or null when the HD is empty.</summary>
    public static string? AuthoritySystem(Hl7HierarchicDesignator? authority, V2MappingOptions options)
    {
        if (authority is null)
        {
            return null;
        }

        var universal = V2Types.Code(authority.UniversalId);
        var type = authority.UniversalIdType.Trim().ToUpperInvariant();
        if (universal is not null)
        {
            if (IsOid(universal))
            {
                return "urn:oid:" + universal;
            }

            if (type is "UUID" or "GUID" && Guid.TryParse(universal, out var uuid))
            {
                return "urn:uuid:" + uuid.ToString("D");
            }

            if (type is "URI" or "URL" && Uri.TryCreate(universal, UriKind.Absolute, out var uri))
            {
                return uri.AbsoluteUri;
            }
        }

        var name = V2Types.Code(authority.NamespaceId) ?? universal;
        if (name is null)
        {
            return null;
        }

        return name.ToUpperInvariant() switch
        {
            "ODS" => OdsSystem,
            "GMC" => GmcSystem,
            "GMP" => GmpSystem,
            _ => new Uri(options.LocalIdentifierBase, Slug(name)).AbsoluteUri,
        };
    }

    /// <summary>A CareHub-wide local system, e.g. <c>{LocalIdentifierBase}/organization</c> for facility names that are not ODS codes or OIDs.</summary>
    public static string LocalSystem(string kind, V2MappingOptions options) => new Uri(options.LocalIdentifierBase, Slug(kind)).AbsoluteUri;

    /// <summary>The system for identifiers the sender gave without an authority: scoped to the sender and the kind of identifier.</summary>
    public static string SenderSystem(string sender, string kind, V2MappingOptions options) =>
        new Uri(options.LocalIdentifierBase, Slug(sender) + "/" + Slug(kind)).AbsoluteUri;

    /// <summary>
    /// A CX repetition as an Identifier (datatype-cx-to-identifier): value CX.1, system by the rule above, type CX.5
    /// (table 0203). Null when CX.1 is empty or is a placeholder NHS Number.
    /// </summary>
    public static Identifier? FromCx(Hl7Identifier cx, string sender, string kind, V2MappingOptions options, out bool isNhsNumber)
    {
        isNhsNumber = false;
        var value = V2Types.Code(cx.Id);
        if (value is null)
        {
            return null;
        }

        var typeCode = V2Types.Code(cx.IdentifierTypeCode);
        var authorityName = V2Types.Code(cx.AssigningAuthority?.NamespaceId);
        if ((typeCode is not null && options.NhsNumberTypeCodes.Contains(typeCode))
            || (authorityName is not null && options.NhsNumberAuthorities.Contains(authorityName)))
        {
            if (options.PlaceholderNhsNumbers.Contains(value.Replace(" ", "", StringComparison.Ordinal)))
            {
                // A placeholder stands for "not known": as an identity it would join every patient sent with it.
                return null;
            }

            // Only a number that passes the Modulus 11 check goes under the NHS system; anything else there would be
            // matched against real NHS Numbers (NHS Data Dictionary, NHS Number).
            if (NhsNumber.TryParse(value, out var nhs))
            {
                isNhsNumber = true;
                return nhs.ToFhirIdentifier(verificationStatus: null);
            }
        }

        var identifier = new Identifier
        {
            System = AuthoritySystem(cx.AssigningAuthority, options) ?? SenderSystem(sender, typeCode ?? kind, options),
            Value = value,
        };
        if (typeCode is not null)
        {
            identifier.Type = new CodeableConcept(V2IdentifierTypes, typeCode);
        }

        return identifier;
    }

    /// <summary>
    /// An EI (entity identifier: EI.1 id, EI.2 namespace, EI.3 universal id, EI.4 type), read from the components of a
    /// field or repetition, as an Identifier. Null when EI.1 is empty.
    /// </summary>
    public static Identifier? FromEi(Hl7Element ei, string sender, string kind, V2MappingOptions options)
    {
        var value = V2Types.Code(V2Types.Text(ei.Component(1)));
        if (value is null)
        {
            return null;
        }

        var authority = new Hl7HierarchicDesignator(ei.Component(2).Value, ei.Component(3).Value, ei.Component(4).Value);
        return new Identifier(AuthoritySystem(authority, options) ?? SenderSystem(sender, kind, options), value);
    }

    /// <summary>An opaque, stable identifier value from a natural key (SHA-256, hex): keeps patient identifiers out of the value.</summary>
    public static string Derived(params string?[] parts)
    {
        var joined = string.Join('\u001f', parts.Select(p => p ?? string.Empty));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)))[..32];
    }
}
