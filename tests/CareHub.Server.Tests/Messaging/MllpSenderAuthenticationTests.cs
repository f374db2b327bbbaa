using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging.Storage;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// Who may send on an MLLP channel, and how many connections anyone may hold: allowed source addresses, mutual TLS with
/// client certificates made in the test (by thumbprint and by issuing authority), the configured MSH-3/MSH-4 senders,
/// per-address limits, reserved slots and the idle timeout. Real listeners and real sockets on loopback; other loopback
/// addresses (127.0.0.2 and up) stand in for other machines.
/// </summary>
public sealed class MllpSenderAuthenticationTests : IDisposable
{
    private const string Password = "test-pfx-password";

    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-mtls-" + Guid.NewGuid().ToString("N"));
    private readonly X509Certificate2 server;
    private readonly X509Certificate2 authority;
    private readonly X509Certificate2 issuedClient;
    private readonly X509Certificate2 strangerClient;

    public MllpSenderAuthenticationTests()
    {
        Directory.CreateDirectory(folder);
        var now = DateTimeOffset.UtcNow;
        server = SelfSigned("CN=localhost", TestCertificates.ServerAuth);
        File.WriteAllBytes(PathOf("server.pfx"), server.Export(X509ContentType.Pkcs12, Password));

        using (var caKey = RSA.Create(2048))
        {
            var caRequest = new CertificateRequest("CN=CareHub test sender authority", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            authority = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        }

        File.WriteAllText(PathOf("authority.crt"), authority.ExportCertificatePem());
        using (var clientKey = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=pas.rx1.example", clientKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(TestCertificates.ClientAuth)], false));
            using var issued = request.Create(authority, now.AddMinutes(-5), now.AddDays(1), [1, 2, 3, 4, 5, 6, 7, 8]);
            issuedClient = WithKey(issued.CopyWithPrivateKey(clientKey));
        }

        strangerClient = SelfSigned("CN=stranger.example", TestCertificates.ClientAuth);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        foreach (var certificate in new[] { server, authority, issuedClient, strangerClient })
        {
            certificate.Dispose();
        }

        Directory.Delete(folder, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(folder, name);

    private static X509Certificate2 SelfSigned(string subject, string usage)
    {
        using var key = RSA.Create(2048);
        return WithKey(TestCertificates.SelfSigned(key, subject, usage));
    }

    /// <summary>Through PKCS#12 and back, so that TLS can use the private key on every platform.</summary>
    private static X509Certificate2 WithKey(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12, Password), Password);
        }
    }

    private (string, string)[] Tls(params (string, string)[] more) =>
        [("Source:Certificate", PathOf("server.pfx")), ("Source:CertificatePassword", Password), .. more];

    /// <summary>A TCP connection from a chosen loopback address.</summary>
    private static async Task<TcpClient> ConnectFromAsync(string from, int port)
    {
        var tcp = new TcpClient(new IPEndPoint(IPAddress.Parse(from), 0)) { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port, Ct);
        return tcp;
    }

    /// <summary>MLLP over TLS from <paramref name="from"/>, presenting <paramref name="clientCertificate"/> (if any), trusting only the test's server certificate.</summary>
    private async Task<MllpClient> ConnectTlsAsync(int port, X509Certificate2? clientCertificate, string from = "127.0.0.1")
    {
        var tcp = await ConnectFromAsync(from, port);
        var expected = server.GetCertHashString(HashAlgorithmName.SHA256);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && string.Equals(presented.GetCertHashString(HashAlgorithmName.SHA256), expected, StringComparison.OrdinalIgnoreCase),
        }, Ct);
        return new MllpClient(tls);
    }

    /// <summary>The ACK code for a message sent over a fresh connection, or null when the listener closed it without an answer.</summary>
    private static async Task<string?> AckOrNullAsync(Func<Task<MllpClient>> connect, string controlId)
    {
        try
        {
            await using var client = await connect();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(20));
            return (await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt(controlId)), deadline.Token)).Get("MSA-1");
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            return null;
        }
    }

    /// <summary>True once the peer has closed the connection (read returns 0 or fails), within a deadline.</summary>
    private static async Task<bool> ClosedByPeerAsync(TcpClient tcp)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            return await tcp.GetStream().ReadAsync(new byte[64], deadline.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            return false;
        }
    }

    [Fact]
    public async Task a_connection_from_an_address_outside_the_allow_list_is_closed_unanswered_and_an_allowed_one_is_acknowledged()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: [("Source:AllowedAddresses:0", "127.0.0.1")]));
        var port = hub.Mllp("adt-in").Port;

        Assert.Null(await AckOrNullAsync(async () => new MllpClient((await ConnectFromAsync("127.0.0.2", port)).GetStream()), "FROM-STRANGER"));
        Assert.Equal("AA", await AckOrNullAsync(async () => new MllpClient((await ConnectFromAsync("127.0.0.1", port)).GetStream()), "FROM-ALLOWED"));

        Assert.Empty(await hub.Store.SearchAsync(new MessageQuery(ControlId: "FROM-STRANGER"), Ct));
    }

    [Fact]
    public async Task mutual_tls_takes_an_allowed_client_certificate_by_thumbprint_and_refuses_none_or_another()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra:
            Tls(("Source:ClientCertificateThumbprints:0", issuedClient.GetCertHashString(HashAlgorithmName.SHA256)))));
        var port = hub.Mllp("adt-in").Port;

        Assert.Null(await AckOrNullAsync(() => ConnectTlsAsync(port, null), "NO-CERT"));
        Assert.Null(await AckOrNullAsync(() => ConnectTlsAsync(port, strangerClient), "OTHER-CERT"));
        Assert.Equal("AA", await AckOrNullAsync(() => ConnectTlsAsync(port, issuedClient), "ALLOWED-CERT"));

        Assert.Empty(await hub.Store.SearchAsync(new MessageQuery(ControlId: "NO-CERT"), Ct));
        Assert.Empty(await hub.Store.SearchAsync(new MessageQuery(ControlId: "OTHER-CERT"), Ct));
    }

    [Fact]
    public async Task mutual_tls_takes_a_client_certificate_issued_by_the_configured_authority()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: Tls(("Source:ClientCertificateAuthority", PathOf("authority.crt")))));
        var port = hub.Mllp("adt-in").Port;

        Assert.Null(await AckOrNullAsync(() => ConnectTlsAsync(port, strangerClient), "SELF-ISSUED"));
        Assert.Equal("AA", await AckOrNullAsync(() => ConnectTlsAsync(port, issuedClient), "ISSUED"));
    }

    [Fact]
    public async Task a_message_from_a_sender_the_channel_is_not_configured_for_is_refused_AR_naming_the_mismatch_and_kept()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: [("Source:Senders:0", "PAS^RAL")]));
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", hub.Mllp("adt-in").Port, cancellationToken: Ct);

        var refused = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("IMPOSTOR-1", facility: "RX9")), Ct);
        var taken = await client.SendAsync(Hl7Message.Parse(MessagingServer.Adt("GENUINE-1")), Ct);

        Assert.Equal("AR", refused.Get("MSA-1"));
        Assert.Contains("'PAS^RX9' is not a configured sender", refused.Get("ERR-7"), StringComparison.Ordinal);
        Assert.Equal(("MSH", "4"), (refused.Get("ERR-2"), refused.Get("ERR-2.3")));
        Assert.Equal("AA", taken.Get("MSA-1"));
        var kept = Assert.Single(await hub.Store.SearchAsync(new MessageQuery(ControlId: "IMPOSTOR-1"), Ct));
        Assert.Equal(MessageStates.Error, kept.State);
        await MessagingServer.EventuallyAsync(async () => await hub.PatientsWithControlIdAsync("GENUINE-1") == 1, "the genuine message is in the record");
        Assert.Equal(0, await hub.PatientsWithControlIdAsync("IMPOSTOR-1"));
    }

    [Fact]
    public async Task idle_anonymous_connections_cannot_take_the_slots_reserved_for_a_configured_sender()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: Tls(
            ("Source:ClientCertificateAuthority", PathOf("authority.crt")),
            ("Source:AllowedAddresses:0", "127.0.0.1"),
            ("Source:MaxConnections", "6"),
            ("Source:ReservedConnections", "2"),
            ("Source:MaxConnectionsPerAddress", "2"),
            ("Source:FrameTimeout", "00:05:00"))));
        var port = hub.Mllp("adt-in").Port;
        var idlers = new List<TcpClient>();
        try
        {
            // Nine connections from three other addresses that never start TLS: each would hold a slot for the whole
            // handshake timeout. Two per address are served; anonymous ones stop at MaxConnections - ReservedConnections.
            foreach (var from in new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" })
            {
                for (var i = 0; i < 3; i++)
                {
                    idlers.Add(await ConnectFromAsync(from, port));
                }
            }

            Assert.Equal("AA", await AckOrNullAsync(() => ConnectTlsAsync(port, issuedClient, from: "127.0.0.1"), "CONFIGURED-SENDER"));
        }
        finally
        {
            idlers.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task a_connection_beyond_the_per_address_limit_is_closed_at_once_while_others_are_served()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra: [("Source:MaxConnectionsPerAddress", "2")]));
        var port = hub.Mllp("adt-in").Port;
        using var first = await ConnectFromAsync("127.0.0.5", port);
        using var second = await ConnectFromAsync("127.0.0.5", port);
        using var third = await ConnectFromAsync("127.0.0.5", port);

        Assert.True(await ClosedByPeerAsync(third), "the third connection from one address is closed");
        Assert.Equal("AA", await AckOrNullAsync(async () => new MllpClient((await ConnectFromAsync("127.0.0.6", port)).GetStream()), "OTHER-ADDRESS"));
    }

    [Fact]
    public async Task an_idle_connection_is_closed_after_the_idle_timeout_and_frees_its_slot()
    {
        await using var hub = await MessagingServer.StartAsync(MessagingServer.InboundChannel(extra:
            [("Source:MaxConnectionsPerAddress", "1"), ("Source:IdleTimeout", "00:00:00.300")]));
        var port = hub.Mllp("adt-in").Port;
        using var idle = await ConnectFromAsync("127.0.0.7", port);

        Assert.True(await ClosedByPeerAsync(idle), "an idle connection is closed after IdleTimeout");
        await MessagingServer.EventuallyAsync(
            async () => await AckOrNullAsync(async () => new MllpClient((await ConnectFromAsync("127.0.0.7", port)).GetStream()), "AFTER-IDLE") == "AA",
            "the address may connect again once its idle connection was closed");
    }

    [Fact]
    public async Task an_mllp_listener_open_to_the_network_without_sender_authentication_stops_the_start()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => MessagingServer.StartAsync(
            MessagingServer.InboundChannel(extra: [("Source:Host", "0.0.0.0")])));

        Assert.Contains("authenticates no sender", e.Message, StringComparison.Ordinal);
    }
}
