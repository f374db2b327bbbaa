namespace CareHub.Server.Tests.Notifications;

/// <summary>A test class's CareHub (on SQLite) and one receiver on loopback, both fresh for each test.</summary>
public abstract class ServerWithReceiver : IAsyncLifetime
{
    protected NotificationServer Server { get; private set; } = null!;

    protected TestReceiver Receiver { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Server = await NotificationServer.StartAsync();
        Receiver = await TestReceiver.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Receiver.DisposeAsync();
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
