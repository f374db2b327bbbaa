using CareHub.Directories;

namespace CareHub.Tests.Directories;

/// <summary>The real ODS extracts of ../shared/data/ods read whole: their layouts detected and every record accepted.</summary>
public sealed class OdsExtractTests
{
    [Fact]
    public void reads_every_practice_of_the_real_epraccur_extract()
    {
        var extract = OdsExtract.Read(Path.Combine(SharedData.Require("ods"), "epraccur.csv"));

        Assert.Equal(OdsFamily.GpPractices, extract.Family);
        Assert.Equal(14357, extract.Rows.Count);
        Assert.Equal(11474, extract.Rows.Count(r => r.Status == "A"));
        var densham = extract.Rows[0];
        Assert.Equal(("A81001", "00K", "00K", 4, new DateOnly(1974, 4, 1)), (densham.Code, densham.Parent, densham.ProviderPurchaser, densham.PrescribingSetting, densham.OpenDate));
    }

    [Fact]
    public void reads_every_trust_of_the_real_etr_extract_in_its_older_24_column_layout()
    {
        var extract = OdsExtract.Read(Path.Combine(SharedData.Require("ods"), "etr.csv"));

        Assert.Equal(OdsFamily.NhsTrusts, extract.Family);
        Assert.Equal(241, extract.Rows.Count);
        Assert.Equal(2, extract.Rows.Count(r => r.CloseDate is not null));
        Assert.All(extract.Rows, r => Assert.Null(r.Status));
    }
}
