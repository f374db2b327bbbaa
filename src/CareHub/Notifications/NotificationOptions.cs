using System.Net;

namespace CareHub.Notifications;

/// <summary>
/// How subscriptions' notifications are delivered and where they may go. Bound from <c>CareHub:Notifications</c>; checked
/// at start (<see cref="Validate"/>), failing with the setting's path.
/// </summary>
public sealed record NotificationOptions
{
    public const string SectionName = "CareHub:Notifications";

    /// <summary>False stops matching and delivery (Subscriptions are still checked and stored).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How long one delivery (connect, send, answer) may take before it counts as failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait before the first retry of a failed delivery; it doubles with each failure in a row.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between retries (a dead endpoint is still tried this often, so it catches up when it returns).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a subscription may fail without a success before it is marked dead (the reason on the Subscription).</summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The most deliveries in flight at once on one node, over all subscriptions.</summary>
    public int MaxConcurrentDeliveries { get; init; } = 8;

    /// <summary>How often delivery looks for due queues when nothing wakes it (a retry falling due, another node's work).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the engine reads the change feed for new changes when it has read to its end.</summary>
    public TimeSpan FeedInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Endpoints must be https; false allows http (tests, the demo's loopback receiver).</summary>
    public bool RequireHttps { get; init; } = true;

    /// <summary>Host names endpoints may name (<c>gp.example.nhs.uk</c>, or <c>*.example.nhs.uk</c> for its sub-domains); empty allows any name.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>
    /// Networks (CIDR) an endpoint's address may be in besides public addresses: the internal networks notifications may go
    /// to. Private, link-local and other non-public addresses outside these are refused.
    /// </summary>
    public IReadOnlyList<string> AllowedNetworks { get; init; } = [];

    /// <summary>Endpoints on public (globally routable) addresses are allowed; false limits endpoints to <see cref="AllowedNetworks"/>.</summary>
    public bool AllowPublicAddresses { get; init; } = true;

    /// <summary>Endpoints on this machine's loopback addresses are allowed (tests and the demo only).</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>The most <c>channel.header</c> values a Subscription may carry.</summary>
    public int MaxHeaders { get; init; } = 10;

    /// <summary>Throws with the setting's path when a value cannot work.</summary>
    public void Validate()
    {
        Positive(Timeout, nameof(Timeout));
        Positive(RetryDelay, nameof(RetryDelay));
        Positive(PollInterval, nameof(PollInterval));
        Positive(FeedInterval, nameof(FeedInterval));
        if (MaxRetryDelay < RetryDelay)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxRetryDelay)} must be at least {nameof(RetryDelay)} ({RetryDelay}).");
        }

        if (DeadAfter < RetryDelay)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(DeadAfter)} must be at least {nameof(RetryDelay)} ({RetryDelay}).");
        }

        if (MaxConcurrentDeliveries is < 1 or > 256)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxConcurrentDeliveries)} must be 1 to 256 (it is {MaxConcurrentDeliveries}).");
        }

        if (MaxHeaders is < 0 or > 50)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxHeaders)} must be 0 to 50 (it is {MaxHeaders}).");
        }

        for (var i = 0; i < AllowedNetworks.Count; i++)
        {
            if (!IPNetwork.TryParse(AllowedNetworks[i], out _))
            {
                throw new InvalidOperationException($"{SectionName}:{nameof(AllowedNetworks)}:{i} '{AllowedNetworks[i]}' is not an address range in CIDR notation (10.20.0.0/16).");
            }
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{name} must be a positive time span (it is {value}).");
        }
    }
}
