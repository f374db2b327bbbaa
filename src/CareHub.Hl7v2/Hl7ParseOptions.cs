using System.Text;

namespace CareHub.Hl7v2;

/// <summary>How strictly to read a message.</summary>
public sealed record Hl7ParseOptions
{
    /// <summary>The defaults: any version, header fields MSH-9 and MSH-12 required.</summary>
    public static Hl7ParseOptions Default { get; } = new();

    /// <summary>
    /// Encoding for bytes whose MSH-18 is empty. Null (the default) reads UTF-8 when the bytes are valid
    /// UTF-8 and ISO 8859/1 otherwise.
    /// </summary>
    public Encoding? DefaultEncoding { get; init; }

    /// <summary>Reject versions other than 2.1 to 2.8.2 with error 203 (unsupported version id).</summary>
    public bool RequireKnownVersion { get; init; }

    /// <summary>Require MSH-9 (message type) and MSH-12 (version id), error 101 when missing. On by default.</summary>
    public bool RequireHeaderFields { get; init; } = true;
}
