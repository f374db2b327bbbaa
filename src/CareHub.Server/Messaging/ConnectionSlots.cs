using System.Net;

namespace CareHub.Server.Messaging;

/// <summary>
/// The connections an MLLP listener serves at once: at most <c>max</c> in all, <c>perAddress</c> from one remote address,
/// and anonymous ones (neither from an allowed address nor authenticated by certificate) at most <c>max - reserved</c>,
/// so the reserved slots stay free for known senders whatever anonymous peers do.
/// </summary>
internal sealed class ConnectionSlots(int max, int perAddress, int reserved)
{
    private readonly Lock gate = new();
    private readonly Dictionary<IPAddress, int> byAddress = [];
    private int total;
    private int anonymous;

    /// <summary>One admitted connection: its address, and whether its sender is known.</summary>
    internal sealed class Connection(IPAddress address, bool known)
    {
        public IPAddress Address { get; } = address;

        public bool Known { get; set; } = known;
    }

    /// <summary>Takes a slot, or returns null with the reason when none may be taken.</summary>
    public Connection? TryTake(IPAddress address, bool known, out string? refusal)
    {
        lock (gate)
        {
            if (byAddress.GetValueOrDefault(address) >= perAddress)
            {
                refusal = $"the address already holds MaxConnectionsPerAddress ({perAddress}) connections";
                return null;
            }

            if (total >= max)
            {
                refusal = $"MaxConnections ({max}) connections are open";
                return null;
            }

            if (!known && anonymous >= max - reserved)
            {
                refusal = $"the slots left ({reserved}) are reserved for allowed addresses and authenticated senders";
                return null;
            }

            total++;
            anonymous += known ? 0 : 1;
            byAddress[address] = byAddress.GetValueOrDefault(address) + 1;
            refusal = null;
            return new Connection(address, known);
        }
    }

    /// <summary>The connection's sender proved who it is (client certificate): it no longer counts as anonymous.</summary>
    public void Authenticated(Connection connection)
    {
        lock (gate)
        {
            if (!connection.Known)
            {
                connection.Known = true;
                anonymous--;
            }
        }
    }

    public void Release(Connection connection)
    {
        lock (gate)
        {
            total--;
            anonymous -= connection.Known ? 0 : 1;
            var left = byAddress[connection.Address] - 1;
            if (left == 0)
            {
                byAddress.Remove(connection.Address);
            }
            else
            {
                byAddress[connection.Address] = left;
            }
        }
    }
}
