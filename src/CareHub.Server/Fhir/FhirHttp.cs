using System.Net;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Search;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Primitives;

namespace CareHub.Server.Fhir;

/// <summary>FHIR over HTTP: content negotiation (R4 http.html#mime-type), the Prefer header and writing results.</summary>
public static class FhirHttp
{
    public const string JsonType = "application/fhir+json";
    public const string XmlType = "application/fhir+xml";
    public const string ClientGoneKey = "carehub.client-gone";

    /// <summary>
    /// Fires when the client goes away, but not at the request's time limit: a response already computed is written
    /// whatever the time, while the work before it (<see cref="HttpContext.RequestAborted"/>) stops at the limit.
    /// </summary>
    public static CancellationToken ClientGone(HttpContext http) =>
        http.Items[ClientGoneKey] is CancellationToken token ? token : http.RequestAborted;

    /// <summary>The response format: <c>_format</c> wins over Accept; JSON by default.</summary>
    public static FhirFormat ResponseFormat(HttpContext http)
    {
        var format = http.Request.Query["_format"].ToString();
        if (format.Length > 0)
        {
            return format switch
            {
                "json" or "application/json" or JsonType or "application/fhir json" => FhirFormat.Json,
                "xml" or "text/xml" or "application/xml" or XmlType or "application/fhir xml" => FhirFormat.Xml,
                _ => throw new NotAcceptableException($"_format '{format}' is not supported: use json or xml."),
            };
        }

        foreach (var accept in http.Request.GetTypedHeaders().Accept.OrderByDescending(a => a.Quality ?? 1))
        {
            var media = accept.MediaType.Value ?? string.Empty;
            if (media.Contains("json", StringComparison.OrdinalIgnoreCase))
            {
                return FhirFormat.Json;
            }

            if (media.Contains("xml", StringComparison.OrdinalIgnoreCase))
            {
                return FhirFormat.Xml;
            }
        }

        return FhirFormat.Json;
    }

    /// <summary>The request body format from Content-Type; anything else is 415.</summary>
    public static FhirFormat RequestFormat(HttpContext http)
    {
        var contentType = http.Request.ContentType ?? string.Empty;
        var media = contentType.Split(';')[0].Trim().ToLowerInvariant();
        return media switch
        {
            JsonType or "application/json" or "text/json" => FhirFormat.Json,
            XmlType or "application/xml" or "text/xml" => FhirFormat.Xml,
            "" => throw new UnsupportedMediaTypeException("The request has no Content-Type: send application/fhir+json or application/fhir+xml."),
            _ => throw new UnsupportedMediaTypeException($"Content-Type '{media}' is not supported here: send application/fhir+json or application/fhir+xml."),
        };
    }

    /// <summary>The body's bytes, at most <paramref name="limit"/> of them (413 past it; 400 when there are none).</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyBytesAsync(HttpContext http, long limit)
    {
        if (http.Request.ContentLength is { } length && length > limit)
        {
            throw TooLarge(limit);
        }

        using var body = new MemoryStream();
        var buffer = new byte[16384];
        int read;
        while ((read = await http.Request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > limit)
            {
                throw TooLarge(limit);
            }
        }

        if (body.Length == 0)
        {
            throw FhirException.BadRequest("The request has no body.");
        }

        return body.GetBuffer().AsMemory(0, (int)body.Length);
    }

    private static RequestTooLargeException TooLarge(long limit) =>
        new($"The request body is larger than this server's limit of {limit} bytes.");

    /// <summary>Reads and parses a resource body: size, encoding and nesting are checked before the FHIR parser runs.</summary>
    public static async Task<Resource> ReadResourceAsync(HttpContext http, ServerLimits limits)
    {
        var format = RequestFormat(http);
        var body = await ReadBodyBytesAsync(http, limits.MaxBodyBytes);
        return FhirSerialization.Parse(body.Span, format, limits.MaxNestingDepth);
    }

    public static RequestContext Context(HttpContext http)
    {
        var principal = Security.CareHubPrincipal.Of(http);
        var prefer = http.Request.Headers["Prefer"].ToString();
        var request = http.Request;
        return new RequestContext(principal, BaseUrl(http), http.TraceIdentifier, http.Connection.RemoteIpAddress?.ToString())
        {
            Return = prefer.Contains("return=minimal", StringComparison.OrdinalIgnoreCase) ? ReturnPreference.Minimal
                : prefer.Contains("return=OperationOutcome", StringComparison.OrdinalIgnoreCase) ? ReturnPreference.OperationOutcome
                : ReturnPreference.Representation,
            StrictHandling = prefer.Contains("handling=strict", StringComparison.OrdinalIgnoreCase),
            Purpose = Purpose(http, principal),
            RelationshipReason = RelationshipReason(http),
            SearchLimits = http.RequestServices.GetService<SearchLimits>() ?? SearchLimits.Default,
        };
    }

    /// <summary>X-Relationship-Reason: why the user records a relationship with a patient their organisation had none with.</summary>
    private static string? RelationshipReason(HttpContext http)
    {
        var reason = http.Request.Headers["X-Relationship-Reason"].ToString().Trim();
        return reason.Length switch
        {
            0 => null,
            > 500 => throw FhirException.BadRequest("X-Relationship-Reason is longer than 500 characters."),
            _ => reason,
        };
    }

    /// <summary>
    /// The purpose of use asserted for this request: the <c>X-Purpose-Of-Use</c> header (a v3 ActReason code) with
    /// <c>X-Break-Glass-Reason</c>, or the token's <c>purpose_of_use</c> and <c>break_glass_reason</c> claims; treatment
    /// when neither says.
    /// </summary>
    private static AccessPurpose Purpose(HttpContext http, Principal principal)
    {
        var code = http.Request.Headers["X-Purpose-Of-Use"].ToString().Trim();
        var reason = http.Request.Headers["X-Break-Glass-Reason"].ToString().Trim();
        if (code.Length == 0)
        {
            code = principal.PurposeOfUse ?? AccessPurpose.Treatment;
            reason = reason.Length > 0 ? reason : principal.BreakGlassReason ?? string.Empty;
        }

        if (code is not (AccessPurpose.Treatment or AccessPurpose.EmergencyTreatment))
        {
            throw FhirException.BadRequest($"X-Purpose-Of-Use must be {AccessPurpose.Treatment} or {AccessPurpose.EmergencyTreatment} (HL7 v3 ActReason), not '{(code.Length > 20 ? code[..20] : code)}'.");
        }

        if (reason.Length > 500)
        {
            throw FhirException.BadRequest("X-Break-Glass-Reason is longer than 500 characters.");
        }

        return new AccessPurpose(code, reason.Length == 0 ? null : reason);
    }

    public static string BaseUrl(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}/fhir";

    public static int? IfMatch(HttpContext http) => RecordService.ParseETag(http.Request.Headers.IfMatch.ToString());

    /// <summary>The URL's parameters, refused past the search limits before anything looks at them.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> QueryParameters(HttpContext http) =>
        Limited(http, http.Request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? string.Empty))).ToList());

    /// <summary>POST _search (R4 http.html#search): form parameters, plus any in the URL.</summary>
    public static async Task<IReadOnlyList<KeyValuePair<string, string>>> SearchParametersAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType)
        {
            throw new UnsupportedMediaTypeException("POST _search takes application/x-www-form-urlencoded parameters.");
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var fromUrl = http.Request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? string.Empty)));
        return Limited(http, fromUrl.Concat(form.SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? string.Empty)))).ToList());
    }

    private static List<KeyValuePair<string, string>> Limited(HttpContext http, List<KeyValuePair<string, string>> parameters)
    {
        SearchRequest.CheckLimits(parameters, http.RequestServices.GetService<SearchLimits>() ?? SearchLimits.Default);
        return parameters;
    }

    /// <summary>Writes one resource result with its headers (ETag, Last-Modified, Location), honouring Prefer: return.</summary>
    public static async Task WriteResultAsync(HttpContext http, RecordResult result, bool location)
    {
        var response = http.Response;
        response.StatusCode = (int)result.Status;
        if (result.Version > 0 && result.Status != HttpStatusCode.NoContent)
        {
            response.Headers.ETag = result.ETag;
            response.Headers.LastModified = result.LastUpdated.ToString("R");
            if (location)
            {
                response.Headers.Location = $"{BaseUrl(http)}/{result.VersionedReference}";
            }
        }

        var context = Context(http);
        if (result.Status == HttpStatusCode.NoContent)
        {
            if (context.Return == ReturnPreference.OperationOutcome && result.Outcome is not null)
            {
                response.StatusCode = 200;
                await WriteAsync(http, result.Outcome);
            }

            return;
        }

        switch (context.Return)
        {
            case ReturnPreference.Minimal:
                return;
            case ReturnPreference.OperationOutcome:
                await WriteAsync(http, result.Outcome ?? OperationOutcomes.Information($"{result.Type}/{result.Id} is at version {FhirIds.FormatVersion(result.Version)}."));
                return;
            default:
                if (result.Json is null)
                {
                    return;
                }

                if (ResponseFormat(http) == FhirFormat.Json)
                {
                    response.ContentType = JsonType + "; charset=utf-8";
                    await response.WriteAsync(result.Json, ClientGone(http));
                }
                else
                {
                    await WriteAsync(http, result.ToResource()!);
                }

                return;
        }
    }

    public static async Task WriteAsync(HttpContext http, Base resource, FhirFormat? format = null)
    {
        var chosen = format ?? SafeResponseFormat(http);
        http.Response.ContentType = (chosen == FhirFormat.Json ? JsonType : XmlType) + "; charset=utf-8";
        await http.Response.WriteAsync(FhirSerialization.Serialize(resource, chosen), ClientGone(http));
    }

    /// <summary>The response format for errors: a bad _format must still get an answer.</summary>
    public static FhirFormat SafeResponseFormat(HttpContext http)
    {
        try
        {
            return ResponseFormat(http);
        }
        catch (FhirException)
        {
            return FhirFormat.Json;
        }
    }

    public static bool NotModified(HttpContext http, RecordResult result)
    {
        var ifNoneMatch = http.Request.Headers.IfNoneMatch;
        if (!StringValues.IsNullOrEmpty(ifNoneMatch))
        {
            return ifNoneMatch.Any(v => v is not null && v.Split(',').Any(tag => RecordService.ParseETagOrNull(tag) == result.Version || tag.Trim() == "*"));
        }

        var ifModifiedSince = http.Request.GetTypedHeaders().IfModifiedSince;
        return ifModifiedSince is { } since && result.LastUpdated.ToUnixTimeSeconds() <= since.ToUnixTimeSeconds();
    }
}
