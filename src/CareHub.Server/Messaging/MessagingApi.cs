using System.Globalization;
using CareHub.Governance;
using CareHub.Hl7v2;
using CareHub.Messaging;
using CareHub.Messaging.Storage;
using CareHub.Records;
using CareHub.Server.Security;
using Microsoft.AspNetCore.Http.Features;

namespace CareHub.Server.Messaging;

/// <summary>
/// The broker's HTTP faces: the HTTP source (<c>POST /channels/{name}/messages</c>) and the admin API under
/// <c>/admin/messaging</c>, each with its permission (<see cref="Permissions"/>). Sending needs a system token (SMART
/// backend services) with the scope <c>carehub.messaging.send</c>. Administration is for systems with
/// <c>carehub.admin</c> (or <c>system/*.cruds</c>) and for users whose job role the access policy gives the
/// <c>messages</c> category: <c>s</c> to list channels and search, <c>r</c> to read a message's content, <c>u</c> to
/// reprocess, pause and resume. Raw messages
/// are full of patient data, so every view of one is audited with the patients it names.
/// </summary>
public static class MessagingApi
{
    public const string SendScope = Permissions.SendScope;
    public const string Hl7MediaType = "x-application/hl7-v2+er7";

    public static IEndpointRouteBuilder MapMessagingApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/channels/{name}/messages", ReceiveAsync).DisableAntiforgery().RequireAuthorization(Permissions.MessagesSend);
        var admin = endpoints.MapGroup("/admin/messaging");
        admin.MapGet("/channels", ChannelsAsync).RequireAuthorization(Permissions.MessagesSearch);
        admin.MapPost("/channels/{name}/pause", (HttpContext http, string name, MessageBroker broker) => PauseAsync(http, name, broker, true))
            .RequireAuthorization(Permissions.MessagesManage);
        admin.MapPost("/channels/{name}/resume", (HttpContext http, string name, MessageBroker broker) => PauseAsync(http, name, broker, false))
            .RequireAuthorization(Permissions.MessagesManage);
        admin.MapGet("/messages", SearchAsync).RequireAuthorization(Permissions.MessagesSearch);
        admin.MapGet("/messages/{id:long}", GetAsync).RequireAuthorization(Permissions.MessagesRead);
        admin.MapPost("/messages/{id:long}/reprocess", ReprocessOneAsync).RequireAuthorization(Permissions.MessagesManage);
        admin.MapPost("/messages/reprocess", ReprocessManyAsync).RequireAuthorization(Permissions.MessagesManage);
        admin.MapPost("/messages/{id:long}/set-aside", SetAsideAsync).RequireAuthorization(Permissions.MessagesManage);
        return endpoints;
    }

    private static IResult Problem(int status, string detail) => Results.Json(new CareHubAuthorizationResultHandler.ErrorBody(detail), statusCode: status);

    // ---- HTTP source ---------------------------------------------------------------------------------------------

    /// <summary>
    /// One HL7 v2 message in the body; the answer is its ACK (200 when accepted, 400 with the AE/AR ACK when not), sent
    /// only once the message is stored.
    /// </summary>
    private static async Task<IResult> ReceiveAsync(HttpContext http, string name, MessageBroker broker, CancellationToken cancellationToken)
    {
        var principal = CareHubPrincipal.Of(http);
        var channel = broker.FindChannel(name);
        if (channel is null || channel.Source.Type != "http" || !channel.Enabled)
        {
            return Problem(StatusCodes.Status404NotFound, $"There is no enabled HTTP channel '{name}'.");
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = channel.Source.MaxMessageBytes;
        }

        using var body = new MemoryStream();
        try
        {
            await http.Request.Body.CopyToAsync(body, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, $"The message is larger than this channel accepts ({channel.Source.MaxMessageBytes} bytes).");
        }

        var sender = $"http:{http.Connection.RemoteIpAddress} client={principal.ClientId}";
        var outcome = await broker.ReceiveAsync(name, body.ToArray(), sender, cancellationToken);
        if (outcome.Ack is null)
        {
            return outcome.Accepted
                ? Results.Ok()
                : Problem(StatusCodes.Status400BadRequest, "The body is not an HL7 v2 message (no MSH segment); it is kept in the message store.");
        }

        http.Response.StatusCode = outcome.Accepted ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest;
        http.Response.ContentType = Hl7MediaType;
        await http.Response.Body.WriteAsync(outcome.Ack, cancellationToken);
        return Results.Empty;
    }

    // ---- admin ---------------------------------------------------------------------------------------------------

    /// <summary>A channel as the admin API lists it; <c>Authentication</c> says how an MLLP listener knows its senders.</summary>
    public sealed record ChannelView(string Name, string Source, bool Enabled, bool Paused, string Transformer, IReadOnlyList<string> Destinations,
        long Received, long Filtered, long Queued, long Sent, long Errored, string? Listening, string? Authentication, IReadOnlyList<string> Senders);

    private static string? Authentication(SourceOptions source) => source.Type != "mllp" ? null
        : !source.AuthenticatesSenders ? "none (unauthenticated, loopback only)"
        : string.Join(" + ", new[] { source.AllowedAddresses.Length > 0 ? "allowed addresses" : null, source.RequiresClientCertificate ? "client certificate" : null }.OfType<string>());

    private static async Task<IResult> ChannelsAsync(HttpContext http, MessageBroker broker, MessagingHostedService host, CancellationToken cancellationToken)
    {
        var status = (await broker.Store.ChannelStatusAsync(cancellationToken)).ToDictionary(s => s.Channel, StringComparer.Ordinal);
        var views = broker.Channels.Select(c =>
        {
            var s = status.GetValueOrDefault(c.Name);
            return new ChannelView(c.Name, c.Source.Type, c.Enabled, s?.Paused ?? false, c.Transformer, c.Destinations.Select(d => $"{d.EffectiveName} ({d.Type})").ToList(),
                s?.Total ?? 0, s?.Count(MessageStates.Filtered) ?? 0, s?.Count(MessageStates.Queued) ?? 0, s?.Count(MessageStates.Sent) ?? 0,
                s?.Count(MessageStates.Error) ?? 0, host.Listeners.FirstOrDefault(l => l.Channel == c.Name)?.LocalEndpoint.ToString(),
                Authentication(c.Source), c.Source.Senders);
        }).ToList();
        return Results.Json(views);
    }

    private static async Task<IResult> PauseAsync(HttpContext http, string name, MessageBroker broker, bool paused)
    {
        return await broker.SetPausedAsync(name, paused, http.RequestAborted)
            ? Results.Json(new { channel = name, paused })
            : Problem(StatusCodes.Status404NotFound, $"There is no channel '{name}'.");
    }

    /// <summary>Reads the search parameters: channel, state, type (ADT or ADT^A01), from, to (ISO 8601), controlId, flag, before (id), count.</summary>
    public static MessageQuery? ParseQuery(IQueryCollection query, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(query);
        problem = null;
        DateTimeOffset? Time(string key)
        {
            if (query[key].FirstOrDefault() is not { Length: > 0 } text)
            {
                return null;
            }

            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
            {
                return value;
            }

            throw new FormatException($"'{key}' must be a date or time such as 2024-03-01 or 2024-03-01T09:00:00Z.");
        }

        try
        {
            var state = query["state"].FirstOrDefault();
            if (state is not null && !MessageStates.All.Contains(state))
            {
                throw new FormatException($"'state' must be one of {string.Join(", ", MessageStates.All)}.");
            }

            var flag = query["flag"].FirstOrDefault();
            if (flag is not null && !MessageFlags.All.Contains(flag))
            {
                throw new FormatException($"'flag' must be one of {string.Join(", ", MessageFlags.All)}.");
            }

            long? before = query["before"].FirstOrDefault() is { } b ? long.Parse(b, CultureInfo.InvariantCulture) : null;
            var count = query["count"].FirstOrDefault() is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 50;
            return new MessageQuery(query["channel"].FirstOrDefault(), state, query["type"].FirstOrDefault(), Time("from"), Time("to"),
                query["controlId"].FirstOrDefault(), before, Math.Clamp(count, 1, 1000), flag);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            problem = e.Message;
            return null;
        }
    }

    private static async Task<IResult> SearchAsync(HttpContext http, MessageBroker broker, CancellationToken cancellationToken)
    {
        var query = ParseQuery(http.Request.Query, out var problem);
        return query is null
            ? Problem(StatusCodes.Status400BadRequest, problem!)
            : Results.Json(await broker.Store.SearchAsync(query, cancellationToken));
    }

    public sealed record MessageView(long Id, string Uid, string Channel, DateTimeOffset Received, string Sender, string? ControlId, string? MessageType,
        string? TriggerEvent, string State, string? Error, DateTimeOffset Updated, string Raw, string? Transformed, string? TransformedType, string? Response,
        IReadOnlyList<StoredDelivery> Deliveries, IReadOnlyList<string> Flags, string PartitionKey);

    public static MessageView View(StoredMessage m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new(m.Id, m.Uid, m.Channel, m.Received, m.Sender, m.ControlId, m.MessageType, m.TriggerEvent, m.State, m.Error, m.Updated,
            MessageBroker.Display(m.Raw), m.Transformed, m.TransformedType, m.Response?.Replace("\r", "\n", StringComparison.Ordinal), m.Deliveries,
            m.Flags, m.PartitionKey);
    }

    private static async Task<IResult> GetAsync(HttpContext http, long id, MessageBroker broker, RecordService records, AuditTrail audit, CancellationToken cancellationToken)
    {
        var principal = CareHubPrincipal.Of(http);
        var message = await broker.Store.GetAsync(id, cancellationToken);
        var context = new RequestContext(principal, $"{http.Request.Scheme}://{http.Request.Host}/fhir", http.TraceIdentifier, http.Connection.RemoteIpAddress?.ToString());
        await AuditViewAsync(id, message, context, records, audit, cancellationToken);
        return message is null ? Problem(StatusCodes.Status404NotFound, $"There is no message {id}.") : Results.Json(View(message));
    }

    /// <summary>
    /// Audits a view of one raw message, by any face (this API or <c>carehub messages show</c>): the message as the entity
    /// and the Patient records it names, or a failed read when there is no such message.
    /// </summary>
    public static async Task AuditViewAsync(long id, StoredMessage? message, RequestContext context, RecordService records, AuditTrail audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(audit);
        var reference = $"urn:carehub:message:{id.ToString(CultureInfo.InvariantCulture)}";
        if (message is null)
        {
            audit.Record(context, new AuditFacts("read", Hl7.Fhir.Model.AuditEvent.AuditEventAction.R, "HL7v2Message", [reference], [], false, "no such message"));
            return;
        }

        var patients = await PatientsNamedAsync(message, records, context, cancellationToken);
        audit.Record(context, new AuditFacts("read", Hl7.Fhir.Model.AuditEvent.AuditEventAction.R, "HL7v2Message", [reference], patients, true));
    }

    /// <summary>
    /// The Patient records a message names: those with any of its PID identifiers (found as the hub itself, since the
    /// viewer may see no patient records at all, and the audit must name them all). None for a message without a PID or
    /// that cannot be parsed.
    /// </summary>
    private static async Task<IReadOnlyList<string>> PatientsNamedAsync(StoredMessage message, RecordService records, RequestContext viewer, CancellationToken cancellationToken)
    {
        IReadOnlyList<Hl7.Fhir.Model.Identifier> identifiers;
        try
        {
            identifiers = CareHub.Messaging.Mapping.V2ToFhir.PatientIdentifiers(Hl7Message.Parse(message.Raw), CareHub.Messaging.Mapping.V2MappingOptions.Default);
        }
        catch (Hl7ParseException)
        {
            return [];
        }

        if (identifiers.Count == 0)
        {
            return [];
        }

        var hub = new RequestContext(AuditLookup, viewer.BaseUrl, viewer.CorrelationId) { Return = ReturnPreference.Minimal };
        var tokens = string.Join(',', identifiers.Take(20).Select(i => $"{Escape(i.System)}|{Escape(i.Value)}"));
        var found = await records.SearchAsync(hub, "Patient", [new("identifier", tokens), new("_count", "100")], cancellationToken);
        return [.. found.Entry.Where(e => e.Resource is Hl7.Fhir.Model.Patient).Select(e => "Patient/" + e.Resource!.Id).Distinct(StringComparer.Ordinal)];
    }

    private static string Escape(string? text) =>
        (text ?? "").Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>The hub looking up which patients a viewed message names, for the viewer's audit record.</summary>
    private static readonly Principal AuditLookup = new()
    {
        Kind = PrincipalKind.System,
        Subject = "messaging-audit",
        ClientId = "messaging-audit",
        Issuer = "carehub-messaging",
        Scopes = ScopeSet.Parse("system/Patient.rs"),
    };

    private static async Task<IResult> ReprocessOneAsync(HttpContext http, long id, MessageBroker broker, CancellationToken cancellationToken)
    {
        return await broker.ReprocessAsync(id, cancellationToken)
            ? Results.Json(new { reprocessed = 1 })
            : Problem(StatusCodes.Status404NotFound, $"There is no message {id} on a configured channel.");
    }

    /// <summary>
    /// Sets a dead-lettered message aside (query <c>reason</c>, optional): it is kept, and its patient's later messages
    /// that it held up go on. Reprocessing it later still works.
    /// </summary>
    private static async Task<IResult> SetAsideAsync(HttpContext http, long id, MessageBroker broker, CancellationToken cancellationToken)
    {
        var who = CareHubPrincipal.Of(http).Subject;
        var reason = http.Request.Query["reason"].FirstOrDefault() is { Length: > 0 } given ? $"set aside by {who}: {given}" : $"set aside by {who}";
        return await broker.SetAsideAsync(id, reason, cancellationToken)
            ? Results.Json(new { setAside = 1 })
            : Problem(StatusCodes.Status404NotFound, $"Message {id} has no dead-lettered delivery to set aside.");
    }

    private static async Task<IResult> ReprocessManyAsync(HttpContext http, MessageBroker broker, CancellationToken cancellationToken)
    {
        var query = ParseQuery(http.Request.Query, out var problem);
        if (query is null)
        {
            return Problem(StatusCodes.Status400BadRequest, problem!);
        }

        if (query is { Channel: null, State: null, Type: null, From: null, To: null, ControlId: null, Flag: null })
        {
            return Problem(StatusCodes.Status400BadRequest, "Give at least one filter (channel, state, type, from, to, controlId, flag): reprocessing everything is not done by accident.");
        }

        return Results.Json(new { reprocessed = await broker.ReprocessAsync(query, cancellationToken) });
    }
}
