using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Server.Fhir;
using Microsoft.Extensions.Logging.Abstractions;

namespace CareHub.Server.Tests.Fhir;

/// <summary>$reindex run the FHIR asynchronous way (R4 async.html), and custom SearchParameters taking effect through it.</summary>
public sealed class ReindexApiTests(SqliteServerFixture server) : IClassFixture<SqliteServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? prefer = null, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, url.StartsWith("http", StringComparison.Ordinal) ? url : server.FhirUrl + url);
        if (prefer is not null)
        {
            request.Headers.TryAddWithoutValidation("Prefer", prefer);
        }

        var response = await (client ?? server.Client).SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    private async Task PutAsync(string type, string id, string json)
    {
        using var response = await server.Client.PutAsync($"{server.FhirUrl}/{type}/{id}", ServerFixture.Json(json), Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    private static string? Parameter(JsonElement parameters, string name) =>
        parameters.GetProperty("parameter").EnumerateArray().Where(p => p.GetProperty("name").GetString() == name)
            .Select(p => p.EnumerateObject().First(o => o.Name.StartsWith("value", StringComparison.Ordinal)).Value.ToString()).FirstOrDefault();

    /// <summary>Starts a reindex (retrying while another test's job runs) and polls its status until it has finished.</summary>
    private async Task<JsonElement> ReindexAsync()
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        Uri? status = null;
        while (status is null)
        {
            var (code, body, response) = await SendAsync(HttpMethod.Post, "/$reindex");
            if (code == HttpStatusCode.Accepted)
            {
                status = response.Content.Headers.ContentLocation;
                Assert.NotNull(status);
                break;
            }

            Assert.Equal(HttpStatusCode.Conflict, code);
            Assert.True(DateTime.UtcNow < deadline, body.ToString());
            await Task.Delay(50, Ct);
        }

        while (true)
        {
            var (code, body, response) = await SendAsync(HttpMethod.Get, status.ToString());
            if (code == HttpStatusCode.OK)
            {
                return body;
            }

            Assert.Equal(HttpStatusCode.Accepted, code);
            Assert.Contains("resources reindexed", Assert.Single(response.Headers.GetValues("X-Progress")), StringComparison.Ordinal);
            Assert.True(DateTime.UtcNow < deadline, "the reindex did not finish within two minutes");
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task a_custom_search_parameter_created_through_the_api_is_searchable_after_reindex()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var code = "colour" + suffix;
        await PutAsync("Patient", $"colour-{suffix}", $$"""
            {"resourceType":"Patient","id":"colour-{{suffix}}","extension":[{"url":"http://example.org/colour-{{suffix}}","valueString":"Teal"}]}
            """);
        await PutAsync("SearchParameter", $"sp-{suffix}", $$"""
            {"resourceType":"SearchParameter","id":"sp-{{suffix}}","url":"http://example.org/SearchParameter/{{code}}","name":"Colour","status":"active",
             "description":"Favourite colour","code":"{{code}}","base":["Patient"],"type":"string",
             "expression":"Patient.extension.where(url = 'http://example.org/colour-{{suffix}}').value"}
            """);

        // Before a reindex the parameter is not in effect: strict handling refuses it.
        var (before, _, _) = await SendAsync(HttpMethod.Get, $"/Patient?{code}=tea", prefer: "handling=strict");
        Assert.Equal(HttpStatusCode.BadRequest, before);

        var status = await ReindexAsync();
        Assert.Equal("completed", Parameter(status, "state"));
        Assert.True(long.Parse(Parameter(status, "done")!, System.Globalization.CultureInfo.InvariantCulture) >= 2);

        var (after, bundle, _) = await SendAsync(HttpMethod.Get, $"/Patient?{code}=tea", prefer: "handling=strict");
        Assert.Equal(HttpStatusCode.OK, after);
        var ids = bundle.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList();
        Assert.Equal([$"colour-{suffix}"], ids);

        // A resource written after the reindex is indexed for it at once.
        await PutAsync("Patient", $"colour2-{suffix}", $$"""
            {"resourceType":"Patient","id":"colour2-{{suffix}}","extension":[{"url":"http://example.org/colour-{{suffix}}","valueString":"Teal blue"}]}
            """);
        var (_, again, _) = await SendAsync(HttpMethod.Get, $"/Patient?{code}:exact=Teal blue");
        Assert.Equal($"colour2-{suffix}", again.GetProperty("entry")[0].GetProperty("resource").GetProperty("id").GetString());

        // The CapabilityStatement lists it.
        var (_, metadata, _) = await SendAsync(HttpMethod.Get, "/metadata");
        var patient = metadata.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().First(r => r.GetProperty("type").GetString() == "Patient");
        Assert.Contains(patient.GetProperty("searchParam").EnumerateArray(), p => p.GetProperty("name").GetString() == code);
    }

    [Fact]
    public async Task reindex_needs_an_administrative_token()
    {
        using var reader = new HttpClient();
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await server.TokenAsync("reader", "reader-secret"));
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/$reindex", client: reader);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task an_unknown_status_id_is_404()
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, "/$reindex-status/no-such-job");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
    }

    [Fact]
    public async Task a_second_job_while_one_runs_is_refused_with_409_and_progress_is_reported()
    {
        var release = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<ReindexProgress>? report = null;
        var calls = 0;
        var jobs = new ReindexJobs(async (progress, cancellationToken) =>
        {
            if (++calls > 1)
            {
                // Later jobs run until cancelled.
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            report = progress;
            progress?.Invoke(new ReindexProgress(3, 10));
            return await release.Task.WaitAsync(cancellationToken);
        }, TimeProvider.System, NullLogger.Instance, CancellationToken.None);

        var job = jobs.Start();
        var conflict = Assert.ThrowsAny<FhirException>(() => jobs.Start());
        Assert.Equal(HttpStatusCode.Conflict, FhirStatus.Of(conflict));

        await Poll(() => job.Snapshot().Done == 3);
        Assert.Equal((ReindexState.Running, 3L, 10L), (job.Snapshot().State, job.Snapshot().Done, job.Snapshot().Total));

        report!(new ReindexProgress(10, 10));
        release.SetResult(10);
        await Poll(() => job.Snapshot().State == ReindexState.Completed);
        Assert.NotNull(job.Snapshot().Finished);

        // Once it has finished, another may start.
        var next = jobs.Start();
        Assert.NotEqual(job.Id, next.Id);
        Assert.True(jobs.Cancel(next.Id));
        await Poll(() => next.Snapshot().State == ReindexState.Cancelled);
    }

    private static async Task Poll(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 seconds");
            await Task.Delay(10, Ct);
        }
    }
}
