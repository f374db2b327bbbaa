using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace CareHub.Bench;

/// <summary>
/// The ceiling: what ASP.NET Core and SQLite on this machine can do with the same bodies when nothing else is done.
/// The database is opened as CareHub's embedded store opens it (WAL, synchronous=NORMAL, the same pragmas on every
/// pooled open, BEGIN IMMEDIATE under one in-process writer lock) but there is no FHIR parsing or validation, no
/// authentication, no access policy, no audit, no index rows and no change feed: one row per resource.
/// <list type="bullet">
/// <item><c>POST /r/{type}</c> inserts the body as one row in its own transaction and echoes it (201, Location).</item>
/// <item><c>GET /r/{type}/{id}</c> reads the body by key.</item>
/// <item><c>POST /bundle</c> inserts every entry's resource, entry by entry, in one transaction; answers the locations.</item>
/// </list>
/// </summary>
public static class CeilingServer
{
    private const string JsonType = "application/fhir+json; charset=utf-8";

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        string? urls = null, data = null;
        for (var i = 0; i + 1 < args.Count; i += 2)
        {
            switch (args[i])
            {
                case "--urls":
                    urls = args[i + 1];
                    break;
                case "--data":
                    data = args[i + 1];
                    break;
            }
        }

        if (urls is null || data is null)
        {
            Console.Error.WriteLine("bench: ceiling-server needs --urls URL and --data DIR.");
            return 2;
        }

        var store = new CeilingStore(Path.Combine(data, "ceiling.db"));
        await store.CreateAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024 + 1);
        builder.Logging.ClearProviders();
        var app = builder.Build();

        app.MapGet("/", () => Results.Text("ceiling\n"));
        app.MapPost("/r/{type}", async (HttpContext http, string type) =>
        {
            var body = await ReadBodyAsync(http);
            var id = Guid.CreateVersion7().ToString();
            await store.InsertAsync([(type, id, body)], http.RequestAborted);
            http.Response.StatusCode = StatusCodes.Status201Created;
            http.Response.Headers.Location = $"/r/{type}/{id}";
            http.Response.ContentType = JsonType;
            await http.Response.WriteAsync(body, http.RequestAborted);
        });
        app.MapGet("/r/{type}/{id}", async (HttpContext http, string type, string id) =>
        {
            var body = await store.ReadAsync(type, id, http.RequestAborted);
            if (body is null)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            http.Response.ContentType = JsonType;
            await http.Response.WriteAsync(body, http.RequestAborted);
        });
        app.MapPost("/bundle", async (HttpContext http) =>
        {
            var body = await ReadBodyAsync(http);
            var rows = new List<(string, string, string)>();
            using (var bundle = JsonDocument.Parse(body))
            {
                foreach (var entry in bundle.RootElement.GetProperty("entry").EnumerateArray())
                {
                    var resource = entry.GetProperty("resource");
                    rows.Add((resource.GetProperty("resourceType").GetString()!, Guid.CreateVersion7().ToString(), resource.GetRawText()));
                }
            }

            await store.InsertAsync(rows, http.RequestAborted);
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(JsonSerializer.Serialize(rows.Select(r => $"{r.Item1}/{r.Item2}").ToList()), http.RequestAborted);
        });

        await app.RunAsync();
        return 0;
    }

    private static async Task<string> ReadBodyAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(http.RequestAborted);
    }

    private sealed class CeilingStore(string path)
    {
        private readonly string connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        private readonly SemaphoreSlim writer = new(1, 1);

        public async Task CreateAsync()
        {
            await using var connection = await OpenAsync(CancellationToken.None);
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE IF NOT EXISTS resource (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (type, id))";
            await command.ExecuteNonQueryAsync();
        }

        // As SqliteRecordStore.OpenAsync: the pragmas are set on every open of a pooled connection.
        private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
        {
            var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 30000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }

        public async Task InsertAsync(IReadOnlyList<(string Type, string Id, string Body)> rows, CancellationToken cancellationToken)
        {
            await writer.WaitAsync(cancellationToken);
            try
            {
                await using var connection = await OpenAsync(cancellationToken);
                await using var transaction = connection.BeginTransaction(deferred: false);
                await using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO resource (type, id, body) VALUES (@type, @id, @body)";
                var type = insert.Parameters.Add("@type", SqliteType.Text);
                var id = insert.Parameters.Add("@id", SqliteType.Text);
                var body = insert.Parameters.Add("@body", SqliteType.Text);
                foreach (var row in rows)
                {
                    type.Value = row.Type;
                    id.Value = row.Id;
                    body.Value = row.Body;
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }
            finally
            {
                writer.Release();
            }
        }

        public async Task<string?> ReadAsync(string type, string id, CancellationToken cancellationToken)
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var select = connection.CreateCommand();
            select.CommandText = "SELECT body FROM resource WHERE type = @type AND id = @id";
            select.Parameters.AddWithValue("@type", type);
            select.Parameters.AddWithValue("@id", id);
            return await select.ExecuteScalarAsync(cancellationToken) as string;
        }
    }
}
