using System.Net;
using System.Net.Security;
using System.Net.Sockets;
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
/// </summary>
public sealed partial class MllpListener : IAsyncDisposable
{
    private readonly ChannelOptions channel;
    private readonly MessageBroker broker;
    private readonly ILogger logger;
    private readonly TcpListener listener;
    private readonly X509Certificate2? certificate;
    private readonly SemaphoreSlim slots;
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
        slots = new SemaphoreSlim(source.MaxConnections, source.MaxConnections);
    }

    /// <summary>The address actually listened on (the port the system chose when configured as 0).</summary>
    public IPEndPoint LocalEndpoint => (IPEndPoint)listener.LocalEndpoint;

    public string Channel => channel.Name;

    /// <summary>Binds the port (so a bad port fails the start) and starts accepting in the background.</summary>
    public void Start()
    {
        listener.Start(backlog: 128);
        LogListening(logger, channel.Name, LocalEndpoint.ToString(), certificate is not null);
        accepting = AcceptLoopAsync(stopping.Token);
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient tcp;
            try
            {
                await slots.WaitAsync(cancellationToken);
                tcp = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                slots.Release();
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                LogAcceptFailed(logger, e, channel.Name);
                continue;
            }

            var connection = Task.Run(() => ServeAsync(tcp, cancellationToken), CancellationToken.None);
            lock (connections)
            {
                connections.RemoveAll(t => t.IsCompleted);
                connections.Add(connection);
            }
        }
    }

    private async Task ServeAsync(TcpClient tcp, CancellationToken cancellationToken)
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
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, handshake.Token);
                stream = tls;
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
        catch (Exception e)
        {
            LogConnectionFailed(logger, e, channel.Name, remote);
        }
        finally
        {
            tcp.Dispose();
            slots.Release();
        }
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
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Channel {Channel}: MLLP listening on {Endpoint} (TLS: {Tls})")]
    private static partial void LogListening(ILogger logger, string channel, string endpoint, bool tls);

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
