using System.Text;
using CareHub.Fhir;
using CareHub.Hl7v2;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Fuzz;

/// <summary>
/// A bounded random-input pass over the parsers that read what the outside world sends: FHIR JSON and XML bodies, search
/// parameters and HL7 v2 messages. Inputs are real samples (../shared/data) mutated by a seeded generator, so every run
/// sees the same inputs and a failure names the seed and iteration that reproduce it. Each parser may accept an input or
/// refuse it with its own error type (a 4xx <see cref="FhirException"/>, an <see cref="Hl7ParseException"/>); any other
/// exception, which would be a 500 or a lost message, fails the test. Inputs are capped in size, so nothing runs away.
/// A longer pass by hand: <c>CAREHUB_FUZZ_SEED=7 CAREHUB_FUZZ_ITERATIONS=100000 dotnet test --filter ParserFuzzTests</c>.
/// </summary>
public sealed class ParserFuzzTests
{
    /// <summary>Mutations per parser; CAREHUB_FUZZ_ITERATIONS runs a longer pass by hand.</summary>
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("CAREHUB_FUZZ_ITERATIONS"), out var n) ? n : 3_000;

    private const int MaxInputBytes = 64 * 1024;

    /// <summary>The generator's seed; CAREHUB_FUZZ_SEED explores other inputs by hand (a failure names its seed).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("CAREHUB_FUZZ_SEED"), out var s) ? s : 20261207;

    /// <summary>Fragments that parsers find hard: structure, escapes, delimiters and characters FHIR forbids.</summary>
    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u0000", "\\ud800", "\\udc00", "\\u001b", "null", "1e999", "-0", "\"resourceType\"",
        "<", ">", "/>", "</", "<extension url=\"x\">", "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>", "&a;", "&#0;", "&#xD800;", "<![CDATA[", "]]>", "xmlns=\"http://hl7.org/fhir\"",
        "|", "^", "~", "&", "\\E\\", "\\X00\\", "\r", "\n", "MSH|^~\\&|", "\u0000", "\uFFFD", "é", "\u200B", "%", "%00", "$", ".", "_has:", ":missing",
    ];

    private static IEnumerable<(string Name, byte[] Bytes)> FhirJsonSamples()
    {
        var folder = SharedData.Require("synthea");
        foreach (var file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).Take(3))
        {
            var bundle = (Bundle)FhirSerialization.Parse(File.ReadAllText(file), FhirFormat.Json);
            foreach (var resource in bundle.Entry.Select(e => e.Resource).Where(r => r is not null).DistinctBy(r => r!.TypeName).Take(25))
            {
                var json = Encoding.UTF8.GetBytes(FhirSerialization.ToJson(resource!));
                if (json.Length <= MaxInputBytes / 2)
                {
                    yield return ($"{Path.GetFileName(file)} {resource!.TypeName}", json);
                }
            }
        }
    }

    [Fact]
    public void fhir_json_bodies_are_parsed_or_refused_with_a_4xx()
    {
        var samples = FhirJsonSamples().ToList();
        Assert.NotEmpty(samples);
        Run(samples, bytes => ParseFhir(bytes, FhirFormat.Json));
    }

    [Fact]
    public void fhir_xml_bodies_are_parsed_or_refused_with_a_4xx()
    {
        var samples = FhirJsonSamples().Select(s => (s.Name, Encoding.UTF8.GetBytes(FhirSerialization.ToXml(FhirSerialization.Parse(Encoding.UTF8.GetString(s.Bytes), FhirFormat.Json))))).ToList();
        Assert.NotEmpty(samples);
        Run(samples, bytes => ParseFhir(bytes, FhirFormat.Xml));
    }

    [Fact]
    public void search_parameters_are_parsed_or_refused_with_a_4xx()
    {
        string[] queries =
        [
            "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&_count=10",
            "name=smi,jon&birthdate=ge1970-01-01&birthdate=lt2000&gender:not=male&_sort=-birthdate,name",
            "general-practitioner:Organization.name=surgery&_include=Patient:general-practitioner&_revinclude=Observation:subject",
            "_has:Observation:subject:code=http://loinc.org|8867-4&_has:Condition:patient:_security=PSY&_summary=count",
            "link:missing=true&address-postalcode=LS1%204AP&telecom=phone|0113&_total=accurate&_elements=name,birthDate",
            "_id=a,b,c&_lastUpdated=ap2024-01-01T10:00:00Z&identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123",
            "family:exact=O\\,Brien&given:contains=an&_content=asthma&_text=diabetes&_cursor=WyJQYXRpZW50IiwiYSJd",
        ];
        var samples = queries.Select(q => (q, Encoding.UTF8.GetBytes(q))).ToList();
        Run(samples, bytes =>
        {
            var parameters = QueryString.Parse(Encoding.UTF8.GetString(bytes));
            foreach (var strict in new[] { false, true })
            {
                try
                {
                    SearchRequest.Parse(["Patient"], parameters, strict, "http://localhost/fhir", TimeProvider.System);
                }
                catch (FhirException e) when ((int)FhirStatus.Of(e) is >= 400 and < 500)
                {
                }
            }
        });
    }

    [Fact]
    public void hl7v2_messages_are_parsed_or_refused_with_a_parse_error_and_an_ack()
    {
        var folder = SharedData.Require("hl7v2/samples");
        var samples = Directory.GetFiles(folder, "*.hl7").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToList();
        Assert.NotEmpty(samples);
        Run(samples, bytes =>
        {
            try
            {
                var message = Hl7Message.Parse(bytes);
                // What the broker reads of every message before it routes it, and the message written back out.
                _ = (message.MessageType, message.TriggerEvent, message.ControlId, message.Version, message.Get("PID-3"), message.Get("PID-5-1"));
                _ = message.Encode();
            }
            catch (Hl7ParseException error)
            {
                // A message that does not parse is answered with an AR/AE ACK; building that must not fail either.
                _ = Hl7Acknowledgement.ForUnparseable(bytes, error);
            }
        });
    }

    private static void ParseFhir(byte[] bytes, FhirFormat format)
    {
        try
        {
            FhirSerialization.Parse(bytes, format, FhirInputCheck.DefaultMaxDepth);
        }
        catch (FhirException e) when ((int)FhirStatus.Of(e) is >= 400 and < 500)
        {
            Assert.All(e.Issues, i => Assert.True(i.Diagnostics.Length <= FhirException.MaxDiagnostics + 1, "an issue quotes more than the bound"));
        }
    }

    /// <summary>Runs <paramref name="parse"/> on the samples and <see cref="Iterations"/> mutations of them.</summary>
    private static void Run(IReadOnlyList<(string Name, byte[] Bytes)> samples, Action<byte[]> parse)
    {
        var random = new Random(Seed);
        foreach (var (name, bytes) in samples)
        {
            Check(parse, bytes, $"sample {name}");
        }

        for (var i = 0; i < Iterations; i++)
        {
            var (name, bytes) = samples[random.Next(samples.Count)];
            var mutated = Mutate(random, bytes, samples);
            Check(parse, mutated, $"seed {Seed}, iteration {i}, mutation of {name}");
        }
    }

    private static void Check(Action<byte[]> parse, byte[] input, string what)
    {
        try
        {
            parse(input);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            var excerpt = Encoding.UTF8.GetString(input, 0, Math.Min(input.Length, 300));
            var where = string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(6));
            Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}\n{where}\ninput ({input.Length} bytes) starts: {excerpt}");
        }
    }

    /// <summary>One to four edits: flip, insert, delete, duplicate, splice from another sample, a hard token, or deep nesting.</summary>
    private static byte[] Mutate(Random random, byte[] source, IReadOnlyList<(string Name, byte[] Bytes)> samples)
    {
        var bytes = new List<byte>(source);
        var edits = random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(8))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, random.Next(1, 64)));
                    break;
                case 3 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, random.Next(1, 256));
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                case 4:
                    var other = samples[random.Next(samples.Count)].Bytes;
                    var from = random.Next(other.Length);
                    bytes.InsertRange(at, other.AsSpan(from, Math.Min(other.Length - from, random.Next(1, 512))).ToArray());
                    break;
                case 5 or 6:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]));
                    break;
                default:
                    // Deep nesting, past the parser's limit as often as not.
                    var token = Tokens[random.Next(Tokens.Length)];
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(token, random.Next(50, 3_000)))));
                    break;
            }

            if (bytes.Count > MaxInputBytes)
            {
                bytes.RemoveRange(MaxInputBytes, bytes.Count - MaxInputBytes);
            }
        }

        return [.. bytes];
    }
}
