using System.Globalization;
using System.Net;
using System.Text;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Records;
using CareHub.Records.Patch;
using Hl7.Fhir.Model;

namespace CareHub.Server.Fhir;

/// <summary>The FHIR R4 RESTful API (http.html) at /fhir: every interaction goes to the one door, <see cref="RecordService"/>.</summary>
public static class FhirApi
{
    public static IEndpointRouteBuilder MapFhirApi(this IEndpointRouteBuilder endpoints)
    {
        var fhir = endpoints.MapGroup("/fhir").RequireAuthorization(Security.Permissions.Fhir);
        fhir.MapGet("/metadata", Metadata).AllowAnonymous();
        fhir.MapPost("/", Bundle);
        fhir.MapGet("/", SystemSearch);
        fhir.MapPost("/_search", SystemSearchByPost);
        fhir.MapGet("/_history", (HttpContext http, RecordService records) => History(http, records, null, null));
        fhir.MapGet("/{type}", Search);
        fhir.MapPost("/{type}/_search", SearchByPost);
        fhir.MapPost("/{type}", Create);
        fhir.MapPut("/{type}", ConditionalUpdate);
        fhir.MapDelete("/{type}", ConditionalDelete);
        fhir.MapPatch("/{type}", ConditionalPatch);
        fhir.MapGet("/{type}/_history", (HttpContext http, RecordService records, string type) => History(http, records, type, null));
        fhir.MapGet("/{type}/{id}", Read);
        fhir.MapPut("/{type}/{id}", Update);
        fhir.MapDelete("/{type}/{id}", Delete);
        fhir.MapPatch("/{type}/{id}", Patch);
        fhir.MapGet("/{type}/{id}/_history", (HttpContext http, RecordService records, string type, string id) => History(http, records, type, id));
        fhir.MapGet("/{type}/{id}/_history/{vid}", VRead);
        fhir.MapGet("/Patient/{id}/$everything", Everything);
        fhir.MapGet("/{compartment}/{id}/{type}", CompartmentSearch);
        fhir.MapReindexApi();
        return endpoints;
    }

    private static Task Metadata(HttpContext http, CapabilityStatementFactory capability) =>
        FhirHttp.WriteAsync(http, capability.Build(FhirHttp.BaseUrl(http)));

    private static async Task Read(HttpContext http, RecordService records, string type, string id)
    {
        var result = await records.ReadAsync(FhirHttp.Context(http), type, id, null, http.RequestAborted);
        if (FhirHttp.NotModified(http, result))
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            http.Response.Headers.ETag = result.ETag;
            return;
        }

        await FhirHttp.WriteResultAsync(http, result, location: false);
    }

    private static async Task VRead(HttpContext http, RecordService records, string type, string id, string vid)
    {
        if (!int.TryParse(vid, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw FhirException.NotFound($"'{vid}' is not a version of {type}/{id}.");
        }

        await FhirHttp.WriteResultAsync(http, await records.ReadAsync(FhirHttp.Context(http), type, id, version, http.RequestAborted), location: false);
    }

    private static async Task Create(HttpContext http, RecordService records, ServerLimits limits, string type)
    {
        RecordService.EnsureWritableType(type);
        records.AuthorizeType(FhirHttp.Context(http), FhirInteraction.Create, type, "create", AuditEvent.AuditEventAction.C);
        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        if (resource.TypeName != type)
        {
            throw FhirException.BadRequest($"The body is a {resource.TypeName} but the URL is for {type}.", "resourceType");
        }

        var ifNoneExist = http.Request.Headers["If-None-Exist"].ToString();
        var result = await records.CreateAsync(FhirHttp.Context(http), resource, ifNoneExist.Length == 0 ? null : ifNoneExist, http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: true);
    }

    private static async Task Update(HttpContext http, RecordService records, ServerLimits limits, string type, string id)
    {
        RecordService.EnsureWritableType(type);
        records.AuthorizeType(FhirHttp.Context(http), FhirInteraction.Update, type, "update", AuditEvent.AuditEventAction.U);
        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        var result = await records.UpdateAsync(FhirHttp.Context(http), type, id, resource, FhirHttp.IfMatch(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: result.Status == HttpStatusCode.Created);
    }

    private static async Task ConditionalUpdate(HttpContext http, RecordService records, ServerLimits limits, string type)
    {
        RecordService.EnsureWritableType(type);
        records.AuthorizeType(FhirHttp.Context(http), FhirInteraction.Update, type, "update", AuditEvent.AuditEventAction.U);
        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        var result = await records.ConditionalUpdateAsync(FhirHttp.Context(http), type, Criteria(http), resource, FhirHttp.IfMatch(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: true);
    }

    private static async Task Delete(HttpContext http, RecordService records, string type, string id)
    {
        var result = await records.DeleteAsync(FhirHttp.Context(http), type, id, FhirHttp.IfMatch(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: false);
    }

    private static async Task ConditionalDelete(HttpContext http, RecordService records, string type)
    {
        var result = await records.ConditionalDeleteAsync(FhirHttp.Context(http), type, Criteria(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: false);
    }

    private static async Task Patch(HttpContext http, RecordService records, ServerLimits limits, string type, string id)
    {
        RecordService.EnsureWritableType(type);
        records.AuthorizeType(FhirHttp.Context(http), FhirInteraction.Update, type, "patch", AuditEvent.AuditEventAction.U);
        var apply = await ReadPatchAsync(http, limits);
        var result = await records.PatchAsync(FhirHttp.Context(http), type, id, apply, FhirHttp.IfMatch(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: false);
    }

    private static async Task ConditionalPatch(HttpContext http, RecordService records, ServerLimits limits, string type)
    {
        RecordService.EnsureWritableType(type);
        records.AuthorizeType(FhirHttp.Context(http), FhirInteraction.Update, type, "patch", AuditEvent.AuditEventAction.U);
        var apply = await ReadPatchAsync(http, limits);
        var result = await records.ConditionalPatchAsync(FhirHttp.Context(http), type, Criteria(http), apply, FhirHttp.IfMatch(http), http.RequestAborted);
        await FhirHttp.WriteResultAsync(http, result, location: false);
    }

    /// <summary>JSON Patch (application/json-patch+json) or FHIRPath Patch (a Parameters resource), R4 http.html#patch.</summary>
    private static async Task<Func<Resource, Resource>> ReadPatchAsync(HttpContext http, ServerLimits limits)
    {
        var media = (http.Request.ContentType ?? string.Empty).Split(';')[0].Trim().ToLowerInvariant();
        if (media == "application/json-patch+json")
        {
            var patch = FhirInputCheck.CheckJsonPatch((await FhirHttp.ReadBodyBytesAsync(http, limits.MaxBodyBytes)).Span, limits.MaxNestingDepth);
            return current => JsonPatch.Apply(current, patch);
        }

        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        return PatchFrom(resource);
    }

    /// <summary>The patch a Bundle entry carries: Parameters (FHIRPath Patch) or Binary holding a JSON Patch.</summary>
    public static Func<Resource, Resource> PatchFrom(Resource body) => body switch
    {
        Parameters parameters => current => FhirPathPatch.Apply(current, parameters),
        Binary { ContentType: "application/json-patch+json" } binary when binary.Data is not null =>
            current => JsonPatch.Apply(current, Encoding.UTF8.GetString(binary.Data)),
        _ => throw new UnsupportedMediaTypeException(
            "A patch is a JSON Patch document (application/json-patch+json) or a FHIRPath Patch Parameters resource."),
    };

    private static async Task Search(HttpContext http, RecordService records, string type)
    {
        var bundle = await records.SearchAsync(FhirHttp.Context(http), type, FhirHttp.QueryParameters(http), http.RequestAborted);
        await FhirHttp.WriteAsync(http, bundle);
    }

    private static async Task SearchByPost(HttpContext http, RecordService records, string type) =>
        await FhirHttp.WriteAsync(http, await records.SearchAsync(FhirHttp.Context(http), type, await FhirHttp.SearchParametersAsync(http), http.RequestAborted));

    private static async Task SystemSearch(HttpContext http, RecordService records) =>
        await FhirHttp.WriteAsync(http, await records.SearchSystemAsync(FhirHttp.Context(http), FhirHttp.QueryParameters(http), http.RequestAborted));

    private static async Task SystemSearchByPost(HttpContext http, RecordService records) =>
        await FhirHttp.WriteAsync(http, await records.SearchSystemAsync(FhirHttp.Context(http), await FhirHttp.SearchParametersAsync(http), http.RequestAborted));

    private static async Task CompartmentSearch(HttpContext http, RecordService records, string compartment, string id, string type) =>
        await FhirHttp.WriteAsync(http, await records.SearchCompartmentAsync(FhirHttp.Context(http), compartment, id, type == "*" ? null : type, FhirHttp.QueryParameters(http), http.RequestAborted));

    private static async Task Everything(HttpContext http, RecordService records, string id) =>
        await FhirHttp.WriteAsync(http, await records.EverythingAsync(FhirHttp.Context(http), id, FhirHttp.QueryParameters(http), http.RequestAborted));

    private static async Task History(HttpContext http, RecordService records, string? type, string? id)
    {
        var bundle = await records.HistoryAsync(FhirHttp.Context(http), type, id, FhirHttp.QueryParameters(http), http.RequestAborted);
        await FhirHttp.WriteAsync(http, bundle);
    }

    private static async Task Bundle(HttpContext http, RecordService records, ServerLimits limits)
    {
        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        if (resource is not Hl7.Fhir.Model.Bundle bundle)
        {
            throw FhirException.BadRequest($"Only a batch or transaction Bundle can be posted to the base URL, not a {resource.TypeName}.", "resourceType");
        }

        var response = await records.ProcessBundleAsync(FhirHttp.Context(http), bundle, http.RequestAborted);
        await FhirHttp.WriteAsync(http, response);
    }

    private static string Criteria(HttpContext http)
    {
        var query = http.Request.QueryString.Value ?? string.Empty;
        var parameters = Records.QueryString.Parse(query).Where(p => p.Key is not ("_format" or "_pretty")).ToList();
        if (parameters.Count == 0)
        {
            throw new PreconditionFailedException("A conditional interaction needs search criteria in the URL.", OperationOutcome.IssueType.Required);
        }

        return string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
    }
}

/// <summary>Limits on what a client may send: body size in bytes and nesting depth of a resource body.</summary>
public sealed record ServerLimits(long MaxBodyBytes, int MaxNestingDepth = FhirInputCheck.DefaultMaxDepth);
