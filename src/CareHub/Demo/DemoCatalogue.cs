namespace CareHub.Demo;

/// <summary>
/// The fixed vocabulary the demo community is drawn from: names, places and the clinical codes.
/// Codes are real SNOMED CT, LOINC, UCUM and dm+d codes with their usual displays.
/// </summary>
internal static class DemoCatalogue
{
    public const string Snomed = "http://snomed.info/sct";
    public const string Loinc = "http://loinc.org";
    public const string Ucum = "http://unitsofmeasure.org";
    public const string Dmd = "https://dmd.nhs.uk";

    // A mix that reflects the names on a UK practice list: British and Irish, South Asian, Polish,
    // West African, Caribbean and others.
    public static readonly string[] FemaleGivenNames =
    [
        "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Lily", "Freya", "Chloe", "Ella", "Evie",
        "Margaret", "Patricia", "Susan", "Linda", "Janet", "Christine", "Pauline", "Jean", "Brenda", "Elaine",
        "Sarah", "Claire", "Rachel", "Nicola", "Emma", "Joanne", "Lisa", "Michelle", "Kelly", "Gemma",
        "Aisha", "Fatima", "Priya", "Ananya", "Zainab", "Maryam", "Amina", "Nusrat", "Harpreet", "Simran",
        "Zofia", "Agnieszka", "Katarzyna", "Oluwaseun", "Chiamaka", "Ngozi", "Siobhan", "Niamh", "Aoife", "Rhiannon",
    ];

    public static readonly string[] MaleGivenNames =
    [
        "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Charlie", "Jacob", "Thomas", "Alfie",
        "John", "David", "Michael", "Peter", "Robert", "Stephen", "Paul", "Brian", "Kenneth", "Alan", "Derek",
        "Mark", "Andrew", "Gary", "Lee", "Craig", "Darren", "Wayne", "Ian", "Neil", "Stuart",
        "Mohammed", "Ali", "Imran", "Arjun", "Rohan", "Sanjay", "Gurpreet", "Bilal", "Yusuf", "Hamza",
        "Piotr", "Tomasz", "Kwame", "Chinedu", "Tunde", "Ciaran", "Sean", "Rhys", "Dafydd", "Callum",
    ];

    public static readonly string[] FamilyNames =
    [
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
        "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
        "Hughes", "Edwards", "Turner", "Hill", "Moore", "Harrison", "Lewis", "Scott", "Armstrong", "Atkinson",
        "Bell", "Dixon", "Hodgson", "Metcalfe", "Pattinson", "Teasdale", "Elliott", "Murray", "Kelly", "O'Brien",
        "Khan", "Hussain", "Ahmed", "Ali", "Patel", "Begum", "Singh", "Kaur", "Shah", "Mistry", "Choudhury",
        "Kowalczyk", "Nowak", "Wójcik", "Okafor", "Adeyemi", "Mensah", "Campbell", "Francis", "Nguyen", "Chen",
        "MacDonald", "Fraser", "McCarthy", "Doherty", "Llewellyn", "Price", "Fletcher", "Dunn", "Hewitt", "Marsh",
    ];

    public sealed record Area(string Town, string[] Districts, string[] Streets, string County);

    // Postcode districts that exist in each area; the inward code is generated (digit and two letters
    // from the letters Royal Mail uses there), so the postcodes look real without naming real households.
    public static readonly Area Stockton = new(
        "Stockton-on-Tees",
        ["TS17", "TS18", "TS19", "TS20", "TS21", "TS23"],
        ["Yarm Road", "Durham Road", "Bishopton Road", "Norton Road", "Darlington Road", "Hartburn Lane", "Oxbridge Lane",
         "Thornaby Road", "Station Road", "High Street", "Church Road", "Mill Lane", "Westbury Street", "Tilery Road",
         "Redhill Road", "Elm Tree Avenue", "Fairfield Road", "Lawson Street", "Marlborough Road", "The Green"],
        "Cleveland");

    public static readonly Area Oxford = new(
        "Oxford",
        ["OX1", "OX2", "OX3", "OX4"],
        ["Cowley Road", "Iffley Road", "Banbury Road", "Woodstock Road", "London Road", "Headington Road",
         "Marston Road", "Botley Road", "Abingdon Road", "Windmill Road"],
        "Oxfordshire");

    public static readonly Area Coventry = new(
        "Coventry",
        ["CV1", "CV2", "CV3", "CV4", "CV5", "CV6"],
        ["Foleshill Road", "Walsgrave Road", "Holbrook Lane", "Binley Road", "Earlsdon Avenue", "Allesley Old Road",
         "Stoney Stanton Road", "Tile Hill Lane", "Radford Road", "Kenilworth Road"],
        "West Midlands");

    public const string PostcodeInwardLetters = "ABDEFGHJLNPQRSTUWXYZ";

    public sealed record Term(string System, string Value, string Display);

    public sealed record Problem(Term Code, int MinAge, double Chance, double ChanceWhenOlder, int OlderFrom, Term? Medicine, string Dosage);

    public static readonly Term Hypertension = new(Snomed, "38341003", "Hypertensive disorder, systemic arterial");
    public static readonly Term Type2Diabetes = new(Snomed, "44054006", "Diabetes mellitus type 2");
    public static readonly Term Asthma = new(Snomed, "195967001", "Asthma");
    public static readonly Term Copd = new(Snomed, "13645005", "Chronic obstructive lung disease");
    public static readonly Term Depression = new(Snomed, "35489007", "Depressive disorder");
    public static readonly Term Anxiety = new(Snomed, "197480006", "Anxiety disorder");
    public static readonly Term Osteoarthritis = new(Snomed, "396275006", "Osteoarthritis");
    public static readonly Term AtrialFibrillation = new(Snomed, "49436004", "Atrial fibrillation");
    public static readonly Term HeartFailure = new(Snomed, "84114007", "Heart failure");
    public static readonly Term Dementia = new(Snomed, "52448006", "Dementia");

    // dm+d virtual medicinal products (VMP), coded in the dm+d system.
    public static readonly Term Amlodipine = new(Dmd, "319283006", "Amlodipine 5mg tablets");
    public static readonly Term Metformin = new(Dmd, "325278007", "Metformin 500mg tablets");
    public static readonly Term Salbutamol = new(Dmd, "320176004", "Salbutamol 100micrograms/dose inhaler CFC free");
    public static readonly Term Simvastatin = new(Dmd, "320000009", "Simvastatin 40mg tablets");
    public static readonly Term Paracetamol = new(Dmd, "322236009", "Paracetamol 500mg tablets");
    public static readonly Term Aspirin = new(Dmd, "319773006", "Aspirin 75mg dispersible tablets");

    public static readonly Problem[] Problems =
    [
        new(Hypertension, 35, 0.20, 0.50, 65, Amlodipine, "One tablet once a day"),
        new(Type2Diabetes, 30, 0.10, 0.20, 60, Metformin, "One tablet twice a day with meals"),
        new(Asthma, 3, 0.12, 0.12, 200, Salbutamol, "Two puffs when required for breathlessness"),
        new(Copd, 45, 0.06, 0.15, 65, Salbutamol, "Two puffs when required for breathlessness"),
        new(Depression, 16, 0.12, 0.10, 65, null, string.Empty),
        new(Anxiety, 16, 0.08, 0.06, 65, null, string.Empty),
        new(Osteoarthritis, 50, 0.15, 0.30, 70, null, string.Empty),
        new(AtrialFibrillation, 60, 0.04, 0.12, 75, null, string.Empty),
        new(HeartFailure, 65, 0.04, 0.08, 80, Aspirin, "One tablet once a day"),
        new(Dementia, 70, 0.03, 0.15, 80, null, string.Empty),
    ];

    public static readonly (Term Code, string Category, Term Reaction, bool Severe)[] Allergies =
    [
        (new(Snomed, "91936005", "Allergy to penicillin"), "medication", new(Snomed, "271807003", "Eruption of skin"), false),
        (new(Snomed, "91936005", "Allergy to penicillin"), "medication", new(Snomed, "39579001", "Anaphylaxis"), true),
        (new(Snomed, "91935009", "Allergy to peanut"), "food", new(Snomed, "39579001", "Anaphylaxis"), true),
        (new(Snomed, "300916003", "Latex allergy"), "environment", new(Snomed, "126485001", "Urticaria"), false),
    ];

    public static readonly Term[] AdmissionReasons =
    [
        new(Snomed, "385093006", "Community acquired pneumonia"),
        new(Snomed, "5913000", "Fracture of neck of femur"),
        new(Snomed, "29857009", "Chest pain"),
        new(Snomed, "68566005", "Urinary tract infectious disease"),
        new(Snomed, "195951007", "Acute exacerbation of chronic obstructive airways disease"),
    ];

    public static readonly Term Consultation = new(Snomed, "11429006", "Consultation");
    public static readonly Term HospitalAdmission = new(Snomed, "32485007", "Hospital admission");
    public static readonly Term FollowUpVisit = new(Snomed, "185389009", "Follow-up visit");
    public static readonly Term HomeVisit = new(Snomed, "439708006", "Home visit");

    // Vital signs and laboratory results (LOINC), with UCUM units.
    public static readonly Term BloodPressurePanel = new(Loinc, "85354-9", "Blood pressure panel with all children optional");
    public static readonly Term Systolic = new(Loinc, "8480-6", "Systolic blood pressure");
    public static readonly Term Diastolic = new(Loinc, "8462-4", "Diastolic blood pressure");
    public static readonly Term HeartRate = new(Loinc, "8867-4", "Heart rate");
    public static readonly Term RespiratoryRate = new(Loinc, "9279-1", "Respiratory rate");
    public static readonly Term OxygenSaturation = new(Loinc, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry");
    public static readonly Term BodyTemperature = new(Loinc, "8310-5", "Body temperature");
    public static readonly Term BodyWeight = new(Loinc, "29463-7", "Body weight");
    public static readonly Term BodyHeight = new(Loinc, "8302-2", "Body height");
    public static readonly Term BodyMassIndex = new(Loinc, "39156-5", "Body mass index (BMI) [Ratio]");
    public static readonly Term HbA1c = new(Loinc, "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol");
    public static readonly Term TotalCholesterol = new(Loinc, "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma");

    public static readonly Term GeneralPractitionerOccupation = new(Snomed, "62247001", "General practitioner");
    public static readonly Term MedicalPractitionerOccupation = new(Snomed, "158965000", "Medical practitioner");
    public static readonly Term RegisteredNurseOccupation = new(Snomed, "224535009", "Registered nurse");
    public static readonly Term SocialWorkerOccupation = new(Snomed, "106328005", "Social worker");
    public static readonly Term GeneralPracticeSpecialty = new(Snomed, "394814009", "General practice (specialty)");
    public static readonly Term InternalMedicineSpecialty = new(Snomed, "419192003", "Internal medicine");
}
