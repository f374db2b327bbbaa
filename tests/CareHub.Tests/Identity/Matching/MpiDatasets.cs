using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

/// <summary>
/// Reads the two shared MPI datasets into person records. Each record's LocalId starts with its row
/// index ("17#rec-3-dup-0") so the truth can be looked up; neither file holds quoted commas.
/// </summary>
public static class MpiDatasets
{
    /// <summary>
    /// Splink's fake_1000: unique_id, first_name, surname, dob (YYYY-MM-DD), city, email, cluster
    /// (the true person; the shared data README calls it group).
    /// </summary>
    public static LabelledRecords SplinkFake1000(string path)
    {
        var (header, rows) = Read(path);
        int Col(string name) => Array.FindIndex(header, h => string.Equals(h, name, StringComparison.Ordinal));
        int first = Col("first_name"), surname = Col("surname"), dob = Col("dob"), city = Col("city"), email = Col("email");
        var truthColumn = Col("cluster") >= 0 ? Col("cluster") : Col("group");
        var records = new List<PersonRecord>();
        var truth = new List<string>();
        foreach (var row in rows)
        {
            records.Add(new PersonRecord("splink", $"{records.Count}#{row[Col("unique_id")]}")
            {
                GivenNames = Blank(row[first]) is { } g ? [g] : [],
                FamilyName = Blank(row[surname]),
                BirthDate = PartialDate.TryParse(row[dob], out var d) ? d : null,
                Town = Blank(row[city]),
                Email = Blank(row[email]),
            });
            truth.Add(row[truthColumn]);
        }

        return new LabelledRecords("splink_fake_1000", records, truth);
    }

    /// <summary>
    /// FEBRL dataset 1: rec_id, given_name, surname, street_number, address_1, address_2, suburb,
    /// postcode (Australian, four digits), state, date_of_birth (YYYYMMDD), soc_sec_id. The social
    /// security id has no counterpart in a UK person record and is not used; neither is the state.
    /// </summary>
    public static LabelledRecords Febrl1(string path)
    {
        var (_, rows) = Read(path);
        var records = new List<PersonRecord>();
        var truth = new List<string>();
        foreach (var row in rows)
        {
            var id = row[0];
            var lines = new[] { Join(row[3], row[4]), row[5] }.Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
            records.Add(new PersonRecord("febrl", $"{records.Count}#{id}")
            {
                GivenNames = Blank(row[1]) is { } g ? [g] : [],
                FamilyName = Blank(row[2]),
                AddressLines = lines,
                Town = Blank(row[6]),
                Postcode = Blank(row[7]),
                BirthDate = PartialDate.TryParse(row[9], out var d) ? d : null,
            });
            truth.Add(id.Split('-')[1]);
        }

        return new LabelledRecords("febrl_dataset1", records, truth);
    }

    private static (string[] Header, List<string[]> Rows) Read(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',').Select(h => h.Trim()).ToArray();
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',').Select(c => c.Trim()).ToArray()).ToList();
        return (header, rows);
    }

    private static string? Blank(string value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string Join(string a, string b) => $"{a} {b}".Trim();
}

/// <summary>A labelled record set: the records and, for each, the id of the true person.</summary>
public sealed record LabelledRecords(string Name, IReadOnlyList<PersonRecord> Records, IReadOnlyList<string> Truth)
{
    /// <summary>How many pairs of records belong to the same person.</summary>
    public long TruePairs => Truth.GroupBy(t => t, StringComparer.Ordinal).Sum(g => (long)g.Count() * (g.Count() - 1) / 2);

    public bool IsTrueMatch(PersonRecord left, PersonRecord right) =>
        string.Equals(Truth[int.Parse(left.LocalId.Split('#')[0], System.Globalization.CultureInfo.InvariantCulture)],
            Truth[int.Parse(right.LocalId.Split('#')[0], System.Globalization.CultureInfo.InvariantCulture)], StringComparison.Ordinal);
}

/// <summary>Pairwise precision and recall of one outcome against the truth.</summary>
public sealed record LinkageScore(
    string Dataset, MatchOutcome Outcome, int Records, int Comparisons, long AllPairs, long TruePairs, int Predicted, int Correct, double Seconds)
{
    public double Precision => Predicted == 0 ? 1 : (double)Correct / Predicted;

    public double Recall => TruePairs == 0 ? 1 : (double)Correct / TruePairs;

    public static LinkageScore Of(LabelledRecords data, LinkageRun run, MatchOutcome outcome, double seconds)
    {
        var predicted = run.Results.Where(r => r.Outcome == outcome).ToList();
        var n = data.Records.Count;
        return new LinkageScore(
            data.Name, outcome, n, run.Results.Count, (long)n * (n - 1) / 2, data.TruePairs, predicted.Count,
            predicted.Count(r => data.IsTrueMatch(r.Left, r.Right)), seconds);
    }

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Dataset}: {Comparisons} comparisons of {AllPairs} pairs ({100.0 * Comparisons / AllPairs:F1}%), {Outcome} precision {Precision:F4} recall {Recall:F4} ({Correct}/{Predicted} correct, {TruePairs} true pairs), {Seconds * 1000:F0} ms");
}
