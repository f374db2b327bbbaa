using System.Globalization;
using CareHub.Messaging;
using CareHub.Messaging.Storage;
using CareHub.Records;
using CareHub.Server.Cli;

namespace CareHub.Server.Messaging;

/// <summary>
/// carehub messages list|show|reprocess|set-aside: the message store from the command line, through the composition root (the
/// same data folder or PostgreSQL database and settings as the server; it may be running). Reprocessing runs the
/// channel's filters and transformer from the configuration (appsettings.json beside the binary, environment, command
/// line) and queues the message again; the server's delivery workers pick it up at their next poll.
/// </summary>
public static class MessagesCommand
{
    public const string Usage = """
          carehub messages list [--data DIR | --postgres CONNSTRING] [--channel C] [--state S] [--type ADT^A01] [--control-id X] [--flag F] [--from T] [--to T] [--count N]
          carehub messages show [--data DIR | --postgres CONNSTRING] ID
          carehub messages reprocess [--data DIR | --postgres CONNSTRING] (ID... | --channel C [--state S] [--type T] [--flag F] [--from T] [--to T])
          carehub messages set-aside [--data DIR | --postgres CONNSTRING] [--reason TEXT] ID...
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("list" or "show" or "reprocess" or "set-aside"))
        {
            throw new UsageException("messages needs a subcommand: list, show, reprocess or set-aside.\n" + Usage);
        }

        var (settings, filters, ids) = Parse(args[1..]);
        var query = Query(filters);
        if (args[0] == "reprocess" && ids.Count == 0 && !filters.Keys.Any(k => k is not ("count" or "reason")))
        {
            throw new UsageException("messages reprocess needs message ids or at least one filter (--channel, --state, --type, --from, --to, --control-id, --flag).");
        }

        if (args[0] == "set-aside" && ids.Count == 0)
        {
            throw new UsageException("messages set-aside needs the ids of dead-lettered messages.");
        }

        await using var local = await LocalRecords.OpenAsync(settings);
        var store = local.Services.GetRequiredService<IMessageStore>();
        switch (args[0])
        {
            case "list":
                var found = await store.SearchAsync(query, CancellationToken.None);
                Console.WriteLine($"{"ID",8}  {"RECEIVED (UTC)",-19}  {"CHANNEL",-16}  {"TYPE",-8}  {"CONTROL ID",-22}  {"STATE",-11}  FLAGS / ERROR");
                foreach (var m in found)
                {
                    var flags = m.Flags.Count == 0 ? "" : "[" + string.Join(' ', m.Flags) + "] ";
                    Console.WriteLine($"{m.Id,8}  {m.Received.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {m.Channel,-16}  {m.MessageType}^{m.TriggerEvent,-4}  {m.ControlId,-22}  {m.State,-11}  {flags}{m.Error}");
                }

                Console.WriteLine($"{found.Count} message(s).");
                return 0;
            case "show":
                if (ids.Count != 1)
                {
                    throw new UsageException("messages show needs one message id.");
                }

                var message = await store.GetAsync(ids[0], CancellationToken.None);
                // A raw message is full of patient data: viewing it here is audited as viewing it through the API is.
                var viewer = new RequestContext(ServeCommand.Loader("carehub-messages-show"), "urn:carehub:cli", "messages-show-" + Guid.NewGuid().ToString("N")[..8]);
                await MessagingApi.AuditViewAsync(ids[0], message, viewer, local.Records, local.Services.GetRequiredService<AuditTrail>(), CancellationToken.None);
                if (message is null)
                {
                    Console.Error.WriteLine($"carehub: there is no message {ids[0]}.");
                    return 1;
                }

                Print(message);
                return 0;
            case "set-aside":
                var broker = local.Services.GetRequiredService<MessageBroker>();
                var reason = "set aside from the command line" + (filters.TryGetValue("reason", out var why) ? ": " + why : "");
                var setAside = 0;
                foreach (var id in ids)
                {
                    if (await broker.SetAsideAsync(id, reason, CancellationToken.None))
                    {
                        setAside++;
                    }
                    else
                    {
                        Console.Error.WriteLine($"carehub: message {id} has no dead-lettered delivery to set aside.");
                    }
                }

                Console.WriteLine($"Set aside {setAside} message(s).");
                return setAside == ids.Count ? 0 : 1;
            default:
                return await ReprocessAsync(local.Services.GetRequiredService<MessageBroker>(), query, ids, filters.Keys.Any(k => k is not ("count" or "reason")));
        }
    }

    /// <summary>
    /// Runs the messages through their channels again with the broker of the composition root, the server's own: the
    /// same channels, transformers and door (write hooks included) from the same settings.
    /// </summary>
    private static async Task<int> ReprocessAsync(MessageBroker broker, MessageQuery query, List<long> ids, bool filtered)
    {
        var count = 0;
        foreach (var id in ids)
        {
            if (await broker.ReprocessAsync(id, CancellationToken.None))
            {
                count++;
            }
            else
            {
                Console.Error.WriteLine($"carehub: message {id} is not in the store or its channel is not configured.");
            }
        }

        if (filtered)
        {
            count += await broker.ReprocessAsync(query, CancellationToken.None);
        }

        Console.WriteLine($"Reprocessed {count} message(s).");
        return 0;
    }

    private static void Print(StoredMessage m)
    {
        Console.WriteLine($"""
            Message {m.Id} ({m.Uid})
              channel:    {m.Channel}
              received:   {m.Received:O} from {m.Sender}
              type:       {m.MessageType}^{m.TriggerEvent}   control id: {m.ControlId}
              state:      {m.State}{(m.Error is null ? "" : "   error: " + m.Error)}
              flags:      {string.Join(' ', m.Flags)}
            Raw:
            {MessageBroker.Display(m.Raw)}
            Transformed ({m.TransformedType}):
            {m.Transformed}
            Response:
            {m.Response?.Replace("\r", "\n", StringComparison.Ordinal)}
            Deliveries:
            """);
        foreach (var d in m.Deliveries)
        {
            Console.WriteLine($"  {d.Destination}: {d.State}, {d.Attempts} attempt(s), next {d.NextAttempt:O}{(d.LastError is null ? "" : ", last error: " + d.LastError)}");
        }
    }

    private static MessageQuery Query(Dictionary<string, string> f)
    {
        DateTimeOffset? Time(string key) => f.TryGetValue(key, out var v)
            ? DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : throw new UsageException($"--{key} needs a date or time, e.g. 2024-03-01T09:00:00Z.")
            : null;
        var count = f.TryGetValue("count", out var c) ? int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new UsageException("--count needs a positive whole number.") : 50;
        if (f.TryGetValue("state", out var state) && !MessageStates.All.Contains(state))
        {
            throw new UsageException($"--state must be one of {string.Join(", ", MessageStates.All)}.");
        }

        if (f.TryGetValue("flag", out var flag) && !MessageFlags.All.Contains(flag))
        {
            throw new UsageException($"--flag must be one of {string.Join(", ", MessageFlags.All)}.");
        }

        return new MessageQuery(f.GetValueOrDefault("channel"), state, f.GetValueOrDefault("type"), Time("from"), Time("to"), f.GetValueOrDefault("control-id"), null, count, flag);
    }

    private static (List<KeyValuePair<string, string?>> Settings, Dictionary<string, string> Filters, List<long> Ids) Parse(string[] args)
    {
        string? data = null, postgres = null;
        var filters = new Dictionary<string, string>(StringComparer.Ordinal);
        var ids = new List<long>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--data":
                    data = Value();
                    break;
                case "--postgres":
                    postgres = Value();
                    break;
                case "--channel" or "--state" or "--type" or "--control-id" or "--flag" or "--from" or "--to" or "--count" or "--reason":
                    filters[args[i][2..]] = Value();
                    break;
                default:
                    ids.Add(long.TryParse(args[i], NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : throw new UsageException($"'{args[i]}' is neither an option nor a message id."));
                    break;
            }
        }

        if (data is not null && postgres is not null)
        {
            throw new UsageException("Give --data or --postgres, not both.");
        }

        return (new Options(null, data, postgres, null, []).Settings(), filters, ids);
    }
}
