using CareHub.Fhir;
using CareHub.Server.Fhir;
using CareHub.Server.Security;
using CareHub.Terminology;
using CareHub.Terminology.Snomed;
using Hl7.Fhir.Model;

namespace CareHub.Server.Terminology;

/// <summary>
/// The terminology operations on the FHIR API (R4 terminology-service.html): <c>CodeSystem/$lookup</c>,
/// <c>$subsumes</c> and <c>$validate-code</c>, <c>ValueSet/$expand</c> and <c>$validate-code</c> (type and instance
/// level), and <c>ConceptMap/$translate</c>, by GET (parameters in the URL) or POST (a Parameters resource). They live
/// under /fhir, so the same authentication, permission, error mapping and audit apply.
/// </summary>
public static class TerminologyApi
{
    /// <summary>
    /// Registers the terminology options (<c>CareHub:Terminology</c>, validated now), the SNOMED CT store beside the
    /// record's, the operations, and SNOMED CT for the search modifiers.
    /// </summary>
    public static IServiceCollection AddCareHubTerminology(this IServiceCollection services, IConfiguration configuration, StorageOptions storage)
    {
        var options = configuration.GetSection(TerminologyOptions.SectionName).Get<TerminologyOptions>() ?? new TerminologyOptions();
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(_ => OpenSnomed(storage));
        services.AddSingleton<TerminologyService>();
        services.AddSingleton<CareHub.Search.ISearchTerminology, SnomedSearchTerminology>();
        return services;
    }

    /// <summary>The SNOMED CT store: <c>terminology.db</c> in the data folder, or tables of its own in the record's PostgreSQL database.</summary>
    public static SnomedStore OpenSnomed(StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return storage.Postgres is { } connectionString
            ? new PostgresSnomedStore(connectionString, storage.PostgresSchema)
            : new SqliteSnomedStore(Path.Combine(storage.DataDirectory, SqliteSnomedStore.FileName));
    }

    public static IEndpointRouteBuilder MapTerminologyApi(this IEndpointRouteBuilder endpoints)
    {
        var fhir = endpoints.MapGroup("/fhir").RequireAuthorization(Permissions.Fhir);
        foreach (var method in new[] { "GET", "POST" })
        {
            fhir.MapMethods("/CodeSystem/$lookup", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.LookupAsync(FhirHttp.Context(http), p, http.RequestAborted)));
            fhir.MapMethods("/CodeSystem/$subsumes", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.SubsumesAsync(FhirHttp.Context(http), p, http.RequestAborted)));
            fhir.MapMethods("/CodeSystem/$validate-code", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.ValidateInCodeSystemAsync(FhirHttp.Context(http), p, http.RequestAborted)));
            fhir.MapMethods("/ValueSet/$expand", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.ExpandAsync(FhirHttp.Context(http), null, p, http.RequestAborted)));
            fhir.MapMethods("/ValueSet/{id}/$expand", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits, string id) =>
                RunAsync(http, limits, p => terminology.ExpandAsync(FhirHttp.Context(http), id, p, http.RequestAborted)));
            fhir.MapMethods("/ValueSet/$validate-code", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.ValidateInValueSetAsync(FhirHttp.Context(http), null, p, http.RequestAborted)));
            fhir.MapMethods("/ValueSet/{id}/$validate-code", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits, string id) =>
                RunAsync(http, limits, p => terminology.ValidateInValueSetAsync(FhirHttp.Context(http), id, p, http.RequestAborted)));
            fhir.MapMethods("/ConceptMap/$translate", [method], (HttpContext http, TerminologyService terminology, ServerLimits limits) =>
                RunAsync(http, limits, p => terminology.TranslateAsync(FhirHttp.Context(http), p, http.RequestAborted)));
        }

        return endpoints;
    }

    private static async System.Threading.Tasks.Task RunAsync<T>(HttpContext http, ServerLimits limits, Func<Parameters, Task<T>> operation)
        where T : Resource =>
        await FhirHttp.WriteAsync(http, await operation(await ParametersAsync(http, limits)));

    /// <summary>A POST's Parameters body, or a GET's URL parameters as strings (operations.html#request).</summary>
    private static async Task<Parameters> ParametersAsync(HttpContext http, ServerLimits limits)
    {
        if (HttpMethods.IsPost(http.Request.Method))
        {
            var resource = await FhirHttp.ReadResourceAsync(http, limits);
            return resource as Parameters
                ?? throw FhirException.BadRequest($"The body of this operation is a Parameters resource, not a {resource.TypeName}.", "resourceType");
        }

        var parameters = new Parameters();
        foreach (var (name, value) in FhirHttp.QueryParameters(http).Where(p => p.Key is not ("_format" or "_pretty")))
        {
            parameters.Add(name, new FhirString(value));
        }

        return parameters;
    }
}
