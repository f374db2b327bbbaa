using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// MLLP over TLS: a self-signed certificate made for the test and written where the channel's configuration points,
/// a real listener, and a client that trusts exactly that certificate (by its SHA-256 thumbprint).
/// </summary>
public sealed class MllpTlsTests : IDisposable
{
    private const string Password = "test-pfx-password";

    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-tls-" + Guid.NewGuid().ToString("N"));
    private readonly X509Certificate2 certificate;

    public MllpTlsTests()
    {
        Directory.CreateDirectory(folder);
        using var key = RSA.Create(2048);
        certificate = TestCertificates.SelfSigned(key, "CN=localhost", TestCertificates.ServerAuth);
        File.WriteAllBytes(Path.Combine(folder, "mllp.pfx"), certificate.Export(X509ContentType.Pkcs12, Password));
        File.WriteAllText(Path.Combine(folder, "mllp.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "mllp.key"), key.ExportPkcs8PrivateKeyPem());
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData);
        File.WriteAllBytes(Path.Combine(folder, "public-only.pfx"), publicOnly.Export(X509ContentType.Pkcs12));
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        certificate.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(folder, name);

    private IEnumerable<KeyValuePair<string, string?>> Channel(string format) => MessagingServer.InboundChannel(extra: format switch
    {
        "pfx" => [("Source:Certificate", PathOf("mllp.pfx")), ("Source:CertificatePassword", Password), ("Source:FrameTimeout", "00:00:05")],
        "pem" => [("Source:Certificate", PathOf("mllp.crt")), ("Source:CertificateKey", PathOf("mllp.key")), ("Source:FrameTimeout", "00:00:05")],
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    });

    /// <summary>An MLLP client over TLS that accepts the server's certificate only if it is the test's own.</summary>
    private async Task<MllpClient> ConnectTlsAsync(MessagingServer server)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, Ct);
        var expected = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false,
            (_, presented, _, _) => presented is not null && string.Equals(presented.GetCertHashString(HashAlgorithmName.SHA256), expected, StringComparison.OrdinalIgnoreCase));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, Ct);
        return new MllpClient(tls);
    }

    [Theory]
    [InlineData("pfx")]
    [InlineData("pem")]
    public async Task a_message_over_tls_is_acknowledged_AA_and_delivered(string format)
    {
        await using var server = await MessagingServer.StartAsync(Channel(format));

        Hl7Message ack;
        await using (var client = await ConnectTlsAsync(server))
        {
            ack = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("TLS-" + format)), Ct);
        }

        Assert.Equal(("AA", "TLS-" + format), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Single(await server.Store.SearchAsync(new MessageQuery(ControlId: "TLS-" + format), Ct));
        await MessagingServer.EventuallyAsync(async () => await server.PatientsWithControlIdAsync("TLS-" + format) == 1, "the Patient is in the record");
    }

    [Fact]
    public async Task a_plain_tcp_client_on_the_tls_port_is_closed_without_an_answer_and_the_listener_keeps_serving()
    {
        await using var server = await MessagingServer.StartAsync(Channel("pfx"));

        using (var plain = new TcpClient { NoDelay = true })
        {
            await plain.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, Ct);
            var stream = plain.GetStream();
            await stream.WriteAsync(MllpWriter.Frame(MessagingServer.Bytes(MessagingServer.Adt("PLAIN-1"))), Ct);
            var reply = new byte[256];
            int read;
            try
            {
                read = await stream.ReadAsync(reply, Ct);
            }
            catch (IOException)
            {
                read = 0;
            }

            // The TLS handshake fails on an MLLP frame: the server may send a TLS alert, never an HL7 acknowledgment.
            Assert.True(read == 0 || reply[0] != MllpReader.StartBlock, "a plain-text client got an MLLP answer from a TLS port");
        }

        Assert.Empty(await server.Store.SearchAsync(new MessageQuery(ControlId: "PLAIN-1"), Ct));
        await using var client = await ConnectTlsAsync(server);
        Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("TLS-AFTER")), Ct)).Get("MSA-1"));
    }

    [Fact]
    public async Task a_client_that_never_starts_the_handshake_is_closed_after_the_frame_timeout()
    {
        await using var server = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra:
        [
            ("Source:Certificate", PathOf("mllp.pfx")),
            ("Source:CertificatePassword", Password),
            ("Source:FrameTimeout", "00:00:00.500"),
        ]));
        using var silent = new TcpClient();
        await silent.ConnectAsync("127.0.0.1", server.Mllp("adt-in").Port, Ct);

        int read;
        try
        {
            read = await silent.GetStream().ReadAsync(new byte[16], Ct);
        }
        catch (IOException)
        {
            read = 0;
        }

        Assert.Equal(0, read);
        await using var client = await ConnectTlsAsync(server);
        Assert.Equal("AA", (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("TLS-AFTER-SILENT")), Ct)).Get("MSA-1"));
    }

    public static TheoryData<string, string> BrokenCertificates => new()
    {
        { "missing", "CareHub:Channels:0:Source:Certificate '{0}' does not exist" },
        { "not-a-certificate", "CareHub:Channels:0:Source:Certificate '{0}' could not be read" },
        { "wrong-password", "CareHub:Channels:0:Source:Certificate '{0}' could not be read" },
        { "missing-key", "CareHub:Channels:0:Source:CertificateKey" },
        { "no-private-key", "CareHub:Channels:0:Source:Certificate '{0}' has no private key" },
    };

    [Theory]
    [MemberData(nameof(BrokenCertificates))]
    public async Task a_certificate_that_cannot_be_used_stops_the_start_naming_the_setting(string problem, string expected)
    {
        File.WriteAllText(PathOf("garbage.pem"), "this is not a certificate");
        (string Certificate, string? Key, string? Password) settings = problem switch
        {
            "missing" => (PathOf("absent.pfx"), null, null),
            "not-a-certificate" => (PathOf("garbage.pem"), null, null),
            "wrong-password" => (PathOf("mllp.pfx"), null, "not-the-password"),
            "missing-key" => (PathOf("mllp.crt"), PathOf("absent.key"), null),
            "no-private-key" => (PathOf("public-only.pfx"), null, null),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        List<(string, string)> extra = [("Source:Certificate", settings.Certificate)];
        if (settings.Key is { } key)
        {
            extra.Add(("Source:CertificateKey", key));
        }

        if (settings.Password is { } password)
        {
            extra.Add(("Source:CertificatePassword", password));
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: [.. extra])));

        Assert.Contains(string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, settings.Certificate), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
    }
}
