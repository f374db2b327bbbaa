using System.Text;
using CareHub.Messaging.Storage;
using CareHub.Messaging.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace CareHub.Server.Tests.Messaging;

/// <summary>
/// The watched-folder source end to end: files dropped into a real folder, the real broker polling it, the message store
/// and a destination behind it. Waits are on the broker's completed folder passes, never on the clock.
/// </summary>
public sealed class FolderSourceTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "carehub-folder-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Inbox => Path.Combine(root, "inbox");

    private string Outbox => Path.Combine(root, "outbox");

    private string Processed(string name) => Path.Combine(Inbox, "processed", name);

    private string Errored(string name) => Path.Combine(Inbox, "error", name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>A folder channel: pass-through to a folder destination, or the test transformer into the record.</summary>
    private IEnumerable<KeyValuePair<string, string?>> Channel(string destination = "folder", int maxMessageBytes = 16 * 1024 * 1024) =>
    [
        new("CareHub:Channels:0:Name", "files-in"),
        new("CareHub:Channels:0:Source:Type", "folder"),
        new("CareHub:Channels:0:Source:Path", Inbox),
        new("CareHub:Channels:0:Source:PollInterval", "00:00:00.100"),
        new("CareHub:Channels:0:Source:MaxMessageBytes", maxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("CareHub:Channels:0:Transformer", destination == "folder" ? "pass-through" : TestPatientTransformer.TransformerName),
        new("CareHub:Channels:0:Destinations:0:Type", destination),
        new("CareHub:Channels:0:Destinations:0:Path", destination == "folder" ? Outbox : null),
    ];

    private static async Task<StoredMessage?> StoredAsync(MessagingServer server, string controlId) =>
        (await server.Store.SearchAsync(new MessageQuery(ControlId: controlId), Ct)).SingleOrDefault() is { } found
            ? await server.Store.GetAsync(found.Id, Ct)
            : null;

    /// <summary>Waits until the broker has completed two more passes over the folder: the second began after this call.</summary>
    private static async Task TwoFullPassesAsync(MessagingServer server)
    {
        var from = server.Broker.FolderPasses("files-in");
        await MessagingServer.EventuallyAsync(() => Task.FromResult(server.Broker.FolderPasses("files-in") >= from + 2), "two passes over the folder");
    }

    private static Task WhenGoneAsync(string file) =>
        MessagingServer.EventuallyAsync(() => Task.FromResult(!File.Exists(file)), $"{Path.GetFileName(file)} is taken from the folder");

    [Fact]
    public async Task a_dropped_file_is_stored_moved_to_processed_and_delivered()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        var text = MessagingServer.Adt("FILE-1");
        Directory.CreateDirectory(Inbox);

        await File.WriteAllTextAsync(Path.Combine(Inbox, "adt-1.hl7"), text, Ct);
        await WhenGoneAsync(Path.Combine(Inbox, "adt-1.hl7"));

        // Moved only after it was stored: the moment it left the inbox its message was already in the store.
        var stored = await StoredAsync(server, "FILE-1");
        Assert.NotNull(stored);
        Assert.Equal("file:adt-1.hl7", stored.Sender);
        Assert.Equal(Encoding.UTF8.GetBytes(text), stored.Raw);
        Assert.Equal(text, await File.ReadAllTextAsync(Processed("adt-1.hl7"), Ct));
        await MessagingServer.EventuallyAsync(async () => (await StoredAsync(server, "FILE-1"))?.State == MessageStates.Sent, "the message is sent");
        var delivered = Assert.Single(Directory.GetFiles(Outbox));
        Assert.Equal(text, await File.ReadAllTextAsync(delivered, Ct));
    }

    [Fact]
    public async Task a_file_that_cannot_be_stored_stays_in_the_folder_until_it_can()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        await TwoFullPassesAsync(server);
        // The message store refuses every new message, as a full disk or a broken database would.
        var messages = $"Data Source={Path.Combine(server.DataDirectory, SqliteMessageStore.FileName)};Pooling=False";
        await ExecuteAsync(messages, "CREATE TRIGGER refuse_messages BEFORE INSERT ON message BEGIN SELECT RAISE(ABORT, 'the store is unavailable'); END;");
        var file = Path.Combine(Inbox, "adt-2.hl7");

        await File.WriteAllTextAsync(file, MessagingServer.Adt("FILE-2"), Ct);
        await TwoFullPassesAsync(server);

        Assert.True(File.Exists(file), "a file whose message was not stored must stay where it was");
        Assert.False(File.Exists(Processed("adt-2.hl7")) || File.Exists(Errored("adt-2.hl7")), "the file was moved although nothing was stored");
        Assert.Null(await StoredAsync(server, "FILE-2"));

        await ExecuteAsync(messages, "DROP TRIGGER refuse_messages;");
        await WhenGoneAsync(file);
        Assert.NotNull(await StoredAsync(server, "FILE-2"));
        Assert.True(File.Exists(Processed("adt-2.hl7")));
        await MessagingServer.EventuallyAsync(async () => (await StoredAsync(server, "FILE-2"))?.State == MessageStates.Sent, "the message is sent");
    }

    [Fact]
    public async Task a_bad_file_is_kept_in_error_state_and_moved_to_error_and_an_oversized_one_is_moved_aside_unread()
    {
        await using var server = await MessagingServer.StartAsync(Channel(maxMessageBytes: 1024));
        Directory.CreateDirectory(Inbox);
        // MSH-12 (version) missing: HL7 error 101, required field missing.
        var bad = "MSH|^~\\&|PAS|RAL|||20240301||ADT^A01|FILE-BAD|P|\rPID|1\r";
        var big = MessagingServer.Adt("FILE-BIG") + "NTE|1||" + new string('x', 2048) + "\r";

        await File.WriteAllTextAsync(Path.Combine(Inbox, "bad.hl7"), bad, Ct);
        await File.WriteAllTextAsync(Path.Combine(Inbox, "big.hl7"), big, Ct);
        await File.WriteAllTextAsync(Path.Combine(Inbox, "good.hl7"), MessagingServer.Adt("FILE-GOOD"), Ct);
        await WhenGoneAsync(Path.Combine(Inbox, "bad.hl7"));
        await WhenGoneAsync(Path.Combine(Inbox, "big.hl7"));
        await WhenGoneAsync(Path.Combine(Inbox, "good.hl7"));

        var stored = await StoredAsync(server, "FILE-BAD");
        Assert.Equal(MessageStates.Error, stored?.State);
        Assert.Contains("101", stored?.Error, StringComparison.Ordinal);
        Assert.Equal(bad, await File.ReadAllTextAsync(Errored("bad.hl7"), Ct));
        Assert.Equal(big, await File.ReadAllTextAsync(Errored("big.hl7"), Ct));
        Assert.Null(await StoredAsync(server, "FILE-BIG"));
        Assert.True(File.Exists(Processed("good.hl7")), "the good file after them was taken as usual");
        await MessagingServer.EventuallyAsync(async () => (await StoredAsync(server, "FILE-GOOD"))?.State == MessageStates.Sent, "the good message is sent");
        Assert.Single(Directory.GetFiles(Outbox));
    }

    [Fact]
    public async Task a_file_written_under_another_name_is_not_taken_until_it_is_renamed_in_whole()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        Directory.CreateDirectory(Inbox);
        var text = MessagingServer.Adt("FILE-RENAMED");
        var partial = Path.Combine(Inbox, "adt-3.hl7.part");
        var half = text.Length / 2;

        await using (var writer = new StreamWriter(partial))
        {
            await writer.WriteAsync(text.AsMemory(0, half), Ct);
            await writer.FlushAsync(Ct);
            await TwoFullPassesAsync(server);
            Assert.Null(await StoredAsync(server, "FILE-RENAMED"));
            await writer.WriteAsync(text.AsMemory(half), Ct);
        }

        File.Move(partial, Path.Combine(Inbox, "adt-3.hl7"));
        await WhenGoneAsync(Path.Combine(Inbox, "adt-3.hl7"));

        Assert.Equal(Encoding.UTF8.GetBytes(text), (await StoredAsync(server, "FILE-RENAMED"))?.Raw);
        Assert.True(File.Exists(Processed("adt-3.hl7")));
        Assert.Single(await server.Store.SearchAsync(new MessageQuery(Channel: "files-in"), Ct));
    }

    [Fact]
    public async Task a_file_its_writer_holds_open_exclusively_is_left_alone_and_does_not_hold_up_the_files_after_it()
    {
        await using var server = await MessagingServer.StartAsync(Channel());
        Directory.CreateDirectory(Inbox);
        var text = MessagingServer.Adt("FILE-LOCKED");
        var locked = Path.Combine(Inbox, "a-locked.hl7");
        var half = text.Length / 2;

        // A writer that keeps the file to itself while writing (FileShare.None; on Linux .NET takes a flock for it).
        await using (var writer = new FileStream(locked, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            await writer.WriteAsync(Encoding.UTF8.GetBytes(text[..half]), Ct);
            await writer.FlushAsync(Ct);

            await File.WriteAllTextAsync(Path.Combine(Inbox, "b-after.hl7"), MessagingServer.Adt("FILE-AFTER"), Ct);
            await WhenGoneAsync(Path.Combine(Inbox, "b-after.hl7"));
            await TwoFullPassesAsync(server);

            Assert.True(File.Exists(locked), "the file being written was taken");
            Assert.Null(await StoredAsync(server, "FILE-LOCKED"));
            Assert.Equal(0, (await server.Store.SearchAsync(new MessageQuery(Channel: "files-in"), Ct)).Count(m => m.Sender == "file:a-locked.hl7"));
            await writer.WriteAsync(Encoding.UTF8.GetBytes(text[half..]), Ct);
        }

        await WhenGoneAsync(locked);
        Assert.Equal(Encoding.UTF8.GetBytes(text), (await StoredAsync(server, "FILE-LOCKED"))?.Raw);
        Assert.NotNull(await StoredAsync(server, "FILE-AFTER"));
    }

    [Fact]
    public async Task after_a_restart_files_left_behind_are_taken_and_one_already_stored_is_not_processed_twice()
    {
        var data = Path.Combine(root, "data");
        await using (var first = await MessagingServer.StartAsync(Channel(destination: "record"), dataDirectory: data))
        {
            Directory.CreateDirectory(Inbox);
            await File.WriteAllTextAsync(Path.Combine(Inbox, "adt-4.hl7"), MessagingServer.Adt("FILE-STORED"), Ct);
            await WhenGoneAsync(Path.Combine(Inbox, "adt-4.hl7"));
            await MessagingServer.EventuallyAsync(async () => (await StoredAsync(first, "FILE-STORED"))?.State == MessageStates.Sent, "the first message is sent");
        }

        // While CareHub is down: a new file arrives, and the stored one is back as if the process had died after storing
        // its message and before moving it.
        File.Copy(Processed("adt-4.hl7"), Path.Combine(Inbox, "adt-4.hl7"));
        await File.WriteAllTextAsync(Path.Combine(Inbox, "adt-5.hl7"), MessagingServer.Adt("FILE-LEFT"), Ct);

        await using var second = await MessagingServer.StartAsync(Channel(destination: "record"), dataDirectory: data);
        await WhenGoneAsync(Path.Combine(Inbox, "adt-4.hl7"));
        await WhenGoneAsync(Path.Combine(Inbox, "adt-5.hl7"));

        await MessagingServer.EventuallyAsync(async () => await second.PatientsWithControlIdAsync("FILE-LEFT") == 1, "the file left behind reaches the record");
        Assert.Equal(1, await second.PatientsWithControlIdAsync("FILE-STORED"));
        Assert.Single(await second.Store.SearchAsync(new MessageQuery(ControlId: "FILE-STORED"), Ct));
        Assert.True(File.Exists(Processed("adt-4.hl7")) && File.Exists(Processed("adt-5.hl7")));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }
}
