using System.Diagnostics;
using CareHub.Hl7v2;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>An MLLP client nobody here wrote: Debian's mllp_send (package python3-hl7) delivering shared sample files.</summary>
public sealed class MllpSendTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>../shared/data/hl7v2/samples beside the repository, or null.</summary>
    public static string? Samples()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "data", "hl7v2", "samples"), Path.Combine(dir.FullName, "..", "shared", "data", "hl7v2", "samples") })
            {
                if (Directory.Exists(candidate))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }

        return null;
    }

    [Theory]
    [InlineData("ADT-A01-01.hl7")]
    [InlineData("ADT-A04-01.hl7")]
    [InlineData("ADT-A08-01.hl7")]
    public async Task mllp_send_delivers_a_sample_file_and_gets_AA_after_it_is_stored(string sample)
    {
        var mllpSend = Find("mllp_send");
        if (mllpSend is null)
        {
            Assert.Skip("mllp_send is not installed: apt-get install -y python3-hl7 (as root) provides it");
        }

        var samples = Samples();
        if (samples is null)
        {
            Assert.Skip("Shared test data '../shared/data/hl7v2/samples' is not beside the repository; this test needs it.");
        }

        var file = Path.Combine(samples, sample);
        var controlId = Hl7Message.Parse(await File.ReadAllBytesAsync(file, Ct)).ControlId;
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel());

        var start = new ProcessStartInfo(mllpSend)
        {
            ArgumentList = { "--loose", "-f", file, "-p", server.Mllp("adt-in").Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "127.0.0.1" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(Ct);
        var errors = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);

        Assert.True(process.ExitCode == 0, $"mllp_send exited {process.ExitCode}: {errors}");
        Assert.Contains("MSA|AA|" + controlId, output.Replace("\n", "\r", StringComparison.Ordinal), StringComparison.Ordinal);
        var stored = Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: controlId), Ct));
        Assert.Equal("ADT", stored.MessageType);
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync(controlId) == 1, "the sample's Patient is in the record");
    }
}
