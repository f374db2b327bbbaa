using BenchmarkDotNet.Attributes;

namespace CareHub.Hl7v2.Bench;

/// <summary>Throughput over the whole sample corpus; MB/s is computed from the mean by <see cref="Program"/>.</summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private byte[][] _files = [];

    [GlobalSetup]
    public void Setup() => _files = Corpus.Load();

    [Benchmark(Baseline = true)]
    public int Scan() => Corpus.Scan(_files);

    [Benchmark]
    public int Parse() => Corpus.Parse(_files);

    [Benchmark]
    public int ParseAndWalk() => Corpus.ParseAndWalk(_files);
}
