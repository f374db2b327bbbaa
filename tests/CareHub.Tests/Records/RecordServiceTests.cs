using System.Net;
using CareHub.Fhir;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Records;

/// <summary>Behaviour of the one door that the HTTP tests do not reach easily: the change feed, batches, processing order.</summary>
public sealed class RecordServiceTests : IAsyncLifetime
{
    private RecordsFixture fixture = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => fixture = await RecordsFixture.CreateAsync();

    public async ValueTask DisposeAsync() => await fixture.DisposeAsync();

    private static Patient NewPatient(string value) => new()
    {
        Identifier = [new Identifier("urn:test", value)],
        Gender = AdministrativeGender.Unknown,
    };

    [Fact]
    public async Task the_change_feed_lists_committed_writes_in_order_from_a_position()
    {
        var context = RecordsFixture.System();
        var start = (await fixture.Store.ReadChangesAsync(0, 10_000, Ct)).LastOrDefault()?.Position ?? 0;
        var created = await fixture.Records.CreateAsync(context, NewPatient("feed-1"), null, Ct);
        var resource = created.ToResource()!;
        ((Patient)resource).Gender = AdministrativeGender.Female;
        await fixture.Records.UpdateAsync(context, "Patient", created.Id, resource, null, Ct);
        await fixture.Records.DeleteAsync(context, "Patient", created.Id, null, Ct);

        var changes = await fixture.Store.ReadChangesAsync(start, 100, Ct);
        Assert.Equal(["POST", "PUT", "DELETE"], changes.Select(c => c.Method));
        Assert.All(changes, c => Assert.Equal(created.Id, c.Id));
        Assert.Equal([1, 2, 3], changes.Select(c => c.Version));
        Assert.True(changes.Zip(changes.Skip(1)).All(p => p.First.Position < p.Second.Position));

        // Reading from the middle gives the rest; reads and audit events add nothing to the feed.
        await fixture.Records.ReadAsync(context, "Patient", created.Id, 1, Ct);
        await fixture.Audit.FlushAsync(Ct);
        var rest = await fixture.Store.ReadChangesAsync(changes[0].Position, 100, Ct);
        Assert.Equal(["PUT", "DELETE"], rest.Select(c => c.Method));
    }

    [Fact]
    public async Task a_failed_transaction_leaves_nothing_in_the_record_or_the_feed()
    {
        var context = RecordsFixture.System();
        var before = (await fixture.Store.ReadChangesAsync(0, 100_000, Ct)).Count;
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "urn:uuid:a0000000-0000-0000-0000-000000000001", Resource = NewPatient("tx-1"), Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Patient/x1" }, Resource = new Patient { Id = "x1" } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Patient/x2", IfMatch = "W/\"7\"" }, Resource = new Patient { Id = "x2" } });

        var error = await Assert.ThrowsAnyAsync<FhirException>(() => fixture.Records.ProcessBundleAsync(context, bundle, Ct));
        Assert.Equal(HttpStatusCode.PreconditionFailed, FhirStatus.Of(error));
        Assert.Contains("Bundle.entry[2]", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, (await fixture.Store.ReadChangesAsync(0, 100_000, Ct)).Count);
        Assert.Null(await fixture.Store.ReadAsync("Patient", "x1", null, Ct));
    }

    [Fact]
    public async Task a_transaction_deletes_before_it_creates_and_reads_last()
    {
        var context = RecordsFixture.System() with { Return = ReturnPreference.Representation };
        await fixture.Records.UpdateAsync(context, "Patient", "order-old", new Patient { Id = "order-old" }, null, Ct);
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = "Patient/order-new" } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Patient/order-new" }, Resource = new Patient { Id = "order-new" } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.DELETE, Url = "Patient/order-old" } });

        var response = await fixture.Records.ProcessBundleAsync(context, bundle, Ct);
        // The GET came first in the bundle but is processed last, so it sees the PUT.
        Assert.Equal("200 OK", response.Entry[0].Response!.Status);
        Assert.Equal("order-new", response.Entry[0].Resource!.Id);
        Assert.Equal("201 Created", response.Entry[1].Response!.Status);
        Assert.Equal("204 No Content", response.Entry[2].Response!.Status);
    }

    [Fact]
    public async Task a_batch_answers_each_entry_on_its_own()
    {
        var context = RecordsFixture.System();
        var bundle = new Bundle { Type = Bundle.BundleType.Batch };
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" }, Resource = NewPatient("batch-1") });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = "Patient/no-such-patient" } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" }, Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept { Text = "x" }, Subject = new ResourceReference("urn:uuid:b0000000-0000-0000-0000-000000000001") } });
        bundle.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" }, Resource = NewPatient("batch-2") });

        var response = await fixture.Records.ProcessBundleAsync(context, bundle, Ct);
        Assert.Equal(Bundle.BundleType.BatchResponse, response.Type);
        Assert.Equal(["201 Created", "404 Not Found", "400 Bad Request", "201 Created"], response.Entry.Select(e => e.Response!.Status));
        Assert.IsType<OperationOutcome>(response.Entry[2].Response!.Outcome);
    }

    [Fact]
    public async Task history_since_and_system_history_exclude_audit_events()
    {
        var context = RecordsFixture.System();
        var first = await fixture.Records.CreateAsync(context, NewPatient("hist-1"), null, Ct);
        var later = first.LastUpdated.AddMilliseconds(1);
        await Task.Delay(5, Ct);
        await fixture.Records.CreateAsync(context, NewPatient("hist-2"), null, Ct);
        var since = await fixture.Records.HistoryAsync(context, "Patient", null, [new("_since", later.ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture))], Ct);
        Assert.Single(since.Entry);
        var system = await fixture.Records.HistoryAsync(context, null, null, [new("_count", "1000")], Ct);
        Assert.DoesNotContain(system.Entry, e => e.Resource is AuditEvent);
        Assert.True(system.Entry.Count >= 2);
    }

    [Fact]
    public async Task a_write_is_denied_without_the_scope_and_the_denial_is_audited()
    {
        var reader = RecordsFixture.System("system/Patient.rs");
        var error = await Assert.ThrowsAnyAsync<FhirException>(() => fixture.Records.CreateAsync(reader, NewPatient("denied"), null, Ct));
        Assert.Equal(HttpStatusCode.Forbidden, FhirStatus.Of(error));
        await fixture.Audit.FlushAsync(Ct);
        var audits = await fixture.Store.SearchAsync(new CareHub.Storage.StoreQuery("AuditEvent", [], 1000, CountTotal: false) { Scope = CareHub.Storage.QueryScope.Internal("test") }, Ct);
        Assert.Contains(audits.Resources, a => a.Json!.Contains("\"outcome\":\"4\"", StringComparison.Ordinal) && a.Json.Contains(reader.CorrelationId, StringComparison.Ordinal));
    }
}
