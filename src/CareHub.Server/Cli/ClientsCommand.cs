using System.Text.Json;
using CareHub.Server.SignIn;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub clients add|list|show|remove: the client registry from the command line, through the composition root (the same
/// data folder or PostgreSQL database and settings as the server, which may be running).
/// </summary>
public static class ClientsCommand
{
    public const string Usage = """
          carehub clients add ID --scopes "system/..." [--secret S | --jwks FILE] [--organisation ODS] [--name NAME] [--data DIR | --postgres CONNSTRING]
          carehub clients list|show ID|remove ID [--data DIR | --postgres CONNSTRING]
        """;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("add" or "list" or "show" or "remove"))
        {
            throw new UsageException("clients needs a subcommand: add, list, show or remove.\n" + Usage);
        }

        var (settings, named, ids) = Parse(args[1..]);
        if (args[0] != "list" && ids.Count != 1)
        {
            throw new UsageException($"clients {args[0]} needs one client id.");
        }

        if (args[0] == "add" && named.ContainsKey("secret") && named.ContainsKey("jwks"))
        {
            throw new UsageException("clients add takes --secret or --jwks, not both.");
        }

        JsonElement? jwks = null;
        if (named.TryGetValue("jwks", out var jwksFile))
        {
            try
            {
                jwks = JsonDocument.Parse(await File.ReadAllTextAsync(jwksFile)).RootElement.Clone();
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                throw new UsageException($"--jwks {jwksFile} cannot be read as JSON ({e.GetType().Name}): give a file holding the client's public JWK Set.");
            }
        }

        await using var local = await LocalRecords.OpenAsync(settings);
        await using var scope = local.Services.CreateAsyncScope();
        var registry = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
        switch (args[0])
        {
            case "add":
                try
                {
                    var (client, secret) = await registry.RegisterAsync(
                        new ClientRegistration(ids[0], named.GetValueOrDefault("scopes"), named.GetValueOrDefault("secret"), jwks, named.GetValueOrDefault("organisation"), named.GetValueOrDefault("name")),
                        CancellationToken.None);
                    Console.WriteLine($"Registered client {client.ClientId} ({client.Authentication}) with scopes {client.Scopes}.");
                    if (secret is not null)
                    {
                        Console.WriteLine($"Its secret, shown this once: {secret}");
                    }

                    return 0;
                }
                catch (ClientRegistryException e)
                {
                    throw new UsageException(e.Message);
                }

            case "list":
                var clients = await registry.ListAsync(CancellationToken.None);
                Console.WriteLine($"{"CLIENT ID",-32}  {"AUTHENTICATION",-16}  {"ORGANISATION",-12}  SCOPES");
                foreach (var c in clients)
                {
                    Console.WriteLine($"{c.ClientId,-32}  {c.Authentication,-16}  {c.Organisation,-12}  {c.Scopes}");
                }

                Console.WriteLine($"{clients.Count} client(s).");
                return 0;
            case "show":
                if (await registry.FindAsync(ids[0], CancellationToken.None) is not { } found)
                {
                    Console.Error.WriteLine($"carehub: no client '{ids[0]}' is registered.");
                    return 1;
                }

                Console.WriteLine(JsonSerializer.Serialize(found, Indented));
                return 0;
            default:
                if (!await registry.RemoveAsync(ids[0], CancellationToken.None))
                {
                    Console.Error.WriteLine($"carehub: no client '{ids[0]}' is registered.");
                    return 1;
                }

                Console.WriteLine($"Removed client {ids[0]} with its authorizations and tokens.");
                return 0;
        }
    }

    private static (List<KeyValuePair<string, string?>> Settings, Dictionary<string, string> Named, List<string> Ids) Parse(string[] args)
    {
        var settings = new List<KeyValuePair<string, string?>>();
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        var ids = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--data":
                    settings.Add(new($"{StorageOptions.SectionName}:DataDirectory", Value()));
                    break;
                case "--postgres":
                    settings.Add(new($"{StorageOptions.SectionName}:Postgres", Value()));
                    break;
                case "--scopes" or "--secret" or "--jwks" or "--organisation" or "--name":
                    named[args[i][2..]] = Value();
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new UsageException($"Unknown option {args[i]}.\n" + Usage);
                    }

                    ids.Add(args[i]);
                    break;
            }
        }

        return (settings, named, ids);
    }
}
