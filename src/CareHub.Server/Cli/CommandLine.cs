using System.Globalization;

namespace CareHub.Server.Cli;

/// <summary>The command line behind ./carehub: serve, demo and import.</summary>
public static class CommandLine
{
    public static readonly string Usage = $"""
        CareHub: an integrated care record and interoperability hub (FHIR R4).

        Usage:
          carehub serve  [--urls URL] [--data DIR | --postgres CONNSTRING] [--dev-tokens]
          carehub demo   [--urls URL] [--data DIR] [--patients N] [--mllp-port N]
          carehub import [--data DIR | --postgres CONNSTRING] PATH...
          carehub import ods [--partial] [--data DIR | --postgres CONNSTRING] FILE...
          carehub import snomed [--data DIR | --postgres CONNSTRING] FOLDER
        {Messaging.MessagesCommand.Usage}
        {ClientsCommand.Usage}
          carehub reindex [--data DIR | --postgres CONNSTRING]
          carehub mpi rematch [--data DIR | --postgres CONNSTRING]
          carehub audit verify [--data DIR | --postgres CONNSTRING]
          carehub purge [--dry-run] [--as-of DATE] [--data DIR | --postgres CONNSTRING]
          carehub help

        serve   runs the server on the embedded store in DIR (default ./.data) or on PostgreSQL. Tokens come from the
                issuers configured under CareHub:Auth:Issuers; --dev-tokens turns on the development token endpoint
                with the demo client instead (never in production).
        demo    runs the server on a fresh embedded store loaded with a generated UK demo community,
                with the development token endpoint on (client demo-system / demo-secret), and an
                inbound HL7 v2 MLLP channel on 127.0.0.1:2575 (--mllp-port to change it).
        import  loads FHIR Bundles (batch, transaction, collection), single resources (.json) and
                NDJSON files (.ndjson), or folders of them, through the record's one door.
        import ods loads NHS Digital's ODS CSV extracts (epraccur.csv: GP practices; etr.csv: NHS trusts) as Organizations:
                changed ones are updated, unchanged ones left alone, and ones a full extract no longer lists closed
                (--partial: close nothing). A malformed file loads nothing. See docs/directories.md.
                import snomed loads an RF2 release's Snapshot files into the SNOMED CT store (docs/terminology.md).
        messages lists, shows and reprocesses the message store's messages (docs/messaging.md).
        clients registers, lists, shows and removes the authorization server's backend clients (docs/sign-in.md).
        reindex rebuilds the search index of every stored resource (after an upgrade that changed what is indexed).
        mpi rematch re-runs master person index matching for every stored Patient, oldest first, one transaction each
                (after loading with CareHub__Mpi__Enabled=false, or changing the thresholds); see docs/mpi.md.
        audit verify walks the tamper-evident audit chain and prints the entries verified, or the first break (exit 1);
                see docs/decisions/audit.md.
        purge   removes the resources whose retention under CareHub:Retention ended by DATE (default: now), with
                their history, index rows and change-feed events, one audited transaction each; --dry-run lists what
                would go and changes nothing. See docs/lifecycle.md.
        Settings can also come from appsettings.json or environment variables (CareHub__Storage__Postgres=...).
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            // Messaging: the messages command parses its own options.
            if (args[0] == "messages")
            {
                return await Messaging.MessagesCommand.RunAsync(args[1..]);
            }

            // Sign-in: the clients command parses its own options.
            if (args[0] == "clients")
            {
                return await ClientsCommand.RunAsync(args[1..]);
            }

            var options = Options.Parse(args[1..]);
            return args[0] switch
            {
                "serve" => await ServeCommand.RunAsync(options, demo: false),
                "demo" => await ServeCommand.RunAsync(options, demo: true),
                "import" => await ImportCommand.RunAsync(options),
                "reindex" => await ReindexCommand.RunAsync(options),
                "mpi" => await MpiCommand.RunAsync(options),
                "audit" => await AuditCommand.RunAsync(options),
                "purge" => await PurgeCommand.RunAsync(options),
                _ => Fail($"Unknown command '{args[0]}'. Run 'carehub help' for the commands."),
            };
        }
        catch (UsageException e)
        {
            return Fail(e.Message);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("CareHub:", StringComparison.Ordinal))
        {
            return Fail($"Configuration problem: {e.Message}");
        }
        catch (CareHub.Storage.SchemaVersionException e)
        {
            return Fail(e.Message);
        }
        catch (CareHub.Messaging.Storage.MessageSchemaVersionException e)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"carehub: {message}");
        return 2;
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>Parsed command-line options: named flags and the remaining paths.</summary>
public sealed record Options(string? Urls, string? Data, string? Postgres, int? Patients, IReadOnlyList<string> Paths, bool DevTokens = false)
{
    /// <summary>Messaging: the demo's MLLP port (--mllp-port).</summary>
    public int? MllpPort { get; init; }

    /// <summary>Lifecycle: purge lists what would go and changes nothing (--dry-run).</summary>
    public bool DryRun { get; init; }

    /// <summary>Lifecycle: the date purge judges retention at (--as-of), instead of now.</summary>
    public DateTimeOffset? AsOf { get; init; }

    /// <summary>Directories: the ODS files are not full extracts, so import ods closes nothing (--partial).</summary>
    public bool Partial { get; init; }

    public static Options Parse(string[] args)
    {
        string? urls = null, data = null, postgres = null;
        int? patients = null, mllpPort = null;
        var devTokens = false;
        var dryRun = false;
        var partial = false;
        DateTimeOffset? asOf = null;
        var paths = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--urls":
                    urls = Value();
                    break;
                case "--data":
                    data = Value();
                    break;
                case "--postgres":
                    postgres = Value();
                    break;
                case "--dev-tokens":
                    devTokens = true;
                    break;
                case "--dry-run":
                    dryRun = true;
                    break;
                case "--partial":
                    partial = true;
                    break;
                case "--as-of":
                    asOf = DateTimeOffset.TryParse(Value(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
                        ? at
                        : throw new UsageException("--as-of needs a date (2031-01-01) or a date and time (2031-01-01T00:00:00Z).");
                    break;
                case "--patients":
                    patients = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new UsageException("--patients needs a positive whole number.");
                    break;
                case "--mllp-port":
                    mllpPort = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536 ? p : throw new UsageException("--mllp-port needs a port number (1-65535).");
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new UsageException($"Unknown option {args[i]}. Run 'carehub help'.");
                    }

                    paths.Add(args[i]);
                    break;
            }
        }

        if (data is not null && postgres is not null)
        {
            throw new UsageException("Give --data or --postgres, not both.");
        }

        return new Options(urls, data, postgres, patients, paths, devTokens) { MllpPort = mllpPort, DryRun = dryRun, AsOf = asOf, Partial = partial };
    }

    public List<KeyValuePair<string, string?>> Settings()
    {
        var settings = new List<KeyValuePair<string, string?>>();
        if (Urls is not null)
        {
            settings.Add(new("urls", Urls));
        }

        if (Data is not null)
        {
            settings.Add(new($"{StorageOptions.SectionName}:DataDirectory", Data));
        }

        if (Postgres is not null)
        {
            settings.Add(new($"{StorageOptions.SectionName}:Postgres", Postgres));
        }

        return settings;
    }
}
