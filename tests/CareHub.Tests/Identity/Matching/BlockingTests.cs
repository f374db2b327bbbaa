using CareHub.Identity.Matching;

namespace CareHub.Tests.Identity.Matching;

public class BlockingTests
{
    private static PreparedPerson Person(string given, string family, string dob, string? email = null) =>
        PreparedPerson.From(new PersonRecord("test", given + family + dob)
        {
            GivenNames = [given],
            FamilyName = family,
            BirthDate = PartialDate.TryParse(dob, out var d) ? d : null,
            Email = email,
        });

    [Fact]
    public void yields_each_pair_sharing_any_key_once_in_index_order()
    {
        var people = new[]
        {
            Person("Amelia", "Alexander", "1983-05-19", "a@example.org"),
            Person("Amelia", "Alexander", "1983-05-19", "a@example.org"),
            Person("Zoe", "Khan", "1950-01-01"),
            Person("Alexander", "Amelia", "1983-04-30"),
        };
        var candidates = Blocking.CandidatePairs(people, BlockingOptions.Default);
        Assert.Equal([(0, 1), (0, 3), (1, 3)], candidates.Pairs.Order());
    }

    [Fact]
    public void swapped_names_still_meet_in_a_block()
    {
        var keysA = Blocking.KeysFor(Person("Amelia", "Alexander", "1983-05-19"), [BlockingRule.NamesPhonetic]);
        var keysB = Blocking.KeysFor(Person("Alexander", "Amelia", "1990-01-01"), [BlockingRule.NamesPhonetic]);
        Assert.Equal(keysA, keysB);
    }

    [Fact]
    public void skips_blocks_larger_than_the_cap()
    {
        var people = Enumerable.Range(0, 10).Select(i => Person("Name" + (char)('A' + i), "Other" + (char)('A' + i), "2000-01-01")).ToArray();
        var options = BlockingOptions.Default with { Rules = [BlockingRule.BirthDate], MaxBlockSize = 5 };
        var candidates = Blocking.CandidatePairs(people, options);
        Assert.Empty(candidates.Pairs);
        Assert.Equal(1, candidates.OversizedBlocks);
    }

    [Fact]
    public void keys_never_include_the_raw_name()
    {
        var keys = Blocking.KeysFor(Person("Amelia", "Alexander", "1983-05-19"), BlockingOptions.Default.Rules);
        Assert.DoesNotContain(keys, k => k.Contains("AMELIA", StringComparison.OrdinalIgnoreCase));
    }
}
