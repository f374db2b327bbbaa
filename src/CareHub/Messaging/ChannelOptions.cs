using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace CareHub.Messaging;

/// <summary>One channel: a source, filters, a transformer and its destinations. Bound from <c>CareHub:Channels:N</c>.</summary>
public sealed partial record ChannelOptions
{
    /// <summary>A unique name: letters, digits, '-' and '_' (it appears in URLs and in the message store).</summary>
    public string Name { get; init; } = "";

    /// <summary>False leaves the channel configured but not running.</summary>
    public bool Enabled { get; init; } = true;

    public SourceOptions Source { get; init; } = new();

    public FilterOptions Filters { get; init; } = new();

    /// <summary><c>v2-to-fhir</c> or <c>pass-through</c> (the names of the registered transformers).</summary>
    public string Transformer { get; init; } = "pass-through";

    public DestinationOptions[] Destinations { get; init; } = [];

    /// <summary>The SMART scopes of the channel's principal when it writes to or reads from the record. Default <c>system/*.cruds</c>.</summary>
    public string RecordScopes { get; init; } = "system/*.cruds";

    /// <summary>
    /// The ODS code of the organisation whose system sends on this channel: records the channel writes carry it as their
    /// source organisation (<c>meta.source</c>, for data sharing agreements) unless the message's mapping set one.
    /// </summary>
    public string? Organisation { get; init; }

    /// <summary>
    /// The id of the data sharing agreement (a FHIR <c>Contract</c>) that makes this feed authoritative for demographics.
    /// Only then may its ADT messages update Patient records it does not own, found by NHS Number or MRN whoever wrote
    /// them; the agreement must be in force, and name <see cref="Organisation"/> as a source, when each message is
    /// delivered. Unset (the default): the feed writes and updates only its own source records.
    /// </summary>
    public string? DemographicsAgreement { get; init; }

    /// <summary>
    /// What to do with a message whose type or event the transformer does not map. False (the default): store it, accept
    /// it (AA/CA) and flag it unmapped, since refusing stops the sender's interface. True: refuse it (AR/CR with the
    /// transformer's table 0357 code, 200 or 201), as a channel that must see only what it maps may want.
    /// </summary>
    public bool RefuseUnmapped { get; init; }

    /// <summary>
    /// How long a message counts as the original of a resend: a message with the same sender, control id (MSH-10) and
    /// content received within this time is answered with the stored ACK and not processed again. The same control id
    /// with other content is always new data (processed, and flagged control-id-reused). Default 7 days.
    /// </summary>
    public TimeSpan ResendWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// NHS Numbers this feed sends when it does not know the patient's; treated as absent, never as an identity (neither
    /// the patient's queue nor the record's keys use them). Setting it replaces the default, 9999999999.
    /// </summary>
    public string[] PlaceholderNhsNumbers { get; init; } = [];

    /// <summary>The placeholder NHS Numbers in effect: <see cref="PlaceholderNhsNumbers"/>, or 9999999999.</summary>
    public IReadOnlySet<string> EffectivePlaceholderNhsNumbers =>
        new HashSet<string>(PlaceholderNhsNumbers.Length > 0 ? PlaceholderNhsNumbers : ["9999999999"], StringComparer.Ordinal);

    /// <summary>
    /// The <c>meta.source</c> of the records this channel writes, and the scope of its conditional keys: the ODS
    /// organisation URL of <see cref="Organisation"/> (docs/governance.md, data sharing agreements), else the channel itself.
    /// </summary>
    public string SourceUri => Organisation is { Length: > 0 } ods ? Governance.OrganisationSource.For(ods) : "urn:carehub:channel:" + Name;

    /// <summary>Checks the channel; <paramref name="at"/> is its configuration path, for messages.</summary>
    public void Validate(string at, IReadOnlyCollection<string> transformers)
    {
        if (!ChannelName().IsMatch(Name))
        {
            throw new InvalidOperationException($"{at}:Name '{Name}' must be 1-64 letters, digits, '-' or '_'.");
        }

        Source.Validate($"{at}:Source");
        Filters.Validate($"{at}:Filters");
        MessagingOptions.Positive(ResendWindow, $"{at}:ResendWindow");
        if (DemographicsAgreement is not null && (string.IsNullOrWhiteSpace(Organisation) || !Fhir.FhirIds.IsValidId(DemographicsAgreement)))
        {
            throw new InvalidOperationException(
                $"{at}:DemographicsAgreement '{DemographicsAgreement}' needs a Contract id (letters, digits, '-', '.') and {at}:Organisation, the ODS code the agreement names as its source.");
        }

        if (!transformers.Contains(Transformer))
        {
            throw new InvalidOperationException($"{at}:Transformer '{Transformer}' is not known; use one of: {string.Join(", ", transformers.Order(StringComparer.Ordinal))}.");
        }

        if (Destinations.Length == 0)
        {
            throw new InvalidOperationException($"{at}:Destinations is empty: give at least one (Type record, mllp, http or folder).");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Destinations.Length; i++)
        {
            var d = Destinations[i];
            var where = $"{at}:Destinations:{i.ToString(CultureInfo.InvariantCulture)}";
            d.Validate(where);
            if (!names.Add(d.EffectiveName))
            {
                throw new InvalidOperationException($"{where}:Name '{d.EffectiveName}' is used twice in this channel; give each destination its own Name.");
            }
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    internal static partial Regex ChannelName();
}

/// <summary>The broker's settings, bound from <c>CareHub:Messaging</c>; channels come from <c>CareHub:Channels</c>.</summary>
public sealed record MessagingOptions
{
    public const string SectionName = "CareHub:Messaging";

    public const string ChannelsSectionName = "CareHub:Channels";

    /// <summary>How long messages in a final state are kept; older ones are purged. Default 30 days.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How often the purge runs. Default one hour.</summary>
    public TimeSpan PurgeInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How often idle delivery workers look at their queue when nothing woke them (other nodes may queue). Default 5 seconds.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        Positive(Retention, $"{SectionName}:Retention");
        Positive(PurgeInterval, $"{SectionName}:PurgeInterval");
        Positive(PollInterval, $"{SectionName}:PollInterval");
    }

    internal static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{name} must be a positive time span such as 00:00:05 (it is {value}).");
        }
    }
}

/// <summary>Where a channel's messages come from.</summary>
public sealed partial record SourceOptions
{
    /// <summary><c>mllp</c> (a TCP listener), <c>http</c> (POST /channels/{name}/messages), <c>folder</c> (a watched folder) or <c>changes</c> (the record's change feed).</summary>
    public string Type { get; init; } = "";

    /// <summary>MLLP: the address to listen on. Default 127.0.0.1.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>MLLP: the port; 0 lets the system choose (tests).</summary>
    public int Port { get; init; } = -1;

    /// <summary>MLLP over TLS: a PKCS#12 (.pfx) or PEM certificate file with its private key; plain TCP when unset.</summary>
    public string? Certificate { get; init; }

    /// <summary>The password of <see cref="Certificate"/>, or of its PEM key file, if any.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>PEM only: the private key file when it is not inside <see cref="Certificate"/>.</summary>
    public string? CertificateKey { get; init; }

    /// <summary>MLLP and HTTP: the largest message accepted. Default 16 MiB.</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>MLLP: the longest wait for a message on an open connection before it is closed, so that idle connections cannot hold the listener's slots. Default 60 seconds.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>MLLP: the longest time a started frame may take to finish. Default 30 seconds.</summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>MLLP: connections served at once; a connection beyond it is closed at once. Default 64.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>MLLP: connections one remote address may hold at once; more from it are closed at once. Default 8.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 8;

    /// <summary>
    /// MLLP: of <see cref="MaxConnections"/>, how many only known senders may take (an address in
    /// <see cref="AllowedAddresses"/>, or a connection that presented an allowed client certificate), so that anonymous
    /// connections cannot exhaust them. Default: an eighth of <see cref="MaxConnections"/> (8 of 64).
    /// </summary>
    public int? ReservedConnections { get; init; }

    /// <summary>The reserved slots in effect: <see cref="ReservedConnections"/>, or an eighth of <see cref="MaxConnections"/>.</summary>
    public int EffectiveReservedConnections => ReservedConnections ?? MaxConnections / 8;

    /// <summary>
    /// MLLP: the addresses senders may connect from, as IP addresses or CIDR ranges (<c>10.1.2.3</c>, <c>10.1.0.0/16</c>,
    /// <c>2001:db8::/32</c>). Without client certificates, a connection from any other address is closed at once; with
    /// them, other addresses may still connect but must present an allowed certificate and are anonymous until they do.
    /// </summary>
    public string[] AllowedAddresses { get; init; } = [];

    /// <summary>
    /// MLLP over TLS: SHA-256 (or SHA-1) thumbprints, in hex, of the client certificates allowed to send. Setting this or
    /// <see cref="ClientCertificateAuthority"/> makes the listener require a client certificate (mutual TLS).
    /// </summary>
    public string[] ClientCertificateThumbprints { get; init; } = [];

    /// <summary>MLLP over TLS: a PEM or DER certificate file of the authority that issues the allowed client certificates (mutual TLS).</summary>
    public string? ClientCertificateAuthority { get; init; }

    /// <summary>
    /// The senders the channel takes messages from, as <c>MSH-3^MSH-4</c> namespace ids (<c>PAS^RX1</c>; <c>*^RX1</c> for any
    /// application of a facility). A message from another is refused AR, with an ERR naming the mismatch, and kept in
    /// the message store. Empty: any sender.
    /// </summary>
    public string[] Senders { get; init; } = [];

    /// <summary>
    /// MLLP: declares a channel without sender authentication (no allowed addresses, no client certificates): anyone who
    /// can reach the port may send. Only allowed on a loopback address; a channel without sender authentication must say so.
    /// </summary>
    public bool Unauthenticated { get; init; }

    /// <summary>MLLP: true when TLS clients must present a certificate (thumbprints or an authority are configured).</summary>
    public bool RequiresClientCertificate => ClientCertificateThumbprints.Length > 0 || ClientCertificateAuthority is not null;

    /// <summary>MLLP: true when the listener authenticates senders, by address or by client certificate.</summary>
    public bool AuthenticatesSenders => AllowedAddresses.Length > 0 || RequiresClientCertificate;

    /// <summary>Folder: the folder watched for files; they move to <c>processed/</c> or <c>error/</c> inside it.</summary>
    public string? Path { get; init; }

    /// <summary>Folder: the file name pattern. Default <c>*.hl7</c>.</summary>
    public string Pattern { get; init; } = "*.hl7";

    /// <summary>Folder and change feed: how often to look for new input. Default 2 seconds.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Change feed: the resource types whose changes become messages. Default Patient.</summary>
    public string[] ResourceTypes { get; init; } = ["Patient"];

    /// <summary>Change feed: MSH-3 and MSH-4 of the messages built. Defaults CAREHUB.</summary>
    public string SendingApplication { get; init; } = "CAREHUB";

    public string SendingFacility { get; init; } = "CAREHUB";

    public static readonly IReadOnlyList<string> Types = ["mllp", "http", "folder", "changes"];

    /// <summary>
    /// Loads the MLLP listener's TLS certificate with its private key: PKCS#12 when the file ends in .pfx or .p12,
    /// otherwise PEM (the key in <see cref="CertificateKey"/> or in the same file). Null when TLS is off.
    /// </summary>
    public X509Certificate2? LoadCertificate()
    {
        if (Certificate is not { } path)
        {
            return null;
        }

        if (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, CertificatePassword);
        }

        var key = CertificateKey ?? path;
        return CertificatePassword is { } password
            ? X509Certificate2.CreateFromEncryptedPemFile(path, password, key)
            : X509Certificate2.CreateFromPemFile(path, key);
    }

    /// <summary>
    /// A listener reachable from other machines must know who sends: a non-loopback channel without allowed addresses or
    /// client certificates, or without <see cref="Senders"/>, stops the start. A loopback channel without sender
    /// authentication must say <see cref="Unauthenticated"/>.
    /// </summary>
    private void ValidateSenderAuthentication(string at)
    {
        for (var i = 0; i < AllowedAddresses.Length; i++)
        {
            if (!AddressRange.TryParse(AllowedAddresses[i], out _))
            {
                throw new InvalidOperationException($"{at}:AllowedAddresses:{i.ToString(CultureInfo.InvariantCulture)} '{AllowedAddresses[i]}' is not an IP address or CIDR range such as 10.1.2.3 or 10.1.0.0/16.");
            }
        }

        if (RequiresClientCertificate && Certificate is null)
        {
            throw new InvalidOperationException($"{at}: client certificates (ClientCertificateThumbprints, ClientCertificateAuthority) need TLS: set {at}:Certificate to the listener's own certificate.");
        }

        if (ClientCertificateAuthority is not null)
        {
            try
            {
                using var authority = X509CertificateLoader.LoadCertificateFromFile(ClientCertificateAuthority);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"{at}:ClientCertificateAuthority '{ClientCertificateAuthority}' could not be read as a PEM or DER certificate: {e.Message}", e);
            }
        }

        for (var i = 0; i < ClientCertificateThumbprints.Length; i++)
        {
            if (!Thumbprint().IsMatch(ClientCertificateThumbprints[i]))
            {
                throw new InvalidOperationException($"{at}:ClientCertificateThumbprints:{i.ToString(CultureInfo.InvariantCulture)} is not a SHA-256 (64 hex digits) or SHA-1 (40 hex digits) thumbprint.");
            }
        }

        var loopback = IsLoopback(Host);
        if (AuthenticatesSenders && Unauthenticated)
        {
            throw new InvalidOperationException($"{at}:Unauthenticated is true, but the channel authenticates senders (AllowedAddresses or client certificates): remove one of them.");
        }

        if (!AuthenticatesSenders && !loopback)
        {
            throw new InvalidOperationException(
                $"{at}: an MLLP listener on '{Host}' is reachable from other machines but authenticates no sender. Set {at}:AllowedAddresses " +
                $"(the senders' IP addresses or CIDR ranges) and/or client certificates ({at}:Certificate with ClientCertificateThumbprints or ClientCertificateAuthority), or listen on 127.0.0.1.");
        }

        if (!loopback && Senders.Length == 0)
        {
            throw new InvalidOperationException(
                $"{at}:Senders is empty: an MLLP listener reachable from other machines must name the senders it takes, as MSH-3^MSH-4 (e.g. PAS^RX1, or *^RX1 for any application of a facility).");
        }

        if (!AuthenticatesSenders && !Unauthenticated)
        {
            throw new InvalidOperationException(
                $"{at}: the MLLP listener authenticates no sender. Set {at}:AllowedAddresses or client certificates, or, for a loopback-only channel that anyone on this machine may send to, say so with {at}:Unauthenticated = true.");
        }
    }

    /// <summary>True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>Loads the certificate once at start, so that a wrong file or password stops the start, not each TLS handshake.</summary>
    private void CheckCertificate(string at)
    {
        if (!File.Exists(Certificate))
        {
            throw new InvalidOperationException($"{at}:Certificate '{Certificate}' does not exist.");
        }

        if (CertificateKey is not null && !File.Exists(CertificateKey))
        {
            throw new InvalidOperationException($"{at}:CertificateKey '{CertificateKey}' does not exist.");
        }

        try
        {
            using var certificate = LoadCertificate()!;
            if (!certificate.HasPrivateKey)
            {
                throw new InvalidOperationException($"{at}:Certificate '{Certificate}' has no private key; a TLS listener needs one (in the file, or in {at}:CertificateKey for PEM).");
            }
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"{at}:Certificate '{Certificate}' could not be read as a PKCS#12 (.pfx, .p12) or PEM certificate with its private key " +
                $"(check the file, {at}:CertificateKey and {at}:CertificatePassword): {e.Message}", e);
        }
    }

    public void Validate(string at)
    {
        if (!Types.Contains(Type))
        {
            throw new InvalidOperationException($"{at}:Type '{Type}' is not a source type; use one of: {string.Join(", ", Types)}.");
        }

        if (Type == "mllp")
        {
            if (Port is < 0 or > 65535)
            {
                throw new InvalidOperationException($"{at}:Port must be 0-65535 for an MLLP listener (it is {Port.ToString(CultureInfo.InvariantCulture)}).");
            }

            if (string.IsNullOrWhiteSpace(Host))
            {
                throw new InvalidOperationException($"{at}:Host is empty: give the address to listen on, e.g. 127.0.0.1 or 0.0.0.0.");
            }

            if (Certificate is not null)
            {
                CheckCertificate(at);
            }

            MessagingOptions.Positive(IdleTimeout, $"{at}:IdleTimeout");
            MessagingOptions.Positive(FrameTimeout, $"{at}:FrameTimeout");
            if (MaxConnections < 1)
            {
                throw new InvalidOperationException($"{at}:MaxConnections must be at least 1.");
            }

            if (MaxConnectionsPerAddress < 1)
            {
                throw new InvalidOperationException($"{at}:MaxConnectionsPerAddress must be at least 1.");
            }

            if (EffectiveReservedConnections < 0 || EffectiveReservedConnections >= MaxConnections)
            {
                throw new InvalidOperationException($"{at}:ReservedConnections must be 0 or more and less than MaxConnections ({MaxConnections.ToString(CultureInfo.InvariantCulture)}).");
            }

            ValidateSenderAuthentication(at);
        }

        for (var i = 0; i < Senders.Length; i++)
        {
            if (!SenderPattern().IsMatch(Senders[i]))
            {
                throw new InvalidOperationException($"{at}:Senders:{i.ToString(CultureInfo.InvariantCulture)} '{Senders[i]}' is not a sender such as PAS^RX1 (MSH-3^MSH-4) or *^RX1.");
            }
        }

        if (MaxMessageBytes < 64)
        {
            throw new InvalidOperationException($"{at}:MaxMessageBytes must be at least 64 bytes.");
        }

        if (Type == "folder" && string.IsNullOrWhiteSpace(Path))
        {
            throw new InvalidOperationException($"{at}:Path is empty: give the folder to watch.");
        }

        if (Type is "folder" or "changes")
        {
            MessagingOptions.Positive(PollInterval, $"{at}:PollInterval");
        }

        if (Type == "changes" && ResourceTypes.Length == 0)
        {
            throw new InvalidOperationException($"{at}:ResourceTypes is empty: give the resource types whose changes to send, e.g. Patient.");
        }
    }

    [GeneratedRegex(@"^([^\^\s]+)\^([^\^\s]+)$", RegexOptions.CultureInvariant)]
    internal static partial Regex SenderPattern();

    [GeneratedRegex("^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$", RegexOptions.CultureInvariant)]
    private static partial Regex Thumbprint();
}

/// <summary>
/// Which messages a channel takes; the others are stored as filtered and acknowledged. Every list that is given must
/// match (an empty list matches everything); within a list any entry may match.
/// </summary>
public sealed record FilterOptions
{
    /// <summary>Message types, with or without trigger: <c>ADT</c>, <c>ADT^A01</c>, <c>ADT^*</c>, <c>ORU^R01</c>.</summary>
    public string[] MessageTypes { get; init; } = [];

    /// <summary>MSH-4 sending facilities (namespace id), compared exactly.</summary>
    public string[] SendingFacilities { get; init; } = [];

    /// <summary>Path predicates, all of which must hold: <c>PV1-2=I</c>, <c>PID-3.4!=X</c>, <c>EVN-1</c> (present).</summary>
    public string[] Conditions { get; init; } = [];

    public void Validate(string at)
    {
        for (var i = 0; i < Conditions.Length; i++)
        {
            if (!MessageFilter.TryParseCondition(Conditions[i], out _))
            {
                throw new InvalidOperationException($"{at}:Conditions:{i.ToString(CultureInfo.InvariantCulture)} '{Conditions[i]}' is not a condition such as PV1-2=I, PID-8!=U or EVN-1.");
            }
        }

        for (var i = 0; i < MessageTypes.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(MessageTypes[i]))
            {
                throw new InvalidOperationException($"{at}:MessageTypes:{i.ToString(CultureInfo.InvariantCulture)} is empty.");
            }
        }
    }
}

/// <summary>Where a channel sends what it transformed, with its own queue and retry policy.</summary>
public sealed record DestinationOptions
{
    /// <summary>Unique within the channel; defaults to the type.</summary>
    public string? Name { get; init; }

    /// <summary><c>record</c> (the one door), <c>mllp</c>, <c>http</c> or <c>folder</c>.</summary>
    public string Type { get; init; } = "";

    /// <summary>MLLP: host and port to send to.</summary>
    public string? Host { get; init; }

    public int Port { get; init; }

    /// <summary>HTTP: the URL to POST to.</summary>
    public string? Url { get; init; }

    /// <summary>HTTP: an Authorization header value to send, e.g. <c>Bearer ...</c>.</summary>
    public string? Authorization { get; init; }

    /// <summary>Folder: where to write one file per message.</summary>
    public string? Path { get; init; }

    /// <summary>Attempts before a message goes to dead-letter. Default 10.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>The wait after the first failure; it doubles after each further one. Default 1 second.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts. Default 5 minutes.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one attempt may take (connect, send, answer). Default 30 seconds.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public string EffectiveName => string.IsNullOrEmpty(Name) ? Type : Name;

    public static readonly IReadOnlyList<string> Types = ["record", "mllp", "http", "folder"];

    /// <summary>The wait before attempt <paramref name="failedAttempts"/> + 1: exponential, capped.</summary>
    public TimeSpan Backoff(int failedAttempts)
    {
        var factor = Math.Pow(2, Math.Clamp(failedAttempts - 1, 0, 30));
        var delay = RetryDelay.TotalMilliseconds * factor;
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxRetryDelay.TotalMilliseconds));
    }

    public void Validate(string at)
    {
        if (!Types.Contains(Type))
        {
            throw new InvalidOperationException($"{at}:Type '{Type}' is not a destination type; use one of: {string.Join(", ", Types)}.");
        }

        if (!ChannelOptions.ChannelName().IsMatch(EffectiveName))
        {
            throw new InvalidOperationException($"{at}:Name '{EffectiveName}' must be 1-64 letters, digits, '-' or '_'.");
        }

        switch (Type)
        {
            case "mllp" when string.IsNullOrWhiteSpace(Host) || Port is < 1 or > 65535:
                throw new InvalidOperationException($"{at}: an mllp destination needs Host and Port (1-65535).");
            case "http" when !Uri.TryCreate(Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"):
                throw new InvalidOperationException($"{at}:Url '{Url}' is not an absolute http or https URL.");
            case "folder" when string.IsNullOrWhiteSpace(Path):
                throw new InvalidOperationException($"{at}:Path is empty: give the folder to write messages to.");
        }

        if (MaxAttempts < 1)
        {
            throw new InvalidOperationException($"{at}:MaxAttempts must be at least 1.");
        }

        MessagingOptions.Positive(RetryDelay, $"{at}:RetryDelay");
        MessagingOptions.Positive(MaxRetryDelay, $"{at}:MaxRetryDelay");
        MessagingOptions.Positive(Timeout, $"{at}:Timeout");
    }
}
