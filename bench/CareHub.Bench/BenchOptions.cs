using System.Globalization;

namespace CareHub.Bench;

/// <summary>What to run and how hard; parsed from the command line, with the defaults the reported targets assume.</summary>
public sealed record BenchOptions
{
    public const string Usage = """
        CareHub benchmarks of the FHIR record core (run them in Release: ./carehub bench NAME).

        Usage:
          carehub bench create|read|ingest|all|stages|mllp|search|tokens|ods [options]

        create   single-resource POST /fhir/{type} (Patient, Observation and Encounter bodies of the demo community)
        read     GET /fhir/Patient/{id} over a pre-loaded set of Patients
        ingest   Synthea transaction Bundles POSTed to /fhir, with fresh urn:uuid fullUrls each repetition
        all      the three, one after the other
        stages   where the time of a create goes: its stages timed in-process (no HTTP), a diagnostic
        mllp     HL7 v2 ADT over MLLP, 8 connections: the commit-ACK rate (pass-through to a folder) and the rate
                 into the record through the v2-to-fhir mapper, end to end
        tokens   the authorization server's token endpoint: client credentials with a fresh RS384-signed assertion
                 (private_key_jwt) per token, --clients concurrent clients (docs/sign-in.md)
        search   the FHIR search targets: N resources replayed from the Synthea Bundles with fresh ids, in process
                 through the one door, then p50/p95 of five searches and the index size against the JSON size, on
                 SQLite and (with --postgres) PostgreSQL
        ods      carehub import ods of the shared epraccur extract (all GP practices) into a fresh store, in process
                 through the one door, then the same file again; SQLite and (with --postgres) PostgreSQL

        Each runs against CareHub (CareHub.Server serve, embedded SQLite) and then against the ceiling: a bare
        ASP.NET Core endpoint storing the same bodies in the same kind of SQLite database, with no FHIR processing.

        Options:
          --clients N          concurrent clients for create and read (default 16)
          --ingest-clients N   concurrent clients for ingest (default 4)
          --seconds N          measured seconds per run (default 20; 4 with --quick)
          --warmup N           warm-up seconds before measuring (default 5; 1 with --quick)
          --resources N        Patients pre-loaded for read (default 10000; 2000 with --quick); for search, the
                               resources to load (default 1000000; 20000 with --quick)
          --postgres CONN      search, ods: also run on PostgreSQL, in a throwaway schema of this Npgsql connection string
                               (scripts/pg-test-cluster.sh start DIR prints one)
          --mix demo|patient   create bodies: the demo community's mix (default) or Patients only
          --only carehub|ceiling   run one side only (no ratio); for search and ods, --only sqlite|postgres
          --server-dll PATH    the built CareHub.Server.dll (default: src/CareHub.Server/bin/Release/net10.0)
          --server-env K=V     an extra environment variable for the CareHub server (repeatable)
          --quick              short runs, for a smoke test
        Exit code 0 unless a request failed or a server could not start; a missed target is reported, not an error.
        """;

    public required string Bench { get; init; }

    public int Clients { get; init; } = 16;

    public int IngestClients { get; init; } = 4;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);

    public int ReadResources { get; init; } = 10_000;

    /// <summary>search: how many resources to load.</summary>
    public long SearchResources { get; init; } = 1_000_000;

    /// <summary>search: run on SQLite (all but --only postgres).</summary>
    public bool SearchSqlite { get; init; } = true;

    /// <summary>search: an Npgsql connection string to run on PostgreSQL too.</summary>
    public string? Postgres { get; init; }

    public bool PatientsOnly { get; init; }

    public bool RunCareHub { get; init; } = true;

    public bool RunCeiling { get; init; } = true;

    public bool Quick { get; init; }

    public string? ServerDll { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> ServerEnvironment { get; init; } = [];

    /// <summary>Parses the arguments after the bench name; throws <see cref="ArgumentException"/> with a readable message.</summary>
    public static BenchOptions Parse(string bench, IReadOnlyList<string> args)
    {
        var quick = args.Contains("--quick");
        int? clients = null, ingestClients = null, seconds = null, warmup = null, resources = null;
        var patientsOnly = false;
        string? only = null, serverDll = null, postgres = null;
        var environment = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Positive() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new ArgumentException($"{args[i - 1]} needs a positive whole number.");
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--clients":
                    clients = Positive();
                    break;
                case "--ingest-clients":
                    ingestClients = Positive();
                    break;
                case "--seconds":
                    seconds = Positive();
                    break;
                case "--warmup":
                    warmup = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w : throw new ArgumentException("--warmup needs a whole number of seconds.");
                    break;
                case "--resources":
                    resources = Positive();
                    break;
                case "--mix":
                    patientsOnly = Value() switch
                    {
                        "demo" => false,
                        "patient" => true,
                        var other => throw new ArgumentException($"--mix is demo or patient, not '{other}'."),
                    };
                    break;
                case "--only":
                    only = Value() is "carehub" or "ceiling" or "sqlite" or "postgres" ? args[i] : throw new ArgumentException("--only is carehub or ceiling (search: sqlite or postgres).");
                    break;
                case "--server-dll":
                    serverDll = Value();
                    break;
                case "--postgres":
                    postgres = Value();
                    break;
                case "--server-env":
                    var pair = Value();
                    var equals = pair.IndexOf('=', StringComparison.Ordinal);
                    environment.Add(equals > 0 ? new(pair[..equals], pair[(equals + 1)..]) : throw new ArgumentException("--server-env needs KEY=VALUE."));
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        return new BenchOptions
        {
            Bench = bench,
            Quick = quick,
            Clients = clients ?? 16,
            IngestClients = ingestClients ?? 4,
            Duration = TimeSpan.FromSeconds(seconds ?? (quick ? 4 : 20)),
            Warmup = TimeSpan.FromSeconds(warmup ?? (quick ? 1 : 5)),
            ReadResources = resources ?? (quick ? 2_000 : 10_000),
            SearchResources = resources ?? (quick ? 20_000 : 1_000_000),
            Postgres = postgres,
            PatientsOnly = patientsOnly,
            RunCareHub = only is null or "carehub",
            RunCeiling = only is null or "ceiling",
            SearchSqlite = only is not "postgres",
            ServerDll = serverDll,
            ServerEnvironment = environment,
        };
    }
}
