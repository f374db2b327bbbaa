namespace CareHub.Server.Tests.Governance;

/// <summary>The kinds of patient the matrix crosses with users and interactions.</summary>
public enum PatientKind
{
    /// <summary>Registered at A81001 and known to no one else.</summary>
    RegisteredOnly,

    /// <summary>Registered at A81001, with a current or recent encounter at the acute trust RTH.</summary>
    RecentHospital,

    /// <summary>Registered at A81001, seen at RTH only longer ago than the relationship window.</summary>
    PastHospital,

    /// <summary>Has opted out of sharing (an active Consent deny naming nobody).</summary>
    OptedOut,

    /// <summary>In the council's (00K) social care, with consent to share with it.</summary>
    SocialCareConsented,

    /// <summary>In the council's social care, without consent to share with it.</summary>
    SocialCareNotConsented,

    /// <summary>Has a mental health Condition labelled v3 PSY; the matrix's citizen is this patient.</summary>
    Sensitive,

    /// <summary>Registered at the other practice, A81002.</summary>
    OtherPractice,
}

/// <summary>Picks one loaded patient per kind from what their records hold (the demo plan says such patients exist).</summary>
public static class PatientKinds
{
    /// <summary>Relationships that end this close to the window's edge are avoided, so a slow run cannot cross it.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromDays(3);

    public static IReadOnlyDictionary<PatientKind, PatientRecord> Choose(IEnumerable<PatientRecord> records, DateTimeOffset now)
    {
        var cutoff = now.AddDays(-PolicyOracle.RelationshipDays);
        var candidates = records.Where(r => !r.CareEndsNear(cutoff, Margin)).ToList();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var chosen = new Dictionary<PatientKind, PatientRecord>();

        bool AtPractice(PatientRecord r) => r.Practices.SequenceEqual(["A81001"]);
        bool Hospital(PatientRecord r) => r.HasCareAt("RTH");
        bool RecentHospital(PatientRecord r) => r.CareSince("RTH", cutoff);
        bool Community(PatientRecord r) => r.HasCareAt("RYG");
        bool Social(PatientRecord r) => r.HasCareAt("00K");
        bool Sensitive(PatientRecord r) => r.MentalHealthConditions.Count > 0;

        void Pick(PatientKind kind, Func<PatientRecord, bool> must, params Func<PatientRecord, bool>[] preferences)
        {
            var fits = candidates.Where(r => !taken.Contains(r.Id) && must(r)).ToList();
            var best = fits.OrderByDescending(r => preferences.Count(p => p(r))).FirstOrDefault()
                ?? throw new InvalidOperationException($"The demo community of {candidates.Count} patients holds no patient of kind {kind}.");
            taken.Add(best.Id);
            chosen[kind] = best;
        }

        // The rarest kinds first, so the common ones do not use them up.
        Pick(PatientKind.OptedOut, r => r.OptedOut && AtPractice(r), RecentHospital, Community);
        Pick(PatientKind.SocialCareNotConsented, r => Social(r) && !r.ConsentsTo("00K") && !r.OptedOut && AtPractice(r), r => !Sensitive(r));
        Pick(PatientKind.SocialCareConsented, r => Social(r) && r.ConsentsTo("00K") && !r.OptedOut && AtPractice(r), Community, RecentHospital, r => !Sensitive(r));
        Pick(PatientKind.OtherPractice, r => r.Practices.SequenceEqual(["A81002"]) && !r.OptedOut && !Social(r), r => !Sensitive(r));
        Pick(PatientKind.Sensitive, r => Sensitive(r) && AtPractice(r) && !r.OptedOut && !Social(r), Community, r => !Hospital(r));
        Pick(PatientKind.RecentHospital, r => RecentHospital(r) && AtPractice(r) && !r.OptedOut && !Community(r) && !Social(r), r => !Sensitive(r));
        Pick(PatientKind.PastHospital, r => Hospital(r) && !RecentHospital(r) && AtPractice(r) && !r.OptedOut && !Community(r) && !Social(r), r => !Sensitive(r));
        Pick(PatientKind.RegisteredOnly, r => !Hospital(r) && !Community(r) && !Social(r) && AtPractice(r) && !r.OptedOut, r => !Sensitive(r));
        return chosen;
    }
}
