using CareHub.Demo;
using CareHub.Governance;
using CareHub.Records;

namespace CareHub.Server.Cli;

/// <summary>carehub serve / carehub demo.</summary>
public static class ServeCommand
{
    public const string DemoClientId = "demo-system";
    public const string DemoClientSecret = "demo-secret";

    public static async Task<int> RunAsync(Options options, bool demo)
    {
        var settings = options.Settings();
        var urls = options.Urls ?? "http://127.0.0.1:8080";
        settings.RemoveAll(s => s.Key == "urls");
        settings.Add(new("urls", urls));
        if (demo)
        {
            var dataDirectory = options.Data ?? Path.Combine(Path.GetTempPath(), "carehub-demo-" + Guid.NewGuid().ToString("N")[..8]);
            if (options.Data is null)
            {
                settings.Add(new($"{StorageOptions.SectionName}:DataDirectory", dataDirectory));
            }

            settings.AddRange(DemoSettings());
            settings.AddRange(SignInSettings(urls));
            // Terminology: the synthetic release's Read-style map refset translates to Read v2 codes.
            settings.Add(new($"{CareHub.Terminology.TerminologyOptions.SectionName}:MapTargets:{CareHub.Terminology.Snomed.SyntheticRelease.ReadMapRefset}", "http://read.info/readv2"));
            // Messaging: the demo's inbound ADT/ORU MLLP channel.
            settings.AddRange(Messaging.MessagingServices.DemoChannel(options.MllpPort ?? Messaging.MessagingServices.DemoMllpPort, dataDirectory, mapperRegistered: true));
            // Notifications: the demo may notify an endpoint on this machine over plain http (docs/notifications.md).
            settings.AddRange(Notifications.NotificationServices.DemoSettings());
        }
        else if (options.DevTokens)
        {
            settings.AddRange(DemoSettings());
        }

        await using var app = CareHubHost.Build([], settings);
        // The host's console lifetime turns Ctrl+C and SIGTERM into a graceful stop.
        var stopping = app.Lifetime.ApplicationStopping;
        await CareHubHost.StartAsync(app, stopping);
        var baseUrl = app.Urls.First().TrimEnd('/');
        if (demo)
        {
            await LoadDemoAsync(app, baseUrl, options.Patients ?? new DemoCommunityOptions().Patients, stopping);
            var registerClient = $"curl -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"clientId\":\"my-system\",\"scopes\":\"system/Patient.rs\"}}' {baseUrl}/admin/clients";
            Console.WriteLine($"""

                CareHub demo is running at {baseUrl}/fhir (embedded store: {app.Configuration[$"{StorageOptions.SectionName}:DataDirectory"]}).
                Get a token (client demo-system / demo-secret, scopes system/*.cruds):
                  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id={DemoClientId} -d client_secret={DemoClientSecret} {baseUrl}/auth/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
                Then, for example:
                  curl -H "Authorization: Bearer $TOKEN" '{baseUrl}/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{DemoCommunity.NhsNumbers(new DemoCommunityOptions { Patients = 1 })[0]}'
                SNOMED CT (a small synthetic release; docs/terminology.md), e.g. every diabetes recorded, whatever the sub-concept:
                  curl -H "Authorization: Bearer $TOKEN" '{baseUrl}/fhir/Condition?code:below=http://snomed.info/sct|73211009'
                  curl -H "Authorization: Bearer $TOKEN" '{baseUrl}/fhir/ValueSet/$expand?url=http://snomed.info/sct?fhir_vs=ecl/%3C%3C73211009'
                Or sign in as a demo user (gp.smith, dr.ahmed, nurse.jones, sw.patel, ig.lead, admin, int.eng, or citizen:<NHS number>; password {DemoPassword}),
                whose access the governance policy decides (docs/governance.md):
                  TOKEN=$(curl -s -d grant_type=password -d client_id={DemoClientId} -d client_secret={DemoClientSecret} -d username=gp.smith -d password={DemoPassword} {baseUrl}/auth/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
                HL7 v2 over MLLP (ADT, ORU) on 127.0.0.1:{options.MllpPort ?? Messaging.MessagingServices.DemoMllpPort}, e.g. mllp_send --loose -f message.hl7 -p {options.MllpPort ?? Messaging.MessagingServices.DemoMllpPort} 127.0.0.1
                  curl -H "Authorization: Bearer $TOKEN" {baseUrl}/admin/messaging/channels
                Register a backend system with the authorization server (docs/sign-in.md) and get its token by client credentials:
                  {registerClient}
                  curl -u my-system:<the secret it printed> -d grant_type=client_credentials {baseUrl}/connect/token
                Press Ctrl+C to stop.
                """);
        }
        else
        {
            Console.WriteLine($"CareHub is serving FHIR R4 at {baseUrl}/fhir. Press Ctrl+C to stop.");
        }

        await app.WaitForShutdownAsync(CancellationToken.None);
        await CareHubHost.StopAsync(app);
        return 0;
    }

    /// <summary>The password of every demo login (development only).</summary>
    public const string DemoPassword = "demo";

    /// <summary>The demo logins: user name, job role (the access policy's role code), organisation (ODS), fhirUser.</summary>
    public static IReadOnlyList<(string UserName, string Role, string? Organisation, string? FhirUser)> DemoLogins { get; } =
    [
        .. DemoCommunity.Users.Select(u => (u.UserName, u.RoleCode, (string?)u.OrganizationId, (string?)$"Practitioner/{u.PractitionerId}")),
        ("ig.lead", "ig-officer", "QU9", null),
        ("admin", "system-admin", null, null),
        ("int.eng", "integration-engineer", null, null),
    ];

    /// <summary>
    /// The demo's development token endpoint: its system client, the password grant for the demo users through that
    /// client, and citizen logins (citizen:&lt;NHS number&gt;), all with the password <see cref="DemoPassword"/>.
    /// </summary>
    /// <summary>
    /// The demo's authorization server (docs/sign-in.md): its issuer is the first URL the demo listens on, its tokens are for
    /// that URL's FHIR base. Plain http only on a loopback address.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> SignInSettings(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var baseUrl = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0].TrimEnd('/');
        var loopback = Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && uri.IsLoopback;
        return
        [
            new("CareHub:SignIn:Enabled", "true"),
            new("CareHub:SignIn:Issuer", baseUrl + "/"),
            new("CareHub:SignIn:Audience", baseUrl + "/fhir"),
            new("CareHub:SignIn:RequireHttps", loopback ? "false" : "true"),
        ];
    }

    public static IEnumerable<KeyValuePair<string, string?>> DemoSettings()
    {
        List<KeyValuePair<string, string?>> settings =
        [
            new("CareHub:Auth:DevTokens:Enabled", "true"),
            new("CareHub:Auth:DevTokens:Audience", "carehub"),
            new("CareHub:Auth:DevTokens:Clients:0:ClientId", DemoClientId),
            new("CareHub:Auth:DevTokens:Clients:0:Secret", DemoClientSecret),
            new("CareHub:Auth:DevTokens:Clients:0:Scopes", "system/*.cruds"),
            new("CareHub:Auth:DevTokens:Clients:0:Kind", "system"),
            new("CareHub:Auth:DevTokens:CitizenPassword", DemoPassword),
        ];
        for (var i = 0; i < DemoLogins.Count; i++)
        {
            var (userName, role, organisation, fhirUser) = DemoLogins[i];
            var prefix = $"CareHub:Auth:DevTokens:Users:{i}:";
            settings.Add(new(prefix + "UserName", userName));
            settings.Add(new(prefix + "Password", DemoPassword));
            settings.Add(new(prefix + "Role", role));
            settings.Add(new(prefix + "Organisation", organisation));
            settings.Add(new(prefix + "FhirUser", fhirUser));
        }

        return settings;
    }

    private static async Task LoadDemoAsync(WebApplication app, string baseUrl, int patients, CancellationToken cancellationToken)
    {
        var records = app.Services.GetRequiredService<RecordService>();
        var context = new RequestContext(Loader("demo-loader"), baseUrl + "/fhir", "demo-load") { Return = ReturnPreference.Minimal };
        var community = DemoCommunity.Generate(new DemoCommunityOptions { Patients = patients });
        var resources = 0;
        foreach (var bundle in community)
        {
            await records.ProcessBundleAsync(context, bundle, cancellationToken);
            resources += bundle.Entry.Count;
        }

        // Searches are planned on statistics of what is stored: without them the access policy's clauses ran minutes.
        await records.RefreshStatisticsAsync(cancellationToken);
        Console.WriteLine($"Loaded the demo community: {community.Count} bundles, {resources} resources, {patients} patients.");

        // SNOMED CT is licensed: the demo generates a small synthetic release (an edition and a UK-style extension) and loads it.
        var release = Path.Combine(app.Configuration[$"{StorageOptions.SectionName}:DataDirectory"] ?? Path.GetTempPath(), "snomed-synthetic");
        CareHub.Terminology.Snomed.SyntheticRelease.Write(Path.Combine(release, "edition"));
        CareHub.Terminology.Snomed.SyntheticRelease.WriteExtension(Path.Combine(release, "extension"));
        var snomed = app.Services.GetRequiredService<CareHub.Terminology.Snomed.SnomedStore>();
        await snomed.LoadAsync(CareHub.Terminology.Snomed.Rf2Release.Find(Path.Combine(release, "edition")), null, cancellationToken);
        var loaded = await snomed.LoadAsync(CareHub.Terminology.Snomed.Rf2Release.Find(Path.Combine(release, "extension")), null, cancellationToken);
        Console.WriteLine($"Loaded a synthetic SNOMED CT release: closure of {loaded.ClosureRows} rows.");
    }

    /// <summary>The principal of a local, trusted loader (demo, import): a system with every scope.</summary>
    public static Principal Loader(string name) => new()
    {
        Kind = PrincipalKind.System,
        Subject = name,
        ClientId = name,
        Issuer = "carehub-cli",
        Scopes = ScopeSet.Parse("system/*.cruds"),
    };
}
