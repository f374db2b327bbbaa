using CareHub.Fhir;
using CareHub.Identity;
using CareHub.Identity.Matching;
using CareHub.Records;
using CareHub.Records.Feed;
using CareHub.Server.Fhir;
using CareHub.Server.Security;
using Hl7.Fhir.Model;

namespace CareHub.Server.Identity;

/// <summary>
/// The master person index on the FHIR API: <c>Patient/$match</c> (FHIR R4), <c>Patient/$ihe-pix</c> (IHE PIXm ITI-83),
/// <c>Patient/$merge</c>, and the administration operations <c>Patient/$mpi-link</c>, <c>Patient/$mpi-unlink</c>,
/// <c>Task/$mpi-reviews</c>, <c>Task/[id]/$mpi-accept</c>, <c>Task/[id]/$mpi-reject</c> and <c>Patient/$mpi-status</c>. They live under /fhir so the
/// same authentication, error mapping and audit apply.
/// </summary>
public static class MpiApi
{
    /// <summary>
    /// Registers the MPI: options from <c>CareHub:Mpi</c> (validated now), the matcher, the write hook, the operations and
    /// the linked records for $everything. With queued matching the matcher is a change-feed consumer, run by the server's reader.
    /// </summary>
    public static IServiceCollection AddMpi(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(MpiOptions.SectionName).Get<MpiOptions>() ?? new MpiOptions();
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(new PersonMatcher(options.ToMatchSettings()));
        services.AddSingleton<MpiWriteHook>();
        services.AddSingleton<IWriteHook>(sp => sp.GetRequiredService<MpiWriteHook>());
        services.AddSingleton<MasterPersonIndex>();
        services.AddSingleton<QueuedMatcher>();
        if (options.Enabled && options.Matching == MpiMatching.Queued)
        {
            // Run by the change-feed reader; every queued Patient write counts towards waking it for a full batch.
            services.AddSingleton<IChangeFeedConsumer>(sp =>
            {
                var matcher = sp.GetRequiredService<QueuedMatcher>();
                sp.GetRequiredService<MpiWriteHook>().Queued = matcher.Wake;
                return matcher;
            });
        }

        services.AddSingleton<IPatientLinks, MpiPatientLinks>();
        services.AddSingleton<IReadView, PersonView>();
        return services;
    }

    public static IEndpointRouteBuilder MapMpiApi(this IEndpointRouteBuilder endpoints)
    {
        var fhir = endpoints.MapGroup("/fhir").RequireAuthorization(Permissions.Fhir);
        fhir.MapPost("/Patient/$match", Match);
        fhir.MapGet("/Patient/$ihe-pix", CrossReference);
        // Changing who a record belongs to is administration (the door checks a system's scopes as well).
        var admin = fhir.MapGroup("").RequireAuthorization(Permissions.MpiAdmin);
        admin.MapPost("/Patient/$merge", Merge);
        admin.MapPost("/Patient/$mpi-link", Link);
        admin.MapPost("/Patient/$mpi-unlink", Unlink);
        admin.MapGet("/Patient/$mpi-status", Status);
        fhir.MapGet("/Task/$mpi-reviews", Reviews);
        fhir.MapPost("/Task/{id}/$mpi-accept", Accept);
        fhir.MapPost("/Task/{id}/$mpi-reject", Reject);
        return endpoints;
    }

    private static async Task Match(HttpContext http, MasterPersonIndex mpi, ServerLimits limits)
    {
        var parameters = await ParametersAsync(http, limits);
        await FhirHttp.WriteAsync(http, await mpi.MatchAsync(FhirHttp.Context(http), parameters, http.RequestAborted));
    }

    private static async Task CrossReference(HttpContext http, MasterPersonIndex mpi)
    {
        var query = http.Request.Query;
        var targets = query["targetSystem"].SelectMany(v => (v ?? string.Empty).Split(',')).Where(v => v.Length > 0).ToList();
        var result = await mpi.CrossReferenceAsync(FhirHttp.Context(http), query["sourceIdentifier"].FirstOrDefault(), targets, http.RequestAborted);
        await FhirHttp.WriteAsync(http, result);
    }

    private static async Task Merge(HttpContext http, MasterPersonIndex mpi, ServerLimits limits)
    {
        var parameters = await ParametersAsync(http, limits);
        // R5 Patient $merge names them source-patient and target-patient; source and target are accepted too.
        var source = PatientId(parameters, "source-patient", "source");
        var target = PatientId(parameters, "target-patient", "target");
        var survivor = await mpi.MergeAsync(FhirHttp.Context(http), source, target, http.RequestAborted);
        var result = new Parameters();
        result.Parameter.Add(new Parameters.ParameterComponent { Name = "outcome", Resource = OperationOutcomes.Information($"Patient/{source} was merged into Patient/{target}.") });
        result.Parameter.Add(new Parameters.ParameterComponent { Name = "result", Resource = survivor });
        await FhirHttp.WriteAsync(http, result);
    }

    private static async Task Link(HttpContext http, MasterPersonIndex mpi, ServerLimits limits)
    {
        var parameters = await ParametersAsync(http, limits);
        var person = await mpi.LinkAsync(FhirHttp.Context(http), PatientId(parameters, "source"), PatientId(parameters, "target"), http.RequestAborted);
        await FhirHttp.WriteAsync(http, person);
    }

    private static async Task Unlink(HttpContext http, MasterPersonIndex mpi, ServerLimits limits)
    {
        var parameters = await ParametersAsync(http, limits);
        var person = await mpi.UnlinkAsync(FhirHttp.Context(http), PatientId(parameters, "source"), PatientId(parameters, "target"), http.RequestAborted);
        await FhirHttp.WriteAsync(http, person);
    }

    private static async Task Status(HttpContext http, MasterPersonIndex mpi, QueuedMatcher queue) =>
        await FhirHttp.WriteAsync(http, await mpi.StatusAsync(FhirHttp.Context(http), queue, http.RequestAborted));

    private static async Task Reviews(HttpContext http, MasterPersonIndex mpi)
    {
        var text = http.Request.Query["_count"].FirstOrDefault();
        var count = 100;
        if (text is not null && !int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count))
        {
            throw FhirException.BadRequest("_count must be a positive integer.", "_count");
        }

        await FhirHttp.WriteAsync(http, await mpi.ReviewQueueAsync(FhirHttp.Context(http), count, http.RequestAborted));
    }

    private static async Task Accept(HttpContext http, MasterPersonIndex mpi, string id) =>
        await FhirHttp.WriteAsync(http, await mpi.AcceptAsync(FhirHttp.Context(http), id, http.RequestAborted));

    private static async Task Reject(HttpContext http, MasterPersonIndex mpi, string id) =>
        await FhirHttp.WriteAsync(http, await mpi.RejectAsync(FhirHttp.Context(http), id, http.RequestAborted));

    private static async Task<Parameters> ParametersAsync(HttpContext http, ServerLimits limits)
    {
        var resource = await FhirHttp.ReadResourceAsync(http, limits);
        return resource as Parameters
            ?? throw FhirException.BadRequest($"The body of this operation is a Parameters resource, not a {resource.TypeName}.", "resourceType");
    }

    /// <summary>A Patient id from a parameter holding a reference ("Patient/123"), a string or an id.</summary>
    private static string PatientId(Parameters parameters, params string[] names)
    {
        var parameter = parameters.Parameter.FirstOrDefault(p => names.Contains(p.Name, StringComparer.Ordinal))
            ?? throw FhirException.BadRequest($"The '{names[0]}' parameter (a reference to a Patient) is missing.", "Parameters.parameter");
        var text = parameter.Value switch
        {
            ResourceReference r => r.Reference,
            FhirString s => s.Value,
            Id i => i.Value,
            _ => null,
        };
        if (string.IsNullOrEmpty(text))
        {
            throw FhirException.BadRequest($"The '{parameter.Name}' parameter must be a reference to a Patient, such as Patient/123.", "Parameters.parameter");
        }

        var id = text.StartsWith("Patient/", StringComparison.Ordinal) ? text["Patient/".Length..] : text;
        if (!FhirIds.IsValidId(id))
        {
            throw FhirException.BadRequest($"The '{parameter.Name}' parameter must be a reference to a Patient, such as Patient/123.", "Parameters.parameter");
        }

        return id;
    }
}
