using System.Text;
using CareHub.Directories;
using CareHub.Records;
using CareHub.Tests.Records;
using Hl7.Fhir.Model;

namespace CareHub.Tests.Directories;

/// <summary>
/// carehub import ods: NHS Digital's ODS extracts into Organizations through the door, on each store. The real extracts
/// come from ../shared/data/ods (skipped with a reason when absent); the bad-input cases are small files written here.
/// </summary>
public abstract class OdsImportTests : IAsyncLifetime
{
    private const string Role = OdsOrganizationMapper.OrganisationRoleSystem;
    private readonly string folder = Path.Combine(Path.GetTempPath(), "carehub-ods-" + Guid.NewGuid().ToString("N"));
    private readonly RequestContext context = RecordsFixture.System();
    private DirectoryStores? stores;

    protected abstract bool Postgres { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RecordService Records => stores!.Records;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(folder);
        stores = await DirectoryStores.CreateAsync(Postgres, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (stores is not null)
        {
            await stores.DisposeAsync();
        }

        Directory.Delete(folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task imports_the_real_practices_of_a_commissioner_and_the_trusts_and_finds_them_by_name_postcode_type_and_parent()
    {
        var practices = Write("epraccur.csv", SharedPractices("00K"));
        var trusts = Path.Combine(SharedData.Require("ods"), "etr.csv");

        var summary = await Import([practices, trusts]);

        Assert.Equal((85 + 241, 85 + 241, 0, 0, 0), (summary.Read, summary.Added, summary.Updated, summary.Unchanged, summary.Closed));
        var densham = await Read("A81001");
        Assert.Equal("THE DENSHAM SURGERY", densham.Name);
        Assert.Equal(OdsOrganizationMapper.OdsOrganizationCodeSystem, densham.Identifier.Single().System);
        Assert.Equal("Organization/00K", densham.PartOf?.Reference);
        Assert.Equal("01642 672351", densham.Telecom.Single().Value);
        Assert.Equal(["THE HEALTH CENTRE", "LAWSON STREET", "STOCKTON-ON-TEES", "CLEVELAND"], densham.Address.Single().Line);

        Assert.Equal(["A81001"], await Ids(("name", "the densham")));
        var healthCentre = await Ids(("address-postalcode", "TS18 1HU"));
        Assert.Contains("A81001", healthCentre);
        Assert.DoesNotContain("A81002", healthCentre);
        Assert.Contains("A81001", await Ids(("type", $"{Role}|RO76")));
        Assert.DoesNotContain("RTH", await Ids(("type", $"{Role}|RO76")));
        Assert.Contains("RTH", await Ids(("type", $"{Role}|RO197")));
        Assert.Equal(85, (await Ids(("partof", "Organization/00K"))).Count);
        var closed = await Ids(("partof", "Organization/00K"), ("active", "false"));
        Assert.Contains("A81003", closed);
        Assert.DoesNotContain("A81001", closed);
    }

    [Fact]
    public async Task reimporting_the_same_extract_rewrites_nothing()
    {
        var practices = Write("epraccur.csv", SharedPractices("00K"));
        await Import([practices]);
        var version = (await Read("A81001")).Meta?.VersionId;

        var again = await Import([practices]);

        Assert.Equal((0, 0, 85, 0), (again.Added, again.Updated, again.Unchanged, again.Closed));
        Assert.Equal(version, (await Read("A81001")).Meta?.VersionId);
    }

    [Fact]
    public async Task a_changed_row_is_updated_and_an_organisation_a_full_extract_no_longer_lists_is_closed()
    {
        await Import([Write("epraccur.csv", [Practice("A00001", "FIRST SURGERY"), Practice("A00002", "SECOND SURGERY"), Practice("A00003", "THIRD SURGERY")])]);

        var summary = await Import([Write("epraccur.csv", [Practice("A00001", "FIRST SURGERY"), Practice("A00002", "SECOND MEDICAL CENTRE")])]);

        Assert.Equal((0, 1, 1, 1), (summary.Added, summary.Updated, summary.Unchanged, summary.Closed));
        Assert.Equal("SECOND MEDICAL CENTRE", (await Read("A00002")).Name);
        Assert.False((await Read("A00003")).Active);
        Assert.Equal(["A00003"], await Ids(("active", "false")));
    }

    [Fact]
    public async Task a_partial_extract_closes_nothing_and_a_trust_extract_never_closes_practices()
    {
        await Import([Write("epraccur.csv", [Practice("A00001", "FIRST SURGERY"), Practice("A00002", "SECOND SURGERY")])]);

        var partial = await Import([Write("epraccur.csv", [Practice("A00001", "FIRST SURGERY")])], closeMissing: false);
        var trusts = await Import([Write("etr.csv", [Trust("RXX", "AN NHS TRUST")])]);

        Assert.Equal(0, partial.Closed);
        Assert.Equal((1, 0), (trusts.Added, trusts.Closed));
        Assert.Empty(await Ids(("active", "false")));
    }

    [Fact]
    public async Task a_status_that_closes_a_practice_makes_it_inactive_with_its_close_date()
    {
        await Import([Write("epraccur.csv", [Practice("A00001", "FIRST SURGERY", status: "C", close: "20200331")])]);

        var organization = await Read("A00001");
        Assert.False(organization.Active);
        var period = (Period?)organization.GetExtension(OdsOrganizationMapper.TypedPeriodUrl)!.GetExtension("period")!.Value;
        Assert.Equal(("1974-04-01", "2020-03-31"), (period?.Start, period?.End));
    }

    public static TheoryData<string, string, string> BadFiles => new()
    {
        { "epraccur.csv", Practice("A00001", "ONE") + "\n" + Practice("A00002", "TWO").Replace(",\"4\",\"\"", string.Empty, StringComparison.Ordinal) + "\n", "line 2: has 25 columns" },
        { "epraccur.csv", Practice("A00001", "ONE") + "\n" + Practice("A00002", "TWO")[..40], "line 2: has a quoted value that is never closed (the file looks truncated)" },
        { "etr.csv", "RXA,ONE TRUST,Y55,Q77,L1,,,TOWN,,AB1 2CD,20110701,,,,,,,,,,,0,,F\nRXB,TWO TRUST,Y55,Q77,L1,,,TO", "line 2: has 8 columns, but this etr (NHS trusts) extract has 24 on line 1 (the file looks truncated)" },
        { "epraccur.csv", Practice("A00001", "ONE") + "\n" + Practice("A00002", "TWO", open: "19741301") + "\n", "line 2: column 11 must be a date written YYYYMMDD, not '19741301'" },
        { "epraccur.csv", Practice("A00001", "ONE") + "\n" + Practice("A00001", "ONE AGAIN") + "\n", "line 2: repeats organisation code A00001 of line 1" },
        { "epraccur.csv", "\"A00001\",\"ONE\",\"Y63\"\n", "line 1: has 3 columns, which is not an ODS layout CareHub reads" },
        { "ets.csv", "RXA01,A SITE,Y55,Q77,L1,,,TOWN,,AB1 2CD,20110701,,,,,,,,,,,0,,F\n", "line 1: has the ODS organisation layout (24 columns) that several extracts share" },
        { "epraccur.csv", string.Empty, "is empty" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task a_malformed_file_is_refused_with_its_line_and_nothing_of_any_file_is_loaded(string name, string content, string expected)
    {
        var good = Write("etr.csv", [Trust("RXX", "A GOOD TRUST")]);
        var bad = Path.Combine(folder, "bad", name);
        Directory.CreateDirectory(Path.GetDirectoryName(bad)!);
        await File.WriteAllTextAsync(bad, content, Ct);

        var error = await Assert.ThrowsAsync<OdsFormatException>(() => Import([good, bad]));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith(bad, error.Message, StringComparison.Ordinal);
        Assert.Empty(await Ids());
    }

    [Fact]
    public async Task a_file_that_is_not_utf8_is_refused_with_the_line_of_the_first_bad_byte()
    {
        var bad = Path.Combine(folder, "epraccur.csv");
        var bytes = Encoding.ASCII.GetBytes(Practice("A00001", "ONE") + "\n").Concat(Encoding.Latin1.GetBytes(Practice("A00002", "CAFÉ SURGERY") + "\n")).ToArray();
        await File.WriteAllBytesAsync(bad, bytes, Ct);

        var error = await Assert.ThrowsAsync<OdsFormatException>(() => Import([bad]));

        Assert.Contains("line 2: is not UTF-8 text", error.Message, StringComparison.Ordinal);
        Assert.Empty(await Ids());
    }

    private async Task<OdsImportSummary> Import(IReadOnlyList<string> files, bool closeMissing = true) =>
        await new OdsImport(Records) { BatchSize = 50 }.ImportFilesAsync(context, files, new OdsImportOptions { CloseMissing = closeMissing }, Ct);

    private async Task<Organization> Read(string id) =>
        Assert.IsType<Organization>((await Records.ReadAsync(context, "Organization", id, null, Ct)).ToResource());

    private async Task<List<string>> Ids(params (string Name, string Value)[] criteria)
    {
        var bundle = await Records.SearchAsync(context, "Organization", [.. criteria.Select(c => new KeyValuePair<string, string>(c.Name, c.Value)), new("_count", "1000")], Ct);
        return [.. bundle.Entry.Select(e => e.Resource!.Id!).Order(StringComparer.Ordinal)];
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        var path = Path.Combine(folder, Guid.NewGuid().ToString("N")[..8], name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\r\n")));
        return path;
    }

    // epraccur quotes every field, and names hold commas: fields are split at the quote-comma-quote between them.
    private static IEnumerable<string> SharedPractices(string commissioner) =>
        File.ReadLines(Path.Combine(SharedData.Require("ods"), "epraccur.csv")).Where(l => l.Split("\",\"")[14] == commissioner);

    private static string Practice(string code, string name, string status = "A", string open = "19740401", string close = "") =>
        string.Join(',', new[]
        {
            code, name, "Y63", "Q74", "THE HEALTH CENTRE", "LAWSON STREET", "STOCKTON-ON-TEES", "CLEVELAND", string.Empty, "TS18 1HU",
            open, close, status, "B", "00K", "20130401", string.Empty, "01642 000000", string.Empty, string.Empty, string.Empty, "0",
            string.Empty, "00K", string.Empty, "4", string.Empty,
        }.Select(f => $"\"{f}\""));

    private static string Trust(string code, string name) =>
        $"{code},{name},Y55,Q77,TRUST HQ,HIGH STREET,,WORCESTER,WORCESTERSHIRE,WR4 9RW,20110701,,,,,,,,,,,0,,F";
}

/// <summary>The ODS import on the embedded store.</summary>
public sealed class SqliteOdsImportTests : OdsImportTests
{
    protected override bool Postgres => false;
}

/// <summary>The ODS import on PostgreSQL.</summary>
public sealed class PostgresOdsImportTests : OdsImportTests
{
    protected override bool Postgres => true;
}
