using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using CareHub.Hl7v2;
using CareHub.Hl7v2.Mllp;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// A downstream system on loopback that receives MLLP messages and answers each with the ACK code its script chooses
/// (AA, AE or AR), recording what arrived in order.
/// </summary>
public sealed class FakeMllpReceiver : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly Func<Hl7Message, int, Hl7AckCode> answer;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private int count;

    public FakeMllpReceiver(Func<Hl7Message, int, Hl7AckCode> answer)
    {
        this.answer = answer;
        listener.Start();
        loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Every message received, in arrival order (repeats included).</summary>
    public ConcurrentQueue<Hl7Message> Received { get; } = new();

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var tcp = await listener.AcceptTcpClientAsync(stop.Token);
                connections.Add(ServeAsync(tcp));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient tcp)
    {
        using (tcp)
        {
            try
            {
                var stream = tcp.GetStream();
                using var reader = new MllpReader(stream);
                var writer = new MllpWriter(stream);
                while (await reader.ReadMessageAsync(stop.Token) is { } frame)
                {
                    var message = Hl7Message.Parse(frame);
                    Received.Enqueue(message);
                    var code = answer(message, Interlocked.Increment(ref count));
                    var ack = code is Hl7AckCode.AA
                        ? Hl7Acknowledgement.Accept(message)
                        : Hl7Acknowledgement.Create(message, code, [new Hl7Error(code == Hl7AckCode.AR ? Hl7ErrorCode.UnsupportedEventCode : Hl7ErrorCode.ApplicationRecordLocked)]);
                    await writer.WriteMessageAsync(ack, stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or MllpException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        await loop;
        stop.Dispose();
    }
}
