using CareHub.Fhir;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Server.Fhir;

/// <summary>
/// The $reindex operation, run the FHIR asynchronous way (R4 async.html): <c>POST [base]/$reindex</c> starts a
/// background rebuild of the search index (which also brings stored SearchParameter resources into effect) and answers
/// 202 Accepted with Content-Location pointing at <c>[base]/$reindex-status/{id}</c>. Polling that answers 202 with
/// X-Progress while the job runs and 200 when it has finished, with a Parameters body saying how far it got; DELETE on
/// it cancels the job. One job runs at a time: a second request while one runs gets 409. It needs a system token with
/// <c>system/*.cruds</c> or the scope <c>carehub.admin</c> (<see cref="Security.Permissions.Admin"/>). Jobs are kept in memory on the node that runs them.
/// </summary>
public static partial class ReindexApi
{
    public static IEndpointRouteBuilder MapReindexApi(this IEndpointRouteBuilder fhir)
    {
        var services = fhir.ServiceProvider;
        var records = services.GetRequiredService<RecordService>();
        var jobs = new ReindexJobs(
            records.ReindexAsync,
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger("CareHub.Reindex"),
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        var admin = fhir.MapGroup("").RequireAuthorization(Security.Permissions.Admin);
        admin.MapPost("/$reindex", (HttpContext http) => Start(http, jobs));
        admin.MapGet("/$reindex-status/{id}", (HttpContext http, string id) => Status(http, jobs, id));
        admin.MapDelete("/$reindex-status/{id}", (HttpContext http, string id) => Cancel(http, jobs, id));
        return fhir;
    }

    private static async Task Start(HttpContext http, ReindexJobs jobs)
    {
        var job = jobs.Start();
        var status = $"{FhirHttp.BaseUrl(http)}/$reindex-status/{job.Id}";
        http.Response.StatusCode = StatusCodes.Status202Accepted;
        http.Response.Headers.ContentLocation = status;
        await FhirHttp.WriteAsync(http, new OperationOutcome
        {
            Issue = [new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Information,
                Code = OperationOutcome.IssueType.Informational,
                Diagnostics = $"The reindex has started; poll {status} for its progress.",
            }],
        });
    }

    private static async Task Status(HttpContext http, ReindexJobs jobs, string id)
    {
        var job = jobs.Find(id) ?? throw FhirException.NotFound($"There is no reindex job '{id}'.");
        var snapshot = job.Snapshot();
        if (snapshot.State == ReindexState.Failed)
        {
            // async.html: a request that failed answers with an error status and an OperationOutcome.
            throw new InternalErrorException(
                $"The reindex failed after {snapshot.Done} of {snapshot.Total} resources; the server log has the details.");
        }

        if (snapshot.State == ReindexState.Running)
        {
            http.Response.StatusCode = StatusCodes.Status202Accepted;
            http.Response.Headers["X-Progress"] = $"{snapshot.Done} of {snapshot.Total} resources reindexed";
            http.Response.Headers.RetryAfter = "1";
        }

        await FhirHttp.WriteAsync(http, ToParameters(snapshot));
    }

    private static Task Cancel(HttpContext http, ReindexJobs jobs, string id)
    {
        if (!jobs.Cancel(id))
        {
            throw FhirException.NotFound($"There is no reindex job '{id}'.");
        }

        http.Response.StatusCode = StatusCodes.Status202Accepted;
        return Task.CompletedTask;
    }

    private static Parameters ToParameters(ReindexSnapshot snapshot)
    {
        var parameters = new Parameters();
        parameters.Add("id", new FhirString(snapshot.Id));
        parameters.Add("state", new Code(snapshot.State.ToString().ToLowerInvariant()));
        parameters.Add("done", new Integer64(snapshot.Done));
        parameters.Add("total", new Integer64(snapshot.Total));
        parameters.Add("started", new Instant(snapshot.Started));
        if (snapshot.Finished is { } finished)
        {
            parameters.Add("finished", new Instant(finished));
        }

        parameters.Add("searchParameters", new Integer(snapshot.CustomParameters));
        return parameters;
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Reindex {JobId} finished: {Done} resources in {Seconds:F1} s")]
    internal static partial void LogFinished(ILogger logger, string jobId, long done, double seconds);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Reindex {JobId} failed after {Done} resources")]
    internal static partial void LogFailed(ILogger logger, Exception exception, string jobId, long done);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Reindex {JobId} was cancelled after {Done} resources")]
    internal static partial void LogCancelled(ILogger logger, string jobId, long done);
}

public enum ReindexState
{
    Running,
    Completed,
    Cancelled,
    Failed,
}

/// <summary>What a status request reports about one job.</summary>
public sealed record ReindexSnapshot(string Id, ReindexState State, long Done, long Total, DateTimeOffset Started, DateTimeOffset? Finished, int CustomParameters);

/// <summary>The reindex jobs of this node: at most one running; finished ones are kept for their status until replaced.</summary>
/// <param name="reindex">The work of a job (<see cref="RecordService.ReindexAsync(Action{ReindexProgress}?, CancellationToken)"/>).</param>
public sealed class ReindexJobs(Func<Action<ReindexProgress>?, CancellationToken, Task<long>> reindex, TimeProvider clock, ILogger logger, CancellationToken stopping)
{
    private const int KeptJobs = 20;
    private readonly Lock gate = new();
    private readonly List<ReindexJob> jobs = [];
    private ReindexJob? running;

    /// <summary>Starts a job, or refuses with 409 while one runs.</summary>
    public ReindexJob Start()
    {
        ReindexJob job;
        lock (gate)
        {
            if (running is { } current)
            {
                throw new ResourceConflictException(
                    $"A reindex is already running ({current.Id}); wait for it to finish or cancel it.");
            }

            job = new ReindexJob(FhirIds.NewId(), clock.GetUtcNow(), CancellationTokenSource.CreateLinkedTokenSource(stopping));
            running = job;
            jobs.Add(job);
            if (jobs.Count > KeptJobs)
            {
                jobs.RemoveAt(0);
            }
        }

        // The request that started it must not own it: it runs on the thread pool until done, cancelled or the host stops.
        _ = Task.Run(() => RunAsync(job), CancellationToken.None);
        return job;
    }

    public ReindexJob? Find(string id)
    {
        lock (gate)
        {
            return jobs.FirstOrDefault(j => j.Id == id);
        }
    }

    /// <summary>Cancels a running job (a finished one is forgotten); false when there is no such job.</summary>
    public bool Cancel(string id)
    {
        lock (gate)
        {
            var job = jobs.FirstOrDefault(j => j.Id == id);
            if (job is null)
            {
                return false;
            }

            job.Cancellation.Cancel();
            if (job != running)
            {
                jobs.Remove(job);
            }

            return true;
        }
    }

    private async Task RunAsync(ReindexJob job)
    {
        try
        {
            var done = await reindex(job.Report, job.Cancellation.Token);
            job.Finish(ReindexState.Completed, clock.GetUtcNow(), CareHub.Search.SearchParameterCatalog.Custom.Count);
            ReindexApi.LogFinished(logger, job.Id, done, (clock.GetUtcNow() - job.Started).TotalSeconds);
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            job.Finish(ReindexState.Cancelled, clock.GetUtcNow(), CareHub.Search.SearchParameterCatalog.Custom.Count);
            ReindexApi.LogCancelled(logger, job.Id, job.Snapshot().Done);
        }
        catch (Exception e)
        {
            // A background job has no caller to throw to: the failure is logged and reported by its status.
            job.Finish(ReindexState.Failed, clock.GetUtcNow(), CareHub.Search.SearchParameterCatalog.Custom.Count);
            ReindexApi.LogFailed(logger, e, job.Id, job.Snapshot().Done);
        }
        finally
        {
            lock (gate)
            {
                running = null;
            }

            job.Cancellation.Dispose();
        }
    }
}

/// <summary>One reindex job; its progress is written by the job and read by status requests.</summary>
public sealed class ReindexJob(string id, DateTimeOffset started, CancellationTokenSource cancellation)
{
    private readonly Lock gate = new();
    private ReindexState state = ReindexState.Running;
    private long done;
    private long total;
    private DateTimeOffset? finished;
    private int customParameters;

    public string Id { get; } = id;

    public DateTimeOffset Started { get; } = started;

    internal CancellationTokenSource Cancellation { get; } = cancellation;

    internal void Report(ReindexProgress progress)
    {
        lock (gate)
        {
            done = progress.Done;
            total = progress.Total;
        }
    }

    internal void Finish(ReindexState final, DateTimeOffset at, int parameters)
    {
        lock (gate)
        {
            state = final;
            finished = at;
            customParameters = parameters;
        }
    }

    public ReindexSnapshot Snapshot()
    {
        lock (gate)
        {
            return new ReindexSnapshot(Id, state, done, total, Started, finished, customParameters);
        }
    }
}
