namespace CareHub.Identity.Matching;

/// <summary>
/// The comparators: each turns a pair of prepared values into the first <see cref="ComparisonLevel"/>
/// of its field that the pair meets, or null when either value is missing (a missing value is
/// neither evidence for nor against a match).
/// </summary>
internal static class Comparators
{
    public const int FieldCount = 10;

    /// <summary>Fills <paramref name="levels"/> (indexed by <see cref="MatchField"/>); returns true when the names compared crosswise (given against family).</summary>
    public static bool CompareAll(PreparedPerson a, PreparedPerson b, Span<ComparisonLevel?> levels)
    {
        levels[(int)MatchField.NhsNumber] = NhsNumber(a.NhsDigits, b.NhsDigits);
        var swapped = Names(a, b, out var given, out var family);
        levels[(int)MatchField.GivenName] = given;
        levels[(int)MatchField.FamilyName] = family;
        levels[(int)MatchField.BirthDate] = BirthDate(a.BirthDate, b.BirthDate);
        levels[(int)MatchField.Sex] = a.Sex is null || b.Sex is null ? null
            : a.Sex == b.Sex ? ComparisonLevel.SexAgrees : ComparisonLevel.SexDifferent;
        levels[(int)MatchField.Postcode] = Postcode(a.Postcode, a.PostcodeOutward, b.Postcode, b.PostcodeOutward);
        levels[(int)MatchField.Address] = Address(a.AddressTokens, b.AddressTokens);
        levels[(int)MatchField.Town] = Town(a.Town, b.Town);
        levels[(int)MatchField.Phone] = a.Phone.Length == 0 || b.Phone.Length == 0 ? null
            : string.Equals(a.Phone, b.Phone, StringComparison.Ordinal) ? ComparisonLevel.PhoneExact : ComparisonLevel.PhoneDifferent;
        levels[(int)MatchField.Email] = Email(a, b);
        return swapped;
    }

    public static ComparisonLevel? NhsNumber(string a, string b)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            return null;
        }

        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return ComparisonLevel.NhsNumberExact;
        }

        return IsOneEdit(a, b) ? ComparisonLevel.NhsNumberOneEdit : ComparisonLevel.NhsNumberDifferent;
    }

    /// <summary>
    /// Compares given with given and family with family, and also crosswise (a given name recorded as
    /// the family name and the other way round, a common registration error); keeps whichever
    /// orientation agrees better and returns true when that is the crosswise one.
    /// </summary>
    public static bool Names(PreparedPerson a, PreparedPerson b, out ComparisonLevel? given, out ComparisonLevel? family)
    {
        given = a.FirstGiven.IsEmpty || b.FirstGiven.IsEmpty ? null
            : GivenName(a.FirstGiven, a.GivenTokens, a.OtherGivenTokens, b.FirstGiven, b.GivenTokens, b.OtherGivenTokens);
        family = a.Family.IsEmpty || b.Family.IsEmpty ? null
            : FamilyName(a.Family, a.OtherFamilies, b.Family, b.OtherFamilies);

        var direct = Quality(given) + Quality(family);
        if (direct >= 8)
        {
            return false;
        }

        // Crosswise: a's given name against b's family name, and a's family name against b's given name.
        ComparisonLevel? crossGiven = a.FirstGiven.IsEmpty || b.Family.IsEmpty ? null
            : GivenName(a.FirstGiven, a.FirstGiven.Tokens, [], b.Family, b.Family.Tokens, []);
        ComparisonLevel? crossFamily = a.Family.IsEmpty || b.FirstGiven.IsEmpty ? null
            : FamilyName(a.Family, [], b.FirstGiven, []);
        if (crossGiven is null && crossFamily is null)
        {
            return false;
        }

        // The crosswise reading must beat the direct one clearly: one exact cross match against
        // nothing direct, not a fuzzy resemblance between unrelated names.
        if (Quality(crossGiven) + Quality(crossFamily) >= direct + 3)
        {
            given = crossGiven;
            family = crossFamily;
            return true;
        }

        return false;
    }

    // How strongly a name level agrees, for choosing the orientation only (weights come from m and u).
    private static int Quality(ComparisonLevel? level) => level switch
    {
        null => 1,
        ComparisonLevel.GivenNameExact or ComparisonLevel.FamilyNameExact => 4,
        ComparisonLevel.GivenNameSimilar or ComparisonLevel.FamilyNameSimilar or ComparisonLevel.FamilyNamePartOrPrevious => 3,
        ComparisonLevel.GivenNamePhonetic or ComparisonLevel.FamilyNamePhonetic or ComparisonLevel.GivenNameOtherName => 2,
        ComparisonLevel.GivenNameDifferent or ComparisonLevel.FamilyNameDifferent => 0,
        _ => 1,
    };

    public static ComparisonLevel GivenName(NameValue a, string[] aAll, string[] aOther, NameValue b, string[] bAll, string[] bOther)
    {
        if (string.Equals(a.Joined, b.Joined, StringComparison.Ordinal))
        {
            return ComparisonLevel.GivenNameExact;
        }

        var similarity = a.Joined.Length > 1 && b.Joined.Length > 1 ? JaroWinkler.Similarity(a.Joined, b.Joined) : 0;
        if (similarity >= 0.92)
        {
            return ComparisonLevel.GivenNameSimilar;
        }

        if (a.Joined.Length > 1 && b.Joined.Length > 1 && string.Equals(a.Code, b.Code, StringComparison.Ordinal))
        {
            return ComparisonLevel.GivenNamePhonetic;
        }

        if (SharesName(aAll, aOther, bAll, bOther))
        {
            return ComparisonLevel.GivenNameOtherName;
        }

        if ((a.Joined.Length == 1 || b.Joined.Length == 1) && a.Joined[0] == b.Joined[0])
        {
            return ComparisonLevel.GivenNameInitial;
        }

        return similarity >= 0.8 ? ComparisonLevel.GivenNameFuzzy : ComparisonLevel.GivenNameDifferent;
    }

    public static ComparisonLevel FamilyName(NameValue a, NameValue[] aPrevious, NameValue b, NameValue[] bPrevious)
    {
        if (string.Equals(a.Joined, b.Joined, StringComparison.Ordinal))
        {
            return ComparisonLevel.FamilyNameExact;
        }

        if (SharesPart(a, b) || Contains(bPrevious, a) || Contains(aPrevious, b) || aPrevious.Any(p => Contains(bPrevious, p)))
        {
            return ComparisonLevel.FamilyNamePartOrPrevious;
        }

        var similarity = JaroWinkler.Similarity(a.Joined, b.Joined);
        if (similarity >= 0.92)
        {
            return ComparisonLevel.FamilyNameSimilar;
        }

        if (string.Equals(a.Code, b.Code, StringComparison.Ordinal))
        {
            return ComparisonLevel.FamilyNamePhonetic;
        }

        return similarity >= 0.8 ? ComparisonLevel.FamilyNameFuzzy : ComparisonLevel.FamilyNameDifferent;
    }

    public static ComparisonLevel? BirthDate(PartialDate? left, PartialDate? right)
    {
        if (left is not { } a || right is not { } b)
        {
            return null;
        }

        if (a == b)
        {
            return a.IsComplete ? ComparisonLevel.BirthDateExact : ComparisonLevel.BirthDatePartialAgrees;
        }

        if (!a.IsComplete || !b.IsComplete)
        {
            var agrees = a.Year == b.Year && (a.Month is null || b.Month is null || a.Month == b.Month);
            return agrees ? ComparisonLevel.BirthDatePartialAgrees : ComparisonLevel.BirthDateDifferent;
        }

        if (a.Year == b.Year && a.Day == b.Month && a.Month == b.Day)
        {
            return ComparisonLevel.BirthDateDayMonthTransposed;
        }

        if (DigitsDifferent(a, b) == 1)
        {
            return ComparisonLevel.BirthDateOneDigit;
        }

        if (a.Month == b.Month && a.Day == b.Day && Math.Abs(a.Year - b.Year) == 1)
        {
            return ComparisonLevel.BirthDateYearOffByOne;
        }

        return ComparisonLevel.BirthDateDifferent;
    }

    public static ComparisonLevel? Postcode(string a, string? aOutward, string b, string? bOutward)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            return null;
        }

        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return ComparisonLevel.PostcodeFull;
        }

        return aOutward is not null && string.Equals(aOutward, bOutward, StringComparison.Ordinal)
            ? ComparisonLevel.PostcodeOutward
            : ComparisonLevel.PostcodeDifferent;
    }

    /// <summary>
    /// Share of address tokens that match, exactly or (for words of four letters or more) with
    /// Jaro-Winkler at least 0.9, over the larger token count: house numbers must match exactly.
    /// </summary>
    public static ComparisonLevel? Address(string[] a, string[] b)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            return null;
        }

        var (small, large) = a.Length <= b.Length ? (a, b) : (b, a);
        Span<bool> used = large.Length <= 64 ? stackalloc bool[large.Length] : new bool[large.Length];
        var matched = 0;
        var exact = 0;
        foreach (var token in small)
        {
            var found = -1;
            for (var j = 0; j < large.Length && found < 0; j++)
            {
                if (!used[j] && string.Equals(token, large[j], StringComparison.Ordinal))
                {
                    found = j;
                }
            }

            for (var j = 0; j < large.Length && found < 0; j++)
            {
                if (!used[j] && token.Length >= 4 && large[j].Length >= 4 && !char.IsAsciiDigit(token[0])
                    && JaroWinkler.Similarity(token, large[j]) >= 0.9)
                {
                    found = j;
                }
            }

            if (found >= 0)
            {
                exact += string.Equals(token, large[found], StringComparison.Ordinal) ? 1 : 0;
                used[found] = true;
                matched++;
            }
        }

        var share = (double)matched / large.Length;
        return share switch
        {
            1 when exact == large.Length => ComparisonLevel.AddressExact,
            >= 0.7 => ComparisonLevel.AddressMostTokens,
            >= 0.3 => ComparisonLevel.AddressSomeTokens,
            _ => ComparisonLevel.AddressDifferent,
        };
    }

    public static ComparisonLevel? Town(string a, string b)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            return null;
        }

        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return ComparisonLevel.TownExact;
        }

        return JaroWinkler.Similarity(a, b) >= 0.85 ? ComparisonLevel.TownSimilar : ComparisonLevel.TownDifferent;
    }

    private static ComparisonLevel? Email(PreparedPerson a, PreparedPerson b)
    {
        if (a.Email.Length == 0 || b.Email.Length == 0)
        {
            return null;
        }

        if (string.Equals(a.Email, b.Email, StringComparison.Ordinal))
        {
            return ComparisonLevel.EmailExact;
        }

        var sameLocal = a.EmailLocalPart.Length > 0 && string.Equals(a.EmailLocalPart, b.EmailLocalPart, StringComparison.Ordinal);
        return sameLocal || JaroWinkler.Similarity(a.Email, b.Email) >= 0.9 ? ComparisonLevel.EmailSimilar : ComparisonLevel.EmailDifferent;
    }

    private static bool SharesName(string[] aAll, string[] aOther, string[] bAll, string[] bOther)
    {
        foreach (var x in aAll.Concat(aOther))
        {
            if (x.Length > 1 && (bAll.Contains(x, StringComparer.Ordinal) || bOther.Contains(x, StringComparer.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    // A part of a hyphenated or multiple family name matching the other name or one of its parts
    // (SMITH-JONES against JONES); single-letter parts do not count.
    private static bool SharesPart(NameValue a, NameValue b)
    {
        if (a.Tokens.Length < 2 && b.Tokens.Length < 2)
        {
            return false;
        }

        foreach (var x in a.Tokens)
        {
            if (x.Length > 1 && b.Tokens.Contains(x, StringComparer.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(NameValue[] names, NameValue name) =>
        names.Any(n => string.Equals(n.Joined, name.Joined, StringComparison.Ordinal));

    private static bool IsOneEdit(string a, string b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        var first = -1;
        var differences = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                if (differences++ == 0)
                {
                    first = i;
                }
            }
        }

        return differences == 1
            || (differences == 2 && first + 1 < a.Length && a[first] == b[first + 1] && a[first + 1] == b[first]);
    }

    private static int DigitsDifferent(PartialDate a, PartialDate b)
    {
        var differences = 0;
        differences += CountDigits(a.Year, b.Year, 4);
        differences += CountDigits(a.Month!.Value, b.Month!.Value, 2);
        differences += CountDigits(a.Day!.Value, b.Day!.Value, 2);
        return differences;
    }

    private static int CountDigits(int a, int b, int width)
    {
        var differences = 0;
        for (var i = 0; i < width; i++)
        {
            if (a % 10 != b % 10)
            {
                differences++;
            }

            a /= 10;
            b /= 10;
        }

        return differences;
    }
}
