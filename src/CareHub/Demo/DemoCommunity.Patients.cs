using System.Globalization;
using CareHub.Governance;
using CareHub.Identity;
using Hl7.Fhir.Model;
using static CareHub.Demo.DemoCatalogue;

namespace CareHub.Demo;

public static partial class DemoCommunity
{
    private const string ObservationCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category";
    private const string ActCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

    /// <summary>Marks social care episodes and visits, the access policy's social-care category (default-policy.json).</summary>
    private static readonly CodeableConcept SocialCareSetting = new("https://carehub.local/fhir/CodeSystem/care-setting", "social-care", "Adult social care", null);

    /// <summary>Writes one patient's transaction Bundle: the Patient and a plausible few years of history.</summary>
    private sealed class PatientWriter
    {
        private readonly DemoRandom rng;
        private readonly DemoPatient plan;
        private readonly DateOnly today;
        private readonly Bundle bundle = new() { Type = Bundle.BundleType.Transaction };
        private readonly ResourceReference patient;
        private readonly List<Term> problems = [];
        private DateOnly born;
        private int age;
        private AdministrativeGender gender;
        private string usualGp = GpSmithId;

        /// <summary>The organisation the records being written come from (their meta.source).</summary>
        private string source = GpPracticeId;

        public PatientWriter(DemoCommunityOptions options, DemoPatient plan)
        {
            rng = DemoRandom.For(options.Seed, "patient", plan.Index);
            this.plan = plan;
            this.today = options.ReferenceDate;
            this.patient = new ResourceReference(plan.FullUrl);
        }

        private bool Adult => age >= 16;

        public Bundle Write()
        {
            source = this.plan.Practice;
            WritePatient();
            WriteAllergy();
            var gpVisits = WriteGeneralPractice();
            WriteProblems(gpVisits);
            if (this.plan.AcuteCare)
            {
                source = AcuteTrustId;
                WriteHospitalCare();
            }

            if (this.plan.CommunityCare)
            {
                source = CommunityTrustId;
                WriteCommunityNursing();
            }

            if (this.plan.SocialCare)
            {
                source = CouncilId;
                WriteSocialCare();
            }

            source = this.plan.Practice;
            WriteConsents();
            return bundle;
        }

        private void WritePatient()
        {
            // Those under community nursing or social care are mostly older people.
            age = this.plan.CommunityCare || this.plan.SocialCare
                ? rng.Next(60, 98)
                : rng.NextDouble() switch
                {
                    < 0.15 => rng.Next(0, 16),
                    < 0.40 => rng.Next(16, 40),
                    < 0.75 => rng.Next(40, 65),
                    _ => rng.Next(65, 91),
                };
            born = this.today.AddYears(-age).AddDays(-rng.Next(0, 365));
            if (born > this.today.AddDays(-21))
            {
                born = this.today.AddDays(-21);
            }

            gender = rng.Chance(0.51) ? AdministrativeGender.Female : AdministrativeGender.Male;
            var given = rng.Pick(gender == AdministrativeGender.Female ? FemaleGivenNames : MaleGivenNames);
            var middle = rng.Chance(0.4) ? rng.Pick(gender == AdministrativeGender.Female ? FemaleGivenNames : MaleGivenNames) : null;
            var name = new HumanName
            {
                Use = HumanName.NameUse.Official,
                Family = rng.Pick(FamilyNames),
                Given = middle is null || middle == given ? [given] : [given, middle],
                Prefix = Adult ? [Title()] : [],
            };

            var area = rng.NextDouble() switch { < 0.70 => Stockton, < 0.85 => Oxford, _ => Coventry };
            var postcode = string.Create(CultureInfo.InvariantCulture,
                $"{rng.Pick(area.Districts)} {rng.Next(1, 10)}{PostcodeInwardLetters[rng.Next(PostcodeInwardLetters.Length)]}{PostcodeInwardLetters[rng.Next(PostcodeInwardLetters.Length)]}");
            var address = new Address
            {
                Use = Address.AddressUse.Home,
                Type = Address.AddressType.Both,
                Line = [string.Create(CultureInfo.InvariantCulture, $"{rng.Next(1, 180)} {rng.Pick(area.Streets)}")],
                City = area.Town,
                District = area.County,
                PostalCode = postcode,
                Country = "GB",
            };

            // Ofcom reserves 01632 960000-960999 and 07700 900000-900999 for drama: they reach nobody.
            var telecom = new List<ContactPoint>();
            if (rng.Chance(0.45))
            {
                telecom.Add(Phone(ContactPoint.ContactPointUse.Home, $"01632 960{rng.Next(1000):D3}"));
            }

            if (age >= 12 && rng.Chance(0.85))
            {
                telecom.Add(Phone(ContactPoint.ContactPointUse.Mobile, $"07700 900{rng.Next(1000):D3}"));
            }

            var gpRoll = rng.NextDouble();
            usualGp = gpRoll < 0.5 ? GpSmithId : gpRoll < 0.8 ? GpKhanId : GpOConnorId;

            var patient = new Patient
            {
                Identifier = [NhsNumber.Parse(this.plan.NhsNumber).ToFhirIdentifier(NhsNumberVerificationStatus.NumberPresentAndVerified)],
                Active = true,
                Name = [name],
                Telecom = telecom,
                Gender = gender,
                BirthDate = Date(born),
                Address = [address],
                GeneralPractitioner = this.plan.Practice == GpPracticeId ? [OrganizationReference(GpPracticeId), PractitionerReference(usualGp)] : [OrganizationReference(this.plan.Practice)],
                ManagingOrganization = OrganizationReference(this.plan.Practice),
                Meta = new Meta { Source = OrganisationSource.For(source) },
            };
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = this.plan.FullUrl,
                Resource = patient,
                Request = new Bundle.RequestComponent
                {
                    Method = Bundle.HTTPVerb.POST,
                    Url = "Patient",
                    IfNoneExist = $"identifier={NhsNumber.IdentifierSystem}|{this.plan.NhsNumber}",
                },
            });
        }

        private string Title() => gender == AdministrativeGender.Male
            ? "Mr"
            : age < 30 ? rng.Pick(["Miss", "Ms"]) : rng.Pick(["Mrs", "Mrs", "Ms", "Miss"]);

        private static ContactPoint Phone(ContactPoint.ContactPointUse use, string number) =>
            new(ContactPoint.ContactPointSystem.Phone, use, number);

        private void WriteAllergy()
        {
            if (!rng.Chance(0.25))
            {
                return;
            }

            var (code, category, reaction, severe) = rng.Pick(Allergies);
            var (fullUrl, identifier) = NewIdentity();
            Add(fullUrl, new AllergyIntolerance
            {
                Identifier = [identifier],
                ClinicalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active", text: null),
                VerificationStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed", text: null),
                Type = AllergyIntolerance.AllergyIntoleranceType.Allergy,
                Category = [category switch
                {
                    "medication" => AllergyIntolerance.AllergyIntoleranceCategory.Medication,
                    "food" => AllergyIntolerance.AllergyIntoleranceCategory.Food,
                    _ => AllergyIntolerance.AllergyIntoleranceCategory.Environment,
                }],
                Criticality = severe ? AllergyIntolerance.AllergyIntoleranceCriticality.High : AllergyIntolerance.AllergyIntoleranceCriticality.Low,
                Code = Concept(code),
                Patient = this.patient,
                RecordedDate = Date(PastDate(30, 3000)),
                Recorder = PractitionerReference(usualGp),
                Reaction =
                [
                    new AllergyIntolerance.ReactionComponent
                    {
                        Manifestation = [Concept(reaction)],
                        Severity = severe ? AllergyIntolerance.AllergyIntoleranceSeverity.Severe : AllergyIntolerance.AllergyIntoleranceSeverity.Mild,
                    },
                ],
            });
        }

        private List<(string FullUrl, DateTimeOffset When)> WriteGeneralPractice()
        {
            // Decide the long-term problems first: they shape the observations taken at the surgery.
            foreach (var problem in Problems)
            {
                if (age >= problem.MinAge && rng.Chance(age >= problem.OlderFrom ? problem.ChanceWhenOlder : problem.Chance))
                {
                    this.problems.Add(problem.Code);
                }
            }

            if (this.plan.SocialCare && age >= 75 && !this.problems.Contains(Dementia) && rng.Chance(0.3))
            {
                this.problems.Add(Dementia);
            }

            var count = age >= 60 ? rng.Next(4, 8) : rng.Next(3, 7);
            var days = Enumerable.Range(0, count).Select(_ => PastDate(3, 1095)).Order().ToList();
            var visits = new List<(string, DateTimeOffset)>();
            for (var v = 0; v < days.Count; v++)
            {
                var when = At(days[v]);
                var gp = rng.Chance(0.7) ? usualGp : rng.Pick([GpSmithId, GpKhanId, GpOConnorId]);
                var encounter = AddEncounter(Encounter.EncounterStatus.Finished, "AMB", "ambulatory", Concept(Consultation), gp,
                    this.plan.Practice, when, when.AddMinutes(10), location: null, episodeOfCare: null);

                if (Adult)
                {
                    AddBloodPressure(encounter, when, gp);
                    AddVital(HeartRate, rng.Around(72, 16, 0), "/min", "beats/minute", encounter, when, gp);
                }
                else
                {
                    AddVital(HeartRate, rng.Around(105 - (age * 2), 18, 0), "/min", "beats/minute", encounter, when, gp);
                    AddVital(BodyTemperature, rng.Around(37.0, 0.6, 1), "Cel", "C", encounter, when, gp);
                }

                if (v == 0)
                {
                    AddBodyMeasurements(encounter, when, gp);
                }

                if (this.problems.Contains(Type2Diabetes) && (v == 0 || v == days.Count - 1))
                {
                    AddLab(HbA1c, rng.Around(58, 16, 0), "mmol/mol", "mmol/mol", encounter, when, gp);
                }

                if (age >= 40 && v == days.Count / 2)
                {
                    AddLab(TotalCholesterol, rng.Around(5.0, 1.4, 1), "mmol/L", "mmol/L", encounter, when, gp);
                }

                if ((this.problems.Contains(Asthma) || this.problems.Contains(Copd)) && v == days.Count - 1)
                {
                    AddVital(OxygenSaturation, Math.Min(100, rng.Around(this.problems.Contains(Copd) ? 94 : 97, 2.5, 0)), "%", "%", encounter, when, gp);
                    AddVital(RespiratoryRate, rng.Around(this.problems.Contains(Copd) ? 19 : 16, 3, 0), "/min", "breaths/minute", encounter, when, gp);
                }

                visits.Add((encounter, when));
            }

            return visits;
        }

        private void WriteProblems(List<(string FullUrl, DateTimeOffset When)> gpVisits)
        {
            foreach (var code in this.problems)
            {
                var problem = Array.Find(Problems, p => p.Code == code)!;
                var earliest = born.AddYears(Math.Max(problem.MinAge, 1));
                var onset = earliest >= this.today.AddDays(-60) ? this.today.AddDays(-60) : PastDateAfter(earliest, 60);
                var (conditionUrl, identifier) = NewIdentity();
                Add(conditionUrl, new Condition
                {
                    // Mental health problems carry the v3 PSY sensitivity label: roles that may not see them do not.
                    Meta = code == Depression || code == Anxiety ? new Meta { Security = [new Coding(ActCodeSystem, "PSY", "psychiatry disorder information sensitivity")] } : null,
                    Identifier = [identifier],
                    ClinicalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active", text: null),
                    VerificationStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed", text: null),
                    Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item", text: null)],
                    Code = Concept(code),
                    Subject = this.patient,
                    Onset = new FhirDateTime(Date(onset)),
                    RecordedDate = Date(onset.AddDays(rng.Next(0, 30)) > this.today ? this.today : onset.AddDays(rng.Next(0, 30))),
                    Recorder = PractitionerReference(usualGp),
                });

                if (problem.Medicine is null)
                {
                    continue;
                }

                var (visit, authored) = gpVisits[rng.Next(gpVisits.Count)];
                var (requestUrl, requestIdentifier) = NewIdentity();
                Add(requestUrl, new MedicationRequest
                {
                    Identifier = [requestIdentifier],
                    Status = MedicationRequest.MedicationrequestStatus.Active,
                    Intent = MedicationRequest.MedicationRequestIntent.Order,
                    Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community", text: null)],
                    Medication = Concept(problem.Medicine),
                    Subject = this.patient,
                    Encounter = new ResourceReference(visit),
                    AuthoredOn = authored.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                    Requester = PractitionerReference(usualGp),
                    ReasonReference = [new ResourceReference(conditionUrl)],
                    CourseOfTherapyType = new CodeableConcept("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous", "Continuous long term therapy", text: null),
                    DosageInstruction = [new Dosage { Text = problem.Dosage }],
                });
            }

            // Pain relief bought over the counter: recorded as what the patient says they take.
            if (this.problems.Contains(Osteoarthritis))
            {
                var (statementUrl, identifier) = NewIdentity();
                var since = PastDate(60, 900);
                Add(statementUrl, new MedicationStatement
                {
                    Identifier = [identifier],
                    Status = MedicationStatement.MedicationStatusCodes.Active,
                    Medication = Concept(Paracetamol),
                    Subject = this.patient,
                    Effective = new Period { StartElement = new FhirDateTime(Date(since)) },
                    DateAsserted = Date(since.AddDays(14) > this.today ? this.today : since.AddDays(14)),
                    InformationSource = this.patient,
                    Dosage = [new Dosage { Text = "Two tablets up to four times a day when required" }],
                });
            }
        }

        private void WriteHospitalCare()
        {
            var doctor = rng.Chance(0.7) ? DrAhmedId : DrWilsonId;
            var site = doctor == DrAhmedId ? JohnRadcliffeLocationId : ChurchillLocationId;

            // About one admission in eight is still an inpatient on the reference date.
            var current = rng.Chance(0.125);
            var admitted = At(current ? this.today.AddDays(-rng.Next(1, 6)) : PastDate(30, 700));
            var discharged = current ? (DateTimeOffset?)null : admitted.AddDays(rng.Next(1, 12)).AddHours(rng.Next(1, 6));
            var admission = AddEncounter(current ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished,
                "IMP", "inpatient encounter", Concept(HospitalAdmission), doctor, AcuteTrustId, admitted, discharged, site, episodeOfCare: null);

            if (Adult)
            {
                AddBloodPressure(admission, admitted, doctor);
            }

            AddVital(HeartRate, rng.Around(92, 18, 0), "/min", "beats/minute", admission, admitted, doctor);
            AddVital(BodyTemperature, rng.Around(37.6, 0.9, 1), "Cel", "C", admission, admitted, doctor);
            AddVital(OxygenSaturation, Math.Min(100, rng.Around(94, 3, 0)), "%", "%", admission, admitted, doctor);
            AddVital(RespiratoryRate, rng.Around(20, 4, 0), "/min", "breaths/minute", admission, admitted, doctor);

            var reasons = AdmissionReasons.Where(r =>
                (r.Value != "5913000" || age >= 60) && (r.Value != "195951007" || this.problems.Contains(Copd)) && (r.Value != "29857009" || Adult)).ToList();
            var (diagnosisUrl, identifier) = NewIdentity();
            Add(diagnosisUrl, new Condition
            {
                Identifier = [identifier],
                ClinicalStatus = current
                    ? new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active", text: null)
                    : new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved", "Resolved", text: null),
                VerificationStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed", text: null),
                Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis", text: null)],
                Code = Concept(rng.Pick(reasons)),
                Subject = this.patient,
                Encounter = new ResourceReference(admission),
                Onset = new FhirDateTime(admitted),
                Abatement = discharged is { } end ? new FhirDateTime(end) : null,
                RecordedDate = admitted.AddHours(2).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                Recorder = PractitionerReference(doctor),
            });

            var followUps = rng.Next(1, 3);
            for (var f = 0; f < followUps; f++)
            {
                var day = discharged is { } d && DateOnly.FromDateTime(d.UtcDateTime).AddDays(14 + (f * 42)) < this.today
                    ? DateOnly.FromDateTime(d.UtcDateTime).AddDays(14 + (f * 42))
                    : PastDate(60, 900);
                var when = At(day);
                var clinic = AddEncounter(Encounter.EncounterStatus.Finished, "AMB", "ambulatory", Concept(FollowUpVisit), doctor,
                    AcuteTrustId, when, when.AddMinutes(20), ChurchillLocationId, episodeOfCare: null);
                if (Adult)
                {
                    AddBloodPressure(clinic, when, doctor);
                }

                AddVital(HeartRate, rng.Around(76, 14, 0), "/min", "beats/minute", clinic, when, doctor);
            }
        }

        private void WriteCommunityNursing()
        {
            var start = PastDate(60, 500);
            var (episodeUrl, identifier) = NewIdentity();
            Add(episodeUrl, new EpisodeOfCare
            {
                Identifier = [identifier],
                Status = EpisodeOfCare.EpisodeOfCareStatus.Active,
                Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/episodeofcare-type", "hacc", "Home and Community Care", "Community nursing")],
                Patient = this.patient,
                ManagingOrganization = OrganizationReference(CommunityTrustId),
                Period = new Period { StartElement = new FhirDateTime(Date(start)) },
                CareManager = PractitionerReference(NurseJonesId),
            });

            var visits = rng.Next(2, 5);
            var days = Enumerable.Range(0, visits).Select(_ => PastDateAfter(start, 1)).Order().ToList();
            for (var v = 0; v < days.Count; v++)
            {
                // Now and then the nurse is with the patient on the reference date itself.
                var ongoing = v == days.Count - 1 && rng.Chance(0.15);
                var when = At(ongoing ? this.today : days[v]);
                var visit = AddEncounter(ongoing ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished, "HH", "home health",
                    Concept(HomeVisit), NurseJonesId, CommunityTrustId, when, ongoing ? null : when.AddMinutes(40), location: null, episodeUrl);
                AddBloodPressure(visit, when, NurseJonesId);
                AddVital(OxygenSaturation, Math.Min(100, rng.Around(96, 2.5, 0)), "%", "%", visit, when, NurseJonesId);
            }
        }

        private void WriteSocialCare()
        {
            var start = PastDate(90, 700);
            var (teamUrl, teamIdentifier) = NewIdentity();
            Add(teamUrl, new CareTeam
            {
                Identifier = [teamIdentifier],
                Status = CareTeam.CareTeamStatus.Active,
                Name = "Adult social care and primary care team",
                Subject = this.patient,
                Period = new Period { StartElement = new FhirDateTime(Date(start)) },
                Participant =
                [
                    new CareTeam.ParticipantComponent
                    {
                        Role = [Concept(SocialWorkerOccupation)],
                        Member = PractitionerReference(SwPatelId),
                        OnBehalfOf = OrganizationReference(CouncilId),
                    },
                    new CareTeam.ParticipantComponent
                    {
                        Role = [Concept(GeneralPractitionerOccupation)],
                        Member = this.plan.Practice == GpPracticeId ? PractitionerReference(usualGp) : OrganizationReference(this.plan.Practice),
                        OnBehalfOf = OrganizationReference(this.plan.Practice),
                    },
                ],
                ManagingOrganization = [OrganizationReference(CouncilId)],
            });

            var (episodeUrl, episodeIdentifier) = NewIdentity();
            Add(episodeUrl, new EpisodeOfCare
            {
                Identifier = [episodeIdentifier],
                Status = EpisodeOfCare.EpisodeOfCareStatus.Active,
                Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/episodeofcare-type", "hacc", "Home and Community Care", "Adult social care"), SocialCareSetting],
                Patient = this.patient,
                ManagingOrganization = OrganizationReference(CouncilId),
                Period = new Period { StartElement = new FhirDateTime(Date(start)) },
                CareManager = PractitionerReference(SwPatelId),
                Team = [new ResourceReference(teamUrl)],
            });

            var when = At(start.AddDays(rng.Next(0, 14)) > this.today ? this.today : start.AddDays(rng.Next(0, 14)));
            AddEncounter(Encounter.EncounterStatus.Finished, "HH", "home health", new CodeableConcept { Coding = SocialCareSetting.Coding, Text = "Social care needs assessment" },
                SwPatelId, CouncilId, when, when.AddMinutes(75), location: null, episodeUrl);
        }

        private string AddEncounter(Encounter.EncounterStatus status, string classCode, string classDisplay, CodeableConcept type,
            string practitionerId, string organizationId, DateTimeOffset start, DateTimeOffset? end, string? location, string? episodeOfCare)
        {
            var (fullUrl, identifier) = NewIdentity();
            Add(fullUrl, new Encounter
            {
                Identifier = [identifier],
                Status = status,
                Class = new Coding(ActCodeSystem, classCode, classDisplay),
                Type = [type],
                Subject = this.patient,
                EpisodeOfCare = episodeOfCare is null ? [] : [new ResourceReference(episodeOfCare)],
                Participant =
                [
                    new Encounter.ParticipantComponent
                    {
                        Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer", text: null)],
                        Individual = PractitionerReference(practitionerId),
                    },
                ],
                Period = end is { } e ? new Period(new FhirDateTime(start), new FhirDateTime(e)) : new Period { StartElement = new FhirDateTime(start) },
                Location = location is null ? [] : [new Encounter.LocationComponent { Location = new ResourceReference($"Location/{location}") }],
                ServiceProvider = OrganizationReference(organizationId),
            });
            return fullUrl;
        }

        private void AddBloodPressure(string encounter, DateTimeOffset when, string performer)
        {
            var hypertensive = this.problems.Contains(Hypertension);
            var observation = NewObservation(BloodPressurePanel, "vital-signs", "Vital Signs", encounter, when, performer);
            observation.Component =
            [
                new Observation.ComponentComponent
                {
                    Code = Concept(Systolic),
                    Value = Ucum(rng.Around(118 + (hypertensive ? 22 : 0) + (age / 5.0), 14, 0), "mm[Hg]", "mmHg"),
                },
                new Observation.ComponentComponent
                {
                    Code = Concept(Diastolic),
                    Value = Ucum(rng.Around(76 + (hypertensive ? 9 : 0), 9, 0), "mm[Hg]", "mmHg"),
                },
            ];
        }

        private void AddBodyMeasurements(string encounter, DateTimeOffset when, string performer)
        {
            decimal height, weight;
            if (Adult)
            {
                var male = gender == AdministrativeGender.Male;
                height = rng.Around(male ? 176 : 163, 12, 0);
                weight = rng.Around(male ? 84 : 71, 22, 1);
            }
            else
            {
                height = rng.Around(age == 0 ? 66 : 80 + (age * 6), 8, 0);
                weight = rng.Around(age == 0 ? 7.5 : 11 + (age * 3), 2.5, 1);
            }

            AddVital(BodyHeight, height, "cm", "cm", encounter, when, performer);
            AddVital(BodyWeight, weight, "kg", "kg", encounter, when, performer);
            if (Adult)
            {
                var bmi = Math.Round(weight / (height / 100m * (height / 100m)), 1, MidpointRounding.AwayFromZero);
                AddVital(BodyMassIndex, bmi, "kg/m2", "kg/m2", encounter, when, performer);
            }
        }

        private void AddVital(Term code, decimal value, string ucum, string unit, string encounter, DateTimeOffset when, string performer) =>
            NewObservation(code, "vital-signs", "Vital Signs", encounter, when, performer).Value = Ucum(value, ucum, unit);

        private void AddLab(Term code, decimal value, string ucum, string unit, string encounter, DateTimeOffset when, string performer) =>
            NewObservation(code, "laboratory", "Laboratory", encounter, when.AddDays(2), performer).Value = Ucum(value, ucum, unit);

        private Observation NewObservation(Term code, string category, string categoryDisplay, string encounter, DateTimeOffset when, string performer)
        {
            var (fullUrl, identifier) = NewIdentity();
            var observation = new Observation
            {
                Identifier = [identifier],
                Status = ObservationStatus.Final,
                Category = [new CodeableConcept(ObservationCategorySystem, category, categoryDisplay, text: null)],
                Code = Concept(code),
                Subject = this.patient,
                Encounter = new ResourceReference(encounter),
                Effective = new FhirDateTime(when),
                Performer = [PractitionerReference(performer)],
            };
            Add(fullUrl, observation);
            return observation;
        }

        private static Quantity Ucum(decimal value, string code, string unit) =>
            new() { Value = value, Unit = unit, System = DemoCatalogue.Ucum, Code = code };

        // Every entry but the Patient is identified by its own fullUrl, and created only if no resource
        // carries that identifier yet: reloading the community creates nothing twice.
        private (string FullUrl, Identifier Identifier) NewIdentity()
        {
            var fullUrl = $"urn:uuid:{rng.NextGuid()}";
            return (fullUrl, new Identifier(UriIdentifierSystem, fullUrl));
        }

        private void Add(string fullUrl, Resource resource)
        {
            resource.Meta ??= new Meta();
            resource.Meta.Source = OrganisationSource.For(source);
            AddEntry(fullUrl, resource);
        }

        /// <summary>The consents the plan asks for: an opt-out, and explicit consent to share with adult social care.</summary>
        private void WriteConsents()
        {
            if (this.plan.OptedOut)
            {
                AddConsent(Consent.ConsentProvisionType.Deny, actor: null, "Patient asked not to share their record beyond the organisations that hold it");
            }

            if (this.plan.SocialCare && this.plan.SocialCareConsent)
            {
                source = CouncilId;
                AddConsent(Consent.ConsentProvisionType.Permit, OrganizationReference(CouncilId), "Consent to share with adult social care");
            }
        }

        private void AddConsent(Consent.ConsentProvisionType effect, ResourceReference? actor, string text)
        {
            var (fullUrl, identifier) = NewIdentity();
            Add(fullUrl, new Consent
            {
                Identifier = [identifier],
                Status = Consent.ConsentState.Active,
                Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy", "Privacy Consent", text),
                Category = [new CodeableConcept("http://loinc.org", "59284-0", "Patient Consent", null)],
                Patient = this.patient,
                DateTime = At(PastDate(10, 400)).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                Policy = [new Consent.PolicyComponent { Uri = "https://www.england.nhs.uk/ig/" }],
                Provision = new Consent.provisionComponent
                {
                    Type = effect,
                    Actor = actor is null ? [] : [new Consent.provisionActorComponent { Role = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient", null), Reference = actor }],
                },
            });
        }

        private void AddEntry(string fullUrl, Resource resource) => bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = fullUrl,
            Resource = resource,
            Request = new Bundle.RequestComponent
            {
                Method = Bundle.HTTPVerb.POST,
                Url = resource.TypeName,
                IfNoneExist = $"identifier={UriIdentifierSystem}|{fullUrl}",
            },
        });

        /// <summary>A day between <paramref name="minDaysAgo"/> and <paramref name="maxDaysAgo"/> before today, never before birth.</summary>
        private DateOnly PastDate(int minDaysAgo, int maxDaysAgo)
        {
            var lived = this.today.DayNumber - born.DayNumber;
            var max = Math.Max(1, Math.Min(maxDaysAgo, lived - 1));
            var min = Math.Min(minDaysAgo, max);
            return this.today.AddDays(-rng.Next(min, max + 1));
        }

        /// <summary>A day after <paramref name="earliest"/> and at least <paramref name="minDaysAgo"/> before today.</summary>
        private DateOnly PastDateAfter(DateOnly earliest, int minDaysAgo)
        {
            var latest = this.today.AddDays(-minDaysAgo);
            return latest <= earliest ? latest : earliest.AddDays(rng.Next(latest.DayNumber - earliest.DayNumber + 1));
        }

        // Surgery and clinic hours, on the hour or half past, in UTC.
        private DateTimeOffset At(DateOnly day) =>
            new(day.ToDateTime(new TimeOnly(rng.Next(8, 18), rng.Pick([0, 10, 20, 30, 40, 50]))), TimeSpan.Zero);

        private static string Date(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }
}
