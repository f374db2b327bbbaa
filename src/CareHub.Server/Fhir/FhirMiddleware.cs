using CareHub.Fhir;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Http.Features;

namespace CareHub.Server.Fhir;

/// <summary>
/// The edges of /fhir: every error becomes an OperationOutcome with the right status, in one place. Authentication and
/// permissions are the host's one path for every face (Security/Permissions.cs).
/// </summary>
public static partial class FhirMiddleware
{
    public static IApplicationBuilder UseFhirErrors(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (!http.Request.Path.StartsWithSegments("/fhir", StringComparison.Ordinal))
        {
            await next(http);
            return;
        }

        http.Response.Headers["X-Request-Id"] = http.TraceIdentifier;
        try
        {
            await next(http);
            if (!http.Response.HasStarted && http.Response.StatusCode is 404 or 405 && http.Response.ContentLength is null && string.IsNullOrEmpty(http.Response.ContentType))
            {
                await WriteError(http, http.Response.StatusCode == StatusCodes.Status404NotFound
                    ? new ResourceNotFoundException($"There is no FHIR interaction at {http.Request.Path}.", OperationOutcome.IssueType.NotSupported)
                    : new MethodNotAllowedException($"{http.Request.Method} is not allowed on {http.Request.Path}."));
            }
        }
        catch (FhirException e)
        {
            await WriteError(http, e);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteError(http, new RequestTooLargeException("The request body is larger than this server accepts."));
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own status (400, 408, 431, ...) says what was wrong with the HTTP itself.
            await WriteError(http, new InvalidInputException("The HTTP request is malformed."), e.StatusCode);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception e)
        {
            var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("CareHub.Fhir");
            LogUnhandled(logger, e, http.TraceIdentifier);
            await WriteError(http, new InternalErrorException(
                $"An internal error occurred; quote request id {http.TraceIdentifier} to the administrator."));
        }
    });

    /// <summary>
    /// Answers with the refusal as an OperationOutcome and the status <see cref="FhirStatus"/> gives its type, or
    /// <paramref name="httpStatus"/> where the HTTP layer itself decided the status.
    /// </summary>
    private static async Task WriteError(HttpContext http, FhirException e, int? httpStatus = null)
    {
        if (http.Response.HasStarted)
        {
            return;
        }

        var challenge = http.Response.Headers.WWWAuthenticate;
        http.Response.Clear();
        http.Response.Headers["X-Request-Id"] = http.TraceIdentifier;
        if (challenge.Count > 0)
        {
            http.Response.Headers.WWWAuthenticate = challenge;
        }
        http.Response.StatusCode = httpStatus ?? (int)FhirStatus.Of(e);
        var outcome = OperationOutcomes.From(e);
        outcome.Issue.Add(new OperationOutcome.IssueComponent
        {
            Severity = OperationOutcome.IssueSeverity.Information,
            Code = OperationOutcome.IssueType.Informational,
            Diagnostics = $"request id {http.TraceIdentifier}",
        });
        await FhirHttp.WriteAsync(http, outcome, FhirHttp.SafeResponseFormat(http));
    }

    /// <summary>
    /// A time budget for each FHIR read and search: past <paramref name="timeout"/> the request's cancellation fires,
    /// which stops its database work (PostgreSQL cancels the statement; SQLite interrupts it), and the client gets a 503
    /// saying so. Writes are not cut short: one stopped near its commit could have committed or not, and a client that
    /// cannot tell would retry into a duplicate; their work is bounded by the body size and the search limits instead.
    /// Every request's cancellation still fires when its client goes away.
    /// </summary>
    public static IApplicationBuilder UseFhirRequestTimeout(this IApplicationBuilder app, TimeSpan timeout) => app.Use(async (http, next) =>
    {
        if (!http.Request.Path.StartsWithSegments("/fhir", StringComparison.Ordinal) || !IsRead(http.Request))
        {
            await next(http);
            return;
        }

        var clientGone = http.RequestAborted;
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        budget.CancelAfter(timeout);
        http.RequestAborted = budget.Token;
        http.Items[FhirHttp.ClientGoneKey] = clientGone;
        try
        {
            await next(http);
        }
        catch (Exception e) when (budget.IsCancellationRequested && e is not FhirException)
        {
            // Whatever a cancelled request fails with (OperationCanceledException, or the store's own error for an
            // interrupted statement) is the cancellation's doing.
            http.RequestAborted = clientGone;
            if (clientGone.IsCancellationRequested)
            {
                throw new OperationCanceledException("The client went away.", e, clientGone);
            }

            throw new ServiceUnavailableException(
                $"The request took longer than this server allows ({timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s, CareHub:Fhir:RequestTimeout) and was stopped. " +
                "Narrow it: add more selective parameters (an identifier, a patient, a date range), ask for a smaller _count, drop _include/_revinclude, or use _total=none.");
        }
        finally
        {
            http.RequestAborted = clientGone;
        }
    });

    /// <summary>Reads and searches, GET or POST _search; the CapabilityStatement does no database work.</summary>
    private static bool IsRead(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)
            || (HttpMethods.IsPost(request.Method) && request.Path.Value!.EndsWith("/_search", StringComparison.Ordinal)))
        && !request.Path.StartsWithSegments("/fhir/metadata", StringComparison.Ordinal);

    /// <summary>Caps request bodies per request (Kestrel answers 413 past it).</summary>
    public static IApplicationBuilder UseBodyLimit(this IApplicationBuilder app, long maxBytes) => app.Use((http, next) =>
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = maxBytes + 1;
        }

        return next(http);
    });

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "Unhandled error in request {RequestId}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string requestId);
}
