using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;
using CareHub.Messaging;

namespace CareHub.Server.Messaging;

/// <summary>
/// The MLLP source of one channel: a TCP listener (optionally TLS) that reads frames, hands each to the broker and
/// writes back the ACK the broker returns, which it returns only after the message is stored. One message at a time per
/// connection, as MLLP has it. Input is bounded (message size, idle and frame timeouts, connection count); a connection
/// that breaks the rules is closed with a log entry, and nothing a peer sends can stop the listener.
/// <para>
/// Senders are authenticated by source address (<see cref="SourceOptions.AllowedAddresses"/>) and/or client certificate
/// (mutual TLS). Connections are admitted or closed at once, never queued: one address holds at most
/// <see cref="SourceOptions.MaxConnectionsPerAddress"/>, and anonymous connections (not from an allowed address, and
/// not yet authenticated by certificate) leave <see cref="SourceOptions.EffectiveReservedConnections"/> slots to known senders.
/// </para>
/// </summary>
public sealed partial class MllpListener : IAsyncDisposable
{
    private readonly ChannelOptions channel;
    private readonly MessageBroker broker;
    private readonly ILogger logger;
    private readonly TcpListener listener;
    private readonly X509Certificate2? certificate;
    private readonly ConnectionSlots slots;
    private readonly IReadOnlyList<AddressRange> allowed;
    private readonly X509Certificate2? clientAuthority;
    private readonly CancellationTokenSource stopping = new();
    private readonly List<Task> connections = [];
    private Task? accepting;

    public MllpListener(ChannelOptions channel, MessageBroker broker, ILogger logger)
    {
        this.channel = channel;
        this.broker = broker;
        this.logger = logger;
        var source = channel.Source;
        var address = source.Host is "*" or "0.0.0.0" ? IPAddress.Any : IPAddress.TryParse(source.Host, out var ip) ? ip : Dns.GetHostAddresses(source.Host)[0];
        listener = new TcpListener(address, source.Port);
        certificate = source.LoadCertificate();
        slots = new ConnectionSlots(source.MaxConnections, source.MaxConnectionsPerAddress, source.EffectiveReservedConnections);
        allowed = AddressRange.ParseAll(source.AllowedAddresses);
        clientAuthority = source.ClientCertificateAuthority is { } authority ? X509CertificateLoader.LoadCertificateFromFile(authority) : null;
    }

    /// <summary>The address actually listened on (the port the system chose when configured as 0).</summary>
    public IPEndPoint LocalEndpoint => (IPEndPoint)listener.LocalEndpoint;

    public string Channel => channel.Name;

    /// <summary>Binds the port (so a bad port fails the start) and starts accepting in the background.</summary>
    public void Start()
    {
        listener.Start(backlog: 128);
        if (channel.Source.AuthenticatesSenders)
        {
            LogListening(logger, channel.Name, LocalEndpoint.ToString(), certificate is not null, channel.Source.AllowedAddresses.Length,
                channel.Source.RequiresClientCertificate, channel.Source.Senders.Length == 0 ? "any" : string.Join(", ", channel.Source.Senders));
        }
        else
        {
            LogListeningUnauthenticated(logger, channel.Name, LocalEndpoint.ToString());
        }

        accepting = AcceptLoopAsync(stopping.Token);
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient tcp;
            try
            {
                tcp = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                LogAcceptFailed(logger, e, channel.Name);
                continue;
            }

            if (Admit(tcp) is not { } connection)
            {
                tcp.Dispose();
                continue;
            }

            var serving = Task.Run(() => ServeAsync(tcp, connection, cancellationToken), CancellationToken.None);
            lock (connections)
            {
                connections.RemoveAll(t => t.IsCompleted);
                connections.Add(serving);
            }
        }
    }

    /// <summary>
    /// Decides at once whether a new connection is served: an address outside the allow-list is refused unless it can
    /// still authenticate by client certificate; then the per-address limit and the slots (anonymous connections may not
    /// take the reserved ones). Refusing at once, rather than queueing, means idle connections can never hold up others.
    /// </summary>
    private ConnectionSlots.Connection? Admit(TcpClient tcp)
    {
        var endpoint = tcp.Client.RemoteEndPoint as IPEndPoint;
        var address = endpoint?.Address is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : endpoint?.Address ?? IPAddress.None;
        var listed = allowed.Any(r => r.Contains(address));
        if (allowed.Count > 0 && !listed && !channel.Source.RequiresClientCertificate)
        {
            LogRefused(logger, channel.Name, address.ToString(), "the address is not in AllowedAddresses");
            return null;
        }

        if (slots.TryTake(address, known: listed, out var refusal) is not { } connection)
        {
            LogRefused(logger, channel.Name, address.ToString(), refusal!);
            return null;
        }

        return connection;
    }

    private async Task ServeAsync(TcpClient tcp, ConnectionSlots.Connection connection, CancellationToken cancellationToken)
    {
        var remote = tcp.Client.RemoteEndPoint?.ToString() ?? "unknown";
        try
        {
            tcp.NoDelay = true;
            Stream stream = tcp.GetStream();
            if (certificate is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                handshake.CancelAfter(channel.Source.FrameTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = channel.Source.RequiresClientCertificate,
                    RemoteCertificateValidationCallback = channel.Source.RequiresClientCertificate ? (_, presented, _, _) => IsAllowedClient(presented) : null,
                }, handshake.Token);
                stream = tls;
                if (channel.Source.RequiresClientCertificate)
                {
                    // The handshake only completes with an allowed certificate: the sender is known from here on.
                    slots.Authenticated(connection);
                }
            }

            await using (stream)
            {
                await ConverseAsync(stream, remote, cancellationToken);
            }
        }
        catch (MllpMessageTooLargeException e)
        {
            LogClosed(logger, channel.Name, remote, e.Message);
        }
        catch (MllpException e)
        {
            // Timeouts, and a stream that ended inside a frame: nothing complete was received, so nothing is lost.
            LogClosed(logger, channel.Name, remote, e.Message);
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            LogClosed(logger, channel.Name, remote, e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException)
        {
            LogClosed(logger, channel.Name, remote, "the TLS handshake did not finish within FrameTimeout");
        }
        catch (Exception e)
        {
            LogConnectionFailed(logger, e, channel.Name, remote);
        }
        finally
        {
            tcp.Dispose();
            slots.Release(connection);
        }
    }

    /// <summary>
    /// Mutual TLS: the client's certificate must be one of the allowed thumbprints (SHA-256 or SHA-1), or chain to the
    /// configured authority (that authority alone as trust anchor, the certificate valid now and meant for client auth).
    /// </summary>
    private bool IsAllowedClient(X509Certificate? presented)
    {
        if (presented is null)
        {
            return false;
        }

        using var client = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        foreach (var allowedThumbprint in channel.Source.ClientCertificateThumbprints)
        {
            var algorithm = allowedThumbprint.Length == 64 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1;
            if (string.Equals(client.GetCertHashString(algorithm), allowedThumbprint, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        if (clientAuthority is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(clientAuthority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(client);
    }

    private async Task ConverseAsync(Stream stream, string remote, CancellationToken cancellationToken)
    {
        var source = channel.Source;
        using var reader = new MllpReader(stream, new MllpOptions
        {
            MaxMessageBytes = source.MaxMessageBytes,
            IdleTimeout = source.IdleTimeout,
            FrameTimeout = source.FrameTimeout,
        });
        reader.BytesSkipped += (_, e) => LogSkipped(logger, channel.Name, remote, e.Count, e.PartialFrame);
        var writer = new MllpWriter(stream);
        while (true)
        {
            var frame = await reader.ReadMessageAsync(cancellationToken);
            if (frame is null)
            {
                return;
            }

            byte[]? ack;
            bool accepted;
            try
            {
                var outcome = await broker.ReceiveAsync(channel.Name, frame, "mllp:" + remote, cancellationToken);
                (ack, accepted) = (outcome.Ack, outcome.Accepted);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Not stored, so never AA: answer AE (207, application internal error) so that the sender sends it again.
                LogIntakeFailed(logger, e, channel.Name, remote);
                ack = Hl7Acknowledgement.ForUnparseable(frame, new Hl7ParseException("the message could not be stored; send it again", Hl7ErrorCode.ApplicationInternalError))?.EncodeBytes();
                accepted = false;
            }

            if (ack is not null)
            {
                await writer.WriteMessageAsync(ack, cancellationToken);
            }
            else if (!accepted)
            {
                // No MSH, so no control id to acknowledge: the only way to tell the sender is to close.
                LogClosed(logger, channel.Name, remote, "a message without an MSH segment cannot be acknowledged");
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        if (accepting is not null)
        {
            await accepting;
        }

        Task[] open;
        lock (connections)
        {
            open = [.. connections];
        }

        await Task.WhenAll(open);
        stopping.Dispose();
        certificate?.Dispose();
        clientAuthority?.Dispose();
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information,
        Message = "Channel {Channel}: MLLP listening on {Endpoint} (TLS: {Tls}; allowed address ranges: {Ranges}; client certificate required: {ClientCertificates}; senders: {Senders})")]
    private static partial void LogListening(ILogger logger, string channel, string endpoint, bool tls, int ranges, bool clientCertificates, string senders);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Warning,
        Message = "Channel {Channel}: MLLP listening on {Endpoint} UNAUTHENTICATED (loopback only): any process on this machine may send to it")]
    private static partial void LogListeningUnauthenticated(ILogger logger, string channel, string endpoint);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Warning, Message = "Channel {Channel}: connection from {Address} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string channel, string address, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Channel {Channel}: connection from {Remote} closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string channel, string remote, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Channel {Channel}: dropped {Count} bytes outside MLLP frames from {Remote} (partial frame: {Partial})")]
    private static partial void LogSkipped(ILogger logger, string channel, string remote, int count, bool partial);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Error, Message = "Channel {Channel}: message from {Remote} could not be stored; answered AE")]
    private static partial void LogIntakeFailed(ILogger logger, Exception exception, string channel, string remote);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Error, Message = "Channel {Channel}: connection from {Remote} failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception, string channel, string remote);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Error, Message = "Channel {Channel}: accepting a connection failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception, string channel);
}
