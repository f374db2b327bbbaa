using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Security;

/// <summary>
/// The signing keys an issuer publishes as a JWK Set (RFC 7517), fetched on first use and kept in memory.
/// It fetches again when the keys are older than <see cref="MaximumAge"/> (so a withdrawn key stops being
/// trusted), or when a token names a key id it does not hold (the issuer rotated its keys); but never more
/// often than <see cref="MinimumRefreshInterval"/> after a successful fetch, or <see cref="RetryAfterFailure"/>
/// after a failed one, so tokens with made-up key ids cannot turn CareHub into a flood of requests.
/// A failed fetch keeps the keys already held.
/// </summary>
internal sealed partial class JwksCache : IDisposable
{
    public static readonly TimeSpan MinimumRefreshInterval = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaximumAge = TimeSpan.FromHours(1);
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(30);

    /// <summary>A JWK Set of a few keys is a few kilobytes; anything this large is not one.</summary>
    private const int MaximumBytes = 256 * 1024;

    private readonly Uri uri;
    private readonly HttpClient http;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private volatile Snapshot? snapshot;
    private long nextAttemptTicks = DateTimeOffset.MinValue.UtcTicks;

    public JwksCache(Uri uri, HttpClient http, TimeProvider time, ILogger logger)
    {
        this.uri = uri;
        this.http = http;
        this.time = time;
        this.logger = logger;
    }

    private int fetchCount;

    /// <summary>The number of fetches attempted, for tests and diagnostics.</summary>
    public int FetchCount => Volatile.Read(ref fetchCount);

    /// <summary>The issuer's current keys, refreshed first if stale or if <paramref name="keyId"/> is unknown.</summary>
    public async Task<IReadOnlyList<SecurityKey>> GetKeysAsync(string? keyId, CancellationToken cancellationToken)
    {
        var snapshot = this.snapshot;
        if (!FetchIsDue(snapshot, keyId))
        {
            return snapshot?.Keys ?? [];
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            // Another caller may have fetched while this one waited.
            snapshot = this.snapshot;
            if (FetchIsDue(snapshot, keyId))
            {
                snapshot = await FetchAsync(cancellationToken) ?? snapshot;
            }
        }
        finally
        {
            gate.Release();
        }

        return snapshot?.Keys ?? [];
    }

    public void Dispose() => gate.Dispose();

    private bool FetchIsDue(Snapshot? snapshot, string? keyId)
    {
        var now = this.time.GetUtcNow();
        if (now.UtcTicks < Interlocked.Read(ref nextAttemptTicks))
        {
            return false;
        }

        return snapshot is null
            || now - snapshot.FetchedAt >= MaximumAge
            || (keyId is not null && !snapshot.KeyIds.Contains(keyId));
    }

    private async Task<Snapshot?> FetchAsync(CancellationToken cancellationToken)
    {
        var started = this.time.GetUtcNow();
        Interlocked.Increment(ref fetchCount);
        try
        {
            using var response = await this.http.GetAsync(this.uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"the JWK Set endpoint answered {(int)response.StatusCode}");
            }

            if (response.Content.Headers.ContentLength > MaximumBytes)
            {
                throw new InvalidDataException($"the JWK Set is larger than {MaximumBytes} bytes");
            }

            var json = await ReadBoundedAsync(response.Content, cancellationToken);
            var keys = new JsonWebKeySet(json).GetSigningKeys().ToArray();
            var snapshot = new Snapshot(keys, started);
            this.snapshot = snapshot;
            Interlocked.Exchange(ref nextAttemptTicks, (started + MinimumRefreshInterval).UtcTicks);
            LogFetched(this.logger, this.uri, keys.Length);
            return snapshot;
        }
        catch (Exception e) when (e is HttpRequestException or InvalidDataException or ArgumentException or System.Text.Json.JsonException
                                      or TaskCanceledException { CancellationToken.IsCancellationRequested: false })
        {
            // ArgumentException: IdentityModel's reading of a malformed JWK Set; TaskCanceledException without
            // our token cancelled: the HttpClient timeout.
            Interlocked.Exchange(ref nextAttemptTicks, (started + RetryAfterFailure).UtcTicks);
            LogFetchFailed(this.logger, this.uri, e.GetType().Name, e.Message);
            return null;
        }
    }

    private static async Task<string> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaximumBytes)
            {
                throw new InvalidDataException($"the JWK Set is larger than {MaximumBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Fetched {KeyCount} signing keys from {JwksUri}")]
    private static partial void LogFetched(ILogger logger, Uri jwksUri, int keyCount);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Could not fetch signing keys from {JwksUri}: {ErrorType} {ErrorMessage}")]
    private static partial void LogFetchFailed(ILogger logger, Uri jwksUri, string errorType, string errorMessage);

    private sealed class Snapshot(IReadOnlyList<SecurityKey> keys, DateTimeOffset fetchedAt)
    {
        public IReadOnlyList<SecurityKey> Keys { get; } = keys;

        public DateTimeOffset FetchedAt { get; } = fetchedAt;

        public HashSet<string> KeyIds { get; } = keys.Select(k => k.KeyId).OfType<string>().ToHashSet(StringComparer.Ordinal);
    }
}
