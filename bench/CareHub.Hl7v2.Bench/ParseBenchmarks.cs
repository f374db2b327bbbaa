using BenchmarkDotNet.Attributes;

namespace CareHub.Hl7v2.Bench;

/// <summary>Throughput over the whole sample corpus; MB/s is computed from the mean by <see cref="Program"/>.</summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private byte[][] files = [];

    [GlobalSetup]
    public void Setup() => files = Corpus.Load();

    [Benchmark(Baseline = true)]
    public int Scan() => Corpus.Scan(files);

    [Benchmark]
    public int Parse() => Corpus.Parse(files);

    [Benchmark]
    public int ParseAndWalk() => Corpus.ParseAndWalk(files);
}
