using System.Buffers.Binary;

namespace CareHub.Demo;

/// <summary>
/// SplitMix64: a tiny generator whose sequence is fixed by this code alone, so demo data is identical
/// on every runtime and version (System.Random makes no such promise across .NET releases).
/// </summary>
internal sealed class DemoRandom
{
    private ulong state;

    private DemoRandom(ulong seed) => state = seed;

    /// <summary>An independent stream for one purpose (e.g. patient 17) under one seed.</summary>
    public static DemoRandom For(int seed, string stream, int index)
    {
        // FNV-1a over the stream name: string.GetHashCode is randomised per process and cannot be used.
        var hash = 14695981039346656037UL;
        foreach (var c in stream)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        var random = new DemoRandom(hash ^ ((ulong)(uint)seed << 32) ^ (uint)index);
        random.NextUInt64();
        return random;
    }

    public ulong NextUInt64()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>0 &lt;= result &lt; <paramref name="maxExclusive"/>. The modulo bias is far below anything demo data could show.</summary>
    public int Next(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);

    public int Next(int minInclusive, int maxExclusive) => minInclusive + Next(maxExclusive - minInclusive);

    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double probability) => NextDouble() < probability;

    /// <summary>A value from a normal-ish distribution (mean of three uniforms), rounded to <paramref name="decimals"/>.</summary>
    public decimal Around(double mean, double spread, int decimals)
    {
        var u = (NextDouble() + NextDouble() + NextDouble()) / 3.0;
        return Math.Round((decimal)(mean + ((u - 0.5) * 2 * spread)), decimals, MidpointRounding.AwayFromZero);
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>A version 4 UUID built from this stream.</summary>
    public Guid NextGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, NextUInt64());
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], NextUInt64());
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
