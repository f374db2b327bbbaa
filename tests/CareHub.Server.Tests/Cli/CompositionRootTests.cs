using System.Text.Json;
using CareHub.Governance;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Records;
using CareHub.Server.Cli;
using CareHub.Server.Tests.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CareHub.Server.Tests.Cli;

/// <summary>
/// The server and every command-line command are assembled by one composition root, so a command writes through the
/// same door, with the same write hooks, read views, patient links and access policy, as the server.
/// </summary>
public sealed class CompositionRootTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-root-" + Guid.NewGuid().ToString("N"));

    private string Data => Path.Combine(folder, "data");

    [Fact]
    public async Task a_command_gets_the_door_with_the_servers_write_hooks_read_views_patient_links_and_access_policy_but_no_background_work()
    {
        await using var server = CareHubHost.Build([], [new("CareHub:Storage:DataDirectory", Data), new("urls", "http://127.0.0.1:0"), .. ServeCommand.DemoSettings()]);
        await using var command = await LocalRecords.OpenAsync([new("CareHub:Storage:DataDirectory", Data)]);
        var served = server.Services.GetRequiredService<RecordService>();

        var hooks = served.WriteHooks.Select(h => h.GetType()).ToList();
        Assert.Contains(typeof(CareHub.Identity.MpiWriteHook), hooks);
        Assert.Equal(hooks, command.Records.WriteHooks.Select(h => h.GetType()));
        Assert.Equal(served.ReadViews.Select(v => v.GetType()), command.Records.ReadViews.Select(v => v.GetType()));
        Assert.NotNull(served.PatientLinks);
        Assert.Equal(served.PatientLinks.GetType(), command.Records.PatientLinks?.GetType());
        Assert.Equal(server.Services.GetRequiredService<IAccessPolicy>().GetType(), command.Services.GetRequiredService<IAccessPolicy>().GetType());

        // The server runs the broker's workers and listeners; a command must not start listeners beside it.
        Assert.NotEmpty(server.Services.GetServices<IHostedService>());
        Assert.Empty(command.Services.GetServices<IHostedService>());
    }

    [Fact]
    public async Task a_patient_loaded_by_import_is_linked_to_a_person_as_one_written_by_the_server_is()
    {
        Directory.CreateDirectory(Path.Combine(folder, "in"));
        var file = Path.Combine(folder, "in", "patient.json");
        await File.WriteAllTextAsync(file, """
            {"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990000018"}],"name":[{"family":"SYNTHETIC","given":["SAMPLE"]}],"birthDate":"1980-01-01"}
            """, Ct);

        var imported = await CarehubProcess.RunAsync(["import", "--data", Data, file]);
        Assert.True(imported.Code == 0, imported.Output);

        await using var local = await LocalRecords.OpenAsync([new("CareHub:Storage:DataDirectory", Data)]);
        var context = new RequestContext(ServeCommand.Loader("test"), "http://localhost/fhir", "test");
        var patients = await local.Records.SearchAsync(context, "Patient", [new("identifier", "https://fhir.nhs.uk/Id/nhs-number|9990000018")], Ct);
        var patient = Assert.Single(patients.Entry).Resource!.Id;
        var persons = await local.Records.SearchAsync(context, "Person", [new("link", "Patient/" + patient)], Ct);
        Assert.Single(persons.Entry, e => e.Resource is Hl7.Fhir.Model.Person);
    }

    [Fact]
    public async Task messages_reprocess_of_a_filtered_admission_leaves_its_patient_in_the_record_linked_to_a_person()
    {
        var sample = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "samples", "hl7v2", "ADT-A04-synthetic.hl7"), Ct);

        // First the channel takes results only, so the registration is stored as filtered and reaches no destination.
        await using (var first = await MessagingServer.StartAsync(
            MessagingServer.InboundChannel(transformer: "v2-to-fhir", extra: [("Filters:MessageTypes:0", "ORU")]), dataDirectory: Data))
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", first.Mllp("adt-in").Port, cancellationToken: Ct);
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(sample), Ct)).Get("MSA-1"));
            Assert.Equal(CareHub.Messaging.Storage.MessageStates.Filtered, Assert.Single(await first.Store.SearchAsync(new(null, null, null, null, null, null, null, 10), Ct)).State);
        }

        // The channel now takes ADT: the command runs it through the channel again, from the same settings sources.
        var channel = MessagingServer.InboundChannel(transformer: "v2-to-fhir")
            .Select(s => (s.Key.Replace(":", "__", StringComparison.Ordinal), s.Value!)).ToArray();
        var reprocessed = await CarehubProcess.RunAsync(["messages", "reprocess", "--data", Data, "--channel", "adt-in"], channel);
        Assert.True(reprocessed.Code == 0, reprocessed.Output);
        Assert.Contains("Reprocessed 1 message(s).", reprocessed.Output, StringComparison.Ordinal);

        await using var second = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"), dataDirectory: Data);
        string? patient = null;
        await MessagingServer.EventuallyAsync(async () =>
        {
            patient = await FirstIdAsync(second, "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018");
            return patient is not null;
        }, "the reprocessed registration's patient is in the record");
        Assert.NotNull(await FirstIdAsync(second, $"Person?link=Patient/{patient}"));
    }

    [Fact]
    public async Task messages_show_is_audited_with_the_patient_the_message_names_as_a_view_through_the_api_is()
    {
        var sample = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "samples", "hl7v2", "ADT-A04-synthetic.hl7"), Ct);
        string? patient = null;
        long id;
        await using (var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(transformer: "v2-to-fhir"), dataDirectory: Data))
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(sample), Ct)).Get("MSA-1"));
            id = Assert.Single(await server.Store.SearchAsync(new(null, null, null, null, null, null, null, 10), Ct)).Id;
            await MessagingServer.EventuallyAsync(async () =>
            {
                patient = await FirstIdAsync(server, "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018");
                return patient is not null;
            }, "the registration's patient is in the record");
        }

        var shown = await CarehubProcess.RunAsync(["messages", "show", "--data", Data, id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(shown.Code == 0, shown.Output);

        await using var local = await LocalRecords.OpenAsync([new("CareHub:Storage:DataDirectory", Data)]);
        var context = new RequestContext(ServeCommand.Loader("test"), "urn:test", "test");
        var audit = await local.Records.SearchAsync(context, "AuditEvent", [new("patient", "Patient/" + patient), new("_count", "200")], Ct);
        var view = Assert.Single(audit.Entry.Select(e => (Hl7.Fhir.Model.AuditEvent)e.Resource!),
            e => e.Entity.Any(x => x.What?.Reference == $"urn:carehub:message:{id}"));
        Assert.Equal("carehub-messages-show", view.Agent[0].AltId);
    }

    [Fact]
    public async Task messages_set_aside_releases_a_dead_letters_patient_and_list_shows_the_work_queue()
    {
        // A channel whose demographics agreement does not exist: each delivery is refused for good, so the first message
        // goes to the work queue and holds up its patient's second one.
        var settings = MessagingServer.InboundChannel(extra: [("Organisation", "RTH"), ("DemographicsAgreement", "dsa-missing")]).ToList();
        long poison;
        await using (var server = await MessagingServer.StartAsync(settings, dataDirectory: Data))
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, cancellationToken: Ct);
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("CLI-1", patient: "PATIENT-C")), Ct)).Get("MSA-1"));
            Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("CLI-2", patient: "PATIENT-C")), Ct)).Get("MSA-1"));
            await server.WhenStateAsync("CLI-1", CareHub.Messaging.Storage.MessageStates.Error);
            poison = (await server.MessageAsync("CLI-1")).Id;
        }

        var listed = await CarehubProcess.RunAsync(["messages", "list", "--data", Data, "--state", "error"]);
        Assert.True(listed.Code == 0, listed.Output);
        Assert.Contains("CLI-1", listed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("CLI-2", listed.Output, StringComparison.Ordinal);

        var setAside = await CarehubProcess.RunAsync(["messages", "set-aside", "--data", Data, "--reason", "agreement under review",
            poison.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(setAside.Code == 0, setAside.Output);
        Assert.Contains("Set aside 1 message(s).", setAside.Output, StringComparison.Ordinal);

        await using var again = await MessagingServer.StartAsync(settings, dataDirectory: Data);
        var aside = (await again.MessageAsync("CLI-1")).Deliveries.Single();
        Assert.Equal((CareHub.Messaging.Storage.DeliveryStates.SetAside, "set aside from the command line: agreement under review"), (aside.State, aside.LastError));
        // Released, the second message is tried (and refused for the same reason): it no longer waits behind the first.
        await MessagingServer.EventuallyAsync(async () => (await again.MessageAsync("CLI-2")).Deliveries.Single().Attempts > 0, "CLI-2 is tried");
    }

    private static async Task<string?> FirstIdAsync(MessagingServer server, string query)
    {
        using var json = JsonDocument.Parse(await server.Client.GetStringAsync($"{server.BaseUrl}/fhir/{query}", Ct));
        return json.RootElement.TryGetProperty("entry", out var entries) && entries.GetArrayLength() > 0
            ? entries[0].GetProperty("resource").GetProperty("id").GetString()
            : null;
    }

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CareHub.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException("The tests run outside the repository.");
    }

    public void Dispose()
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
