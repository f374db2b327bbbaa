using System.Globalization;
using CareHub.Identity;
using Hl7.Fhir.Model;

namespace CareHub.Mpi.Bench;

/// <summary>
/// Synthetic UK patients for the MPI's scale bench: person <c>i</c> is a pure function of (seed, i), so the bench can
/// describe any loaded person again without reading it back. Names are drawn with a skew like real ones (a few very common
/// surnames and forenames, a long tail), so blocks of common names are as crowded as they would be; birth dates span a
/// century; most have a valid NHS Number; postcodes come from 210 outward codes, about five people per postcode at a million.
/// </summary>
internal sealed class SyntheticPatients(int seed)
{
    private static readonly string[] Surnames =
    [
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts", "Robinson",
        "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel",
        "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker",
        "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young",
        "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy",
        "Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
        "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews",
        "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens",
        "Jenkins", "Murray", "Dixon", "Harvey", "Graham", "Pearson", "Ahmed", "Fletcher", "Walsh", "Kaur", "Gibson", "Howard",
        "Andrews", "Stewart", "Elliott", "Reynolds", "Saunders", "Payne", "Fox", "Ford", "Pearce", "Day", "Brooks", "West",
        "Lawrence", "Cole", "Atkinson", "Bradley", "Spencer", "Gill", "Dawson", "Ball", "Burton", "O'Brien", "Watts", "Rose",
        "Booth", "Perry", "Ryan", "Grant", "Wells", "Armstrong", "Francis", "Rees", "Hayes", "Hart", "Hudson", "Newman",
        "Barrett", "Webster", "Hunter", "Gregory", "Carr", "Lowe", "Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons",
        "Berry", "Stone", "Reid", "Holland", "Hawkins", "Harding", "Porter", "Robertson", "Newton", "Oliver", "Reed",
        "Kennedy", "Williamson", "Bird", "Gardner", "Shah", "Dean", "Lane", "Cooke", "Bates", "Henderson", "Parry", "Burgess",
    ];

    private static readonly string[] Female =
    [
        "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace", "Freya", "Emily",
        "Poppy", "Ella", "Evie", "Charlotte", "Sophie", "Jessica", "Chloe", "Ruby", "Lucy", "Hannah", "Emma", "Sarah", "Laura",
        "Rebecca", "Amy", "Rachel", "Claire", "Nicola", "Lisa", "Helen", "Karen", "Julie", "Susan", "Margaret", "Elizabeth",
        "Mary", "Patricia", "Linda", "Barbara", "Jean", "Joan", "Dorothy", "Doris", "Joyce", "Sheila", "Pauline", "Janet",
        "Christine", "Angela", "Michelle", "Katie", "Zoe", "Aisha", "Fatima", "Priya", "Megan", "Holly",
    ];

    private static readonly string[] Male =
    [
        "Oliver", "George", "Noah", "Arthur", "Harry", "Leo", "Muhammad", "Jack", "Charlie", "Oscar", "Jacob", "Henry",
        "Thomas", "Freddie", "Alfie", "Theo", "William", "James", "Joshua", "Daniel", "Samuel", "Benjamin", "Matthew", "David",
        "John", "Michael", "Paul", "Mark", "Andrew", "Richard", "Peter", "Stephen", "Robert", "Christopher", "Anthony", "Ian",
        "Gary", "Kevin", "Simon", "Neil", "Alan", "Brian", "Kenneth", "Ronald", "Raymond", "Dennis", "Roy", "Derek", "Keith",
        "Colin", "Graham", "Stuart", "Adam", "Ryan", "Luke", "Callum", "Mohammed", "Ali", "Ravi", "Tom",
    ];

    private static readonly string[] Syllables =
        ["ash", "bar", "ber", "brook", "by", "cal", "ton", "den", "ford", "ham", "hurst", "ing", "ley", "low", "mar", "mer",
         "more", "ney", "ridge", "shaw", "stead", "ter", "well", "wick", "win", "worth", "dal", "gar", "kin", "ler"];

    private static readonly string[] Streets =
        ["High", "Church", "Station", "Park", "Victoria", "Queens", "Kings", "Mill", "New", "School", "Manor", "Green", "North",
         "South", "West", "Grange", "Albert", "Windsor", "York", "Chapel", "Bridge", "Orchard", "Meadow", "Beech", "Oak"];

    private static readonly string[] StreetKinds = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent"];

    private static readonly string[] Towns =
        ["Leeds", "Bradford", "Wakefield", "Huddersfield", "Halifax", "Harrogate", "York", "Dewsbury", "Keighley", "Pudsey"];

    private static readonly string[] Areas = ["LS", "BD", "WF", "HD", "HX", "HG", "YO"];

    private const string InwardLetters = "ABDEFGHJLNPQRSTUWXYZ";

    /// <summary>The FHIR system of the bench's local record numbers.</summary>
    public const string LocalSystem = "https://carehub.local/bench/mpi-match";

    /// <summary>Person <paramref name="i"/> as its home system would send it.</summary>
    public Patient Person(int i)
    {
        // Not HashCode.Combine: it is seeded per process, and person i must be the same person in every run.
        var random = new Random(unchecked((seed * 1_000_003) + i));
        var female = random.Next(2) == 0;
        var given = Forename(random, female);
        var family = random.NextDouble() < 0.75 ? Pick(random, Surnames, 25) : Invented(random);
        var born = new DateOnly(1925, 1, 1).AddDays(random.Next(365 * 100));
        var patient = new Patient
        {
            Identifier = [new Identifier(LocalSystem, "P" + i.ToString(CultureInfo.InvariantCulture))],
            Name = [new HumanName { Use = HumanName.NameUse.Official, Family = family, Given = random.NextDouble() < 0.4 ? [given, Forename(random, female)] : [given] }],
            Gender = female ? AdministrativeGender.Female : AdministrativeGender.Male,
            BirthDate = born.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
        if (random.NextDouble() < 0.85)
        {
            patient.Identifier.Add(new Identifier(NhsNumber.IdentifierSystem, NhsNumberFor(i)));
        }

        var area = random.Next(Areas.Length);
        var outward = Areas[area] + (1 + random.Next(30)).ToString(CultureInfo.InvariantCulture);
        var postcode = outward + " " + Inward(random.Next(1000));
        patient.Address.Add(new Address
        {
            Use = Address.AddressUse.Home,
            Line = [(1 + random.Next(200)).ToString(CultureInfo.InvariantCulture) + " " + Streets[random.Next(Streets.Length)] + " " + StreetKinds[random.Next(StreetKinds.Length)]],
            City = Towns[Math.Min(area + random.Next(4), Towns.Length - 1)],
            PostalCode = postcode,
        });
        if (random.NextDouble() < 0.6)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile,
                "07" + random.NextInt64(100_000_000, 999_999_999).ToString(CultureInfo.InvariantCulture)));
        }

        if (random.NextDouble() < 0.3)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Email, ContactPoint.ContactPointUse.Home,
                $"{given}.{family}{random.Next(100)}@example.org".Replace("'", "", StringComparison.Ordinal).ToLowerInvariant()));
        }

        return patient;
    }

    /// <summary>
    /// A person as another system might hold them: one to three changes of the kind record linkage meets (a typo in a name,
    /// day and month swapped, a year off by one, a missing NHS Number, a move of house, a lost phone).
    /// </summary>
    public static Patient Perturbed(Patient person, Random random)
    {
        ArgumentNullException.ThrowIfNull(person);
        ArgumentNullException.ThrowIfNull(random);
        var patient = (Patient)person.DeepCopy();
        patient.Id = null;
        patient.Meta = null;
        patient.Identifier.RemoveAll(id => id.System == LocalSystem);
        patient.Identifier.Add(new Identifier("https://carehub.local/bench/other-system", "Q" + random.Next().ToString(CultureInfo.InvariantCulture)));
        var changes = 1 + random.Next(3);
        for (var c = 0; c < changes; c++)
        {
            var name = patient.Name[0];
            switch (random.Next(7))
            {
                case 0:
                    name.Family = Typo(name.Family, random);
                    break;
                case 1:
                    name.Given = [Typo(name.Given.First(), random), .. name.Given.Skip(1)];
                    break;
                case 2:
                    var d = DateOnly.ParseExact(patient.BirthDate!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                    patient.BirthDate = d.Day <= 12 && d.Day != d.Month
                        ? new DateOnly(d.Year, d.Day, d.Month).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                        : d.AddYears(random.Next(2) == 0 ? -1 : 1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                    break;
                case 3:
                    patient.Identifier.RemoveAll(id => id.System == NhsNumber.IdentifierSystem);
                    break;
                case 4:
                    patient.Address[0].PostalCode = "LS" + (1 + random.Next(30)).ToString(CultureInfo.InvariantCulture) + " " + Inward(random.Next(1000));
                    patient.Address[0].Line = ["1 Elsewhere Road"];
                    break;
                case 5:
                    patient.Telecom.Clear();
                    break;
                default:
                    name.Given = name.Given.Take(1).ToList();
                    break;
            }
        }

        return patient;
    }

    /// <summary>A valid NHS Number that is person <paramref name="i"/>'s alone (Modulus 11, NHS Data Dictionary).</summary>
    public static string NhsNumberFor(int i)
    {
        for (var n = 400_000_000L + ((long)i * 11); ; n++)
        {
            var digits = n.ToString(CultureInfo.InvariantCulture);
            var sum = 0;
            for (var k = 0; k < 9; k++)
            {
                sum += (digits[k] - '0') * (10 - k);
            }

            var check = 11 - (sum % 11);
            if (check == 11)
            {
                check = 0;
            }

            if (check != 10)
            {
                return digits + check.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    private static string Forename(Random random, bool female) => random.NextDouble() < 0.85 ? Pick(random, female ? Female : Male, 8) : Invented(random);

    // Rank-skewed choice: weight 1 / (rank + flatten), so the first names are common and the tail is long.
    private static string Pick(Random random, string[] names, int flatten)
    {
        var total = 0.0;
        for (var r = 0; r < names.Length; r++)
        {
            total += 1.0 / (r + flatten);
        }

        var x = random.NextDouble() * total;
        for (var r = 0; r < names.Length; r++)
        {
            x -= 1.0 / (r + flatten);
            if (x <= 0)
            {
                return names[r];
            }
        }

        return names[^1];
    }

    private static string Invented(Random random)
    {
        var name = Syllables[random.Next(Syllables.Length)] + Syllables[random.Next(Syllables.Length)] + (random.Next(2) == 0 ? Syllables[random.Next(Syllables.Length)] : string.Empty);
        return char.ToUpperInvariant(name[0]) + name[1..];
    }

    private static string Inward(int n) =>
        (n % 10).ToString(CultureInfo.InvariantCulture) + InwardLetters[n / 10 % 20] + InwardLetters[(n / 200 + n) % 20];

    private static string Typo(string? text, Random random)
    {
        if (string.IsNullOrEmpty(text) || text.Length < 3)
        {
            return text ?? string.Empty;
        }

        var at = 1 + random.Next(text.Length - 1);
        return random.Next(2) == 0
            ? text[..at] + (char)('a' + random.Next(26)) + text[(at + 1)..]
            : text[..(at - 1)] + text[at] + text[at - 1] + text[(at + 1)..];
    }
}
