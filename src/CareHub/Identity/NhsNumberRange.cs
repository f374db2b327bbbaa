namespace CareHub.Identity;

/// <summary>Who issues the numbers in a block of the ten-digit NHS Number space.</summary>
public enum NhsNumberRegion
{
    /// <summary>Not allocated to anyone; no real person holds such a number.</summary>
    Unallocated,

    /// <summary>Scotland's Community Health Index (CHI) numbers, DDMMYY followed by four digits.</summary>
    Scotland,

    /// <summary>Northern Ireland Health and Care numbers.</summary>
    NorthernIreland,

    /// <summary>NHS Numbers of England, Wales and the Isle of Man.</summary>
    EnglandWalesIsleOfMan,

    /// <summary>Reserved, not to be issued.</summary>
    Reserved,

    /// <summary>The Republic of Ireland's Individual Health Identifier (IHI).</summary>
    Eire,

    /// <summary>Never issued to real people; the Personal Demographics Service uses it for test patients.</summary>
    Synthetic,
}

/// <summary>
/// A contiguous, inclusive block of NHS Numbers read as integers. The boundaries are those of the
/// uk-fci/nhs-number reference implementation (2.0.0), whose shared test vectors CareHub follows.
/// </summary>
public sealed record NhsNumberRange(string Name, NhsNumberRegion Region, long Start, long End)
{
    public static readonly NhsNumberRange Unallocated1 = new("UNALLOCATED_1", NhsNumberRegion.Unallocated, 10, 99_999_999);

    // Starts at 0100000000: a CHI number begins with its holder's day of birth, and there is no day 00.
    public static readonly NhsNumberRange Scotland = new("SCOTLAND", NhsNumberRegion.Scotland, 100_000_000, 3_112_999_999);

    public static readonly NhsNumberRange Unallocated2 = new("UNALLOCATED_2", NhsNumberRegion.Unallocated, 3_113_000_000, 3_199_999_999);

    public static readonly NhsNumberRange NorthernIreland = new("NORTHERN_IRELAND", NhsNumberRegion.NorthernIreland, 3_200_000_000, 3_999_999_999);

    public static readonly NhsNumberRange EnglandWalesIsleOfMan1 = new("ENGLAND_WALES_IOM_1", NhsNumberRegion.EnglandWalesIsleOfMan, 4_000_000_000, 4_999_999_999);

    public static readonly NhsNumberRange Reserved = new("RESERVED", NhsNumberRegion.Reserved, 5_000_000_000, 5_999_999_999);

    public static readonly NhsNumberRange EnglandWalesIsleOfMan2 = new("ENGLAND_WALES_IOM_2", NhsNumberRegion.EnglandWalesIsleOfMan, 6_000_000_000, 7_999_999_999);

    public static readonly NhsNumberRange Eire = new("EIRE", NhsNumberRegion.Eire, 8_000_000_000, 8_599_999_999);

    public static readonly NhsNumberRange Unallocated3 = new("UNALLOCATED_3", NhsNumberRegion.Unallocated, 8_600_000_000, 8_999_999_999);

    public static readonly NhsNumberRange Synthetic = new("SYNTHETIC", NhsNumberRegion.Synthetic, 9_000_000_000, 9_999_999_999);

    /// <summary>Every range, in ascending order and without overlaps.</summary>
    public static IReadOnlyList<NhsNumberRange> All { get; } =
    [
        Unallocated1, Scotland, Unallocated2, NorthernIreland, EnglandWalesIsleOfMan1, Reserved,
        EnglandWalesIsleOfMan2, Eire, Unallocated3, Synthetic,
    ];

    public bool Contains(long number) => number >= Start && number <= End;

    /// <summary>The range holding <paramref name="number"/>, or null (only 0000000000 to 0000000009 fall in none).</summary>
    public static NhsNumberRange? Of(long number)
    {
        foreach (var range in All)
        {
            if (range.Contains(number))
            {
                return range;
            }
        }

        return null;
    }
}
