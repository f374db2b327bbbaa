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
        private readonly DemoRandom _rng;
        private readonly DemoPatient _plan;
        private readonly DateOnly _today;
        private readonly Bundle _bundle = new() { Type = Bundle.BundleType.Transaction };
        private readonly ResourceReference _patient;
        private readonly List<Term> _problems = [];
        private DateOnly _born;
        private int _age;
        private AdministrativeGender _gender;
        private string _usualGp = GpSmithId;

        /// <summary>The organisation the records being written come from (their meta.source).</summary>
        private string _source = GpPracticeId;

        public PatientWriter(DemoCommunityOptions options, DemoPatient plan)
        {
            _rng = DemoRandom.For(options.Seed, "patient", plan.Index);
            _plan = plan;
            _today = options.ReferenceDate;
            _patient = new ResourceReference(plan.FullUrl);
        }

        private bool Adult => _age >= 16;

        public Bundle Write()
        {
            _source = _plan.Practice;
            WritePatient();
            WriteAllergy();
            var gpVisits = WriteGeneralPractice();
            WriteProblems(gpVisits);
            if (_plan.AcuteCare)
            {
                _source = AcuteTrustId;
                WriteHospitalCare();
            }

            if (_plan.CommunityCare)
            {
                _source = CommunityTrustId;
                WriteCommunityNursing();
            }

            if (_plan.SocialCare)
            {
                _source = CouncilId;
                WriteSocialCare();
            }

            _source = _plan.Practice;
            WriteConsents();
            return _bundle;
        }

        private void WritePatient()
        {
            // Those under community nursing or social care are mostly older people.
            _age = _plan.CommunityCare || _plan.SocialCare
                ? _rng.Next(60, 98)
                : _rng.NextDouble() switch
                {
                    < 0.15 => _rng.Next(0, 16),
                    < 0.40 => _rng.Next(16, 40),
                    < 0.75 => _rng.Next(40, 65),
                    _ => _rng.Next(65, 91),
                };
            _born = _today.AddYears(-_age).AddDays(-_rng.Next(0, 365));
            if (_born > _today.AddDays(-21))
            {
                _born = _today.AddDays(-21);
            }

            _gender = _rng.Chance(0.51) ? AdministrativeGender.Female : AdministrativeGender.Male;
            var given = _rng.Pick(_gender == AdministrativeGender.Female ? FemaleGivenNames : MaleGivenNames);
            var middle = _rng.Chance(0.4) ? _rng.Pick(_gender == AdministrativeGender.Female ? FemaleGivenNames : MaleGivenNames) : null;
            var name = new HumanName
            {
                Use = HumanName.NameUse.Official,
                Family = _rng.Pick(FamilyNames),
                Given = middle is null || middle == given ? [given] : [given, middle],
                Prefix = Adult ? [Title()] : [],
            };

            var area = _rng.NextDouble() switch { < 0.70 => Stockton, < 0.85 => Oxford, _ => Coventry };
            var postcode = string.Create(CultureInfo.InvariantCulture,
                $"{_rng.Pick(area.Districts)} {_rng.Next(1, 10)}{PostcodeInwardLetters[_rng.Next(PostcodeInwardLetters.Length)]}{PostcodeInwardLetters[_rng.Next(PostcodeInwardLetters.Length)]}");
            var address = new Address
            {
                Use = Address.AddressUse.Home,
                Type = Address.AddressType.Both,
                Line = [string.Create(CultureInfo.InvariantCulture, $"{_rng.Next(1, 180)} {_rng.Pick(area.Streets)}")],
                City = area.Town,
                District = area.County,
                PostalCode = postcode,
                Country = "GB",
            };

            // Ofcom reserves 01632 960000-960999 and 07700 900000-900999 for drama: they reach nobody.
            var telecom = new List<ContactPoint>();
            if (_rng.Chance(0.45))
            {
                telecom.Add(Phone(ContactPoint.ContactPointUse.Home, $"01632 960{_rng.Next(1000):D3}"));
            }

            if (_age >= 12 && _rng.Chance(0.85))
            {
                telecom.Add(Phone(ContactPoint.ContactPointUse.Mobile, $"07700 900{_rng.Next(1000):D3}"));
            }

            var gpRoll = _rng.NextDouble();
            _usualGp = gpRoll < 0.5 ? GpSmithId : gpRoll < 0.8 ? GpKhanId : GpOConnorId;

            var patient = new Patient
            {
                Identifier = [NhsNumber.Parse(_plan.NhsNumber).ToFhirIdentifier(NhsNumberVerificationStatus.NumberPresentAndVerified)],
                Active = true,
                Name = [name],
                Telecom = telecom,
                Gender = _gender,
                BirthDate = Date(_born),
                Address = [address],
                GeneralPractitioner = _plan.Practice == GpPracticeId ? [OrganizationReference(GpPracticeId), PractitionerReference(_usualGp)] : [OrganizationReference(_plan.Practice)],
                ManagingOrganization = OrganizationReference(_plan.Practice),
                Meta = new Meta { Source = OrganisationSource.For(_source) },
            };
            _bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = _plan.FullUrl,
                Resource = patient,
                Request = new Bundle.RequestComponent
                {
                    Method = Bundle.HTTPVerb.POST,
                    Url = "Patient",
                    IfNoneExist = $"identifier={NhsNumber.IdentifierSystem}|{_plan.NhsNumber}",
                },
            });
        }

        private string Title() => _gender == AdministrativeGender.Male
            ? "Mr"
            : _age < 30 ? _rng.Pick(["Miss", "Ms"]) : _rng.Pick(["Mrs", "Mrs", "Ms", "Miss"]);

        private static ContactPoint Phone(ContactPoint.ContactPointUse use, string number) =>
            new(ContactPoint.ContactPointSystem.Phone, use, number);

        private void WriteAllergy()
        {
            if (!_rng.Chance(0.25))
            {
                return;
            }

            var (code, category, reaction, severe) = _rng.Pick(Allergies);
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
                Patient = _patient,
                RecordedDate = Date(PastDate(30, 3000)),
                Recorder = PractitionerReference(_usualGp),
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
                if (_age >= problem.MinAge && _rng.Chance(_age >= problem.OlderFrom ? problem.ChanceWhenOlder : problem.Chance))
                {
                    _problems.Add(problem.Code);
                }
            }

            if (_plan.SocialCare && _age >= 75 && !_problems.Contains(Dementia) && _rng.Chance(0.3))
            {
                _problems.Add(Dementia);
            }

            var count = _age >= 60 ? _rng.Next(4, 8) : _rng.Next(3, 7);
            var days = Enumerable.Range(0, count).Select(_ => PastDate(3, 1095)).Order().ToList();
            var visits = new List<(string, DateTimeOffset)>();
            for (var v = 0; v < days.Count; v++)
            {
                var when = At(days[v]);
                var gp = _rng.Chance(0.7) ? _usualGp : _rng.Pick([GpSmithId, GpKhanId, GpOConnorId]);
                var encounter = AddEncounter(Encounter.EncounterStatus.Finished, "AMB", "ambulatory", Concept(Consultation), gp,
                    _plan.Practice, when, when.AddMinutes(10), location: null, episodeOfCare: null);

                if (Adult)
                {
                    AddBloodPressure(encounter, when, gp);
                    AddVital(HeartRate, _rng.Around(72, 16, 0), "/min", "beats/minute", encounter, when, gp);
                }
                else
                {
                    AddVital(HeartRate, _rng.Around(105 - (_age * 2), 18, 0), "/min", "beats/minute", encounter, when, gp);
                    AddVital(BodyTemperature, _rng.Around(37.0, 0.6, 1), "Cel", "C", encounter, when, gp);
                }

                if (v == 0)
                {
                    AddBodyMeasurements(encounter, when, gp);
                }

                if (_problems.Contains(Type2Diabetes) && (v == 0 || v == days.Count - 1))
                {
                    AddLab(HbA1c, _rng.Around(58, 16, 0), "mmol/mol", "mmol/mol", encounter, when, gp);
                }

                if (_age >= 40 && v == days.Count / 2)
                {
                    AddLab(TotalCholesterol, _rng.Around(5.0, 1.4, 1), "mmol/L", "mmol/L", encounter, when, gp);
                }

                if ((_problems.Contains(Asthma) || _problems.Contains(Copd)) && v == days.Count - 1)
                {
                    AddVital(OxygenSaturation, Math.Min(100, _rng.Around(_problems.Contains(Copd) ? 94 : 97, 2.5, 0)), "%", "%", encounter, when, gp);
                    AddVital(RespiratoryRate, _rng.Around(_problems.Contains(Copd) ? 19 : 16, 3, 0), "/min", "breaths/minute", encounter, when, gp);
                }

                visits.Add((encounter, when));
            }

            return visits;
        }

        private void WriteProblems(List<(string FullUrl, DateTimeOffset When)> gpVisits)
        {
            foreach (var code in _problems)
            {
                var problem = Array.Find(Problems, p => p.Code == code)!;
                var earliest = _born.AddYears(Math.Max(problem.MinAge, 1));
                var onset = earliest >= _today.AddDays(-60) ? _today.AddDays(-60) : PastDateAfter(earliest, 60);
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
                    Subject = _patient,
                    Onset = new FhirDateTime(Date(onset)),
                    RecordedDate = Date(onset.AddDays(_rng.Next(0, 30)) > _today ? _today : onset.AddDays(_rng.Next(0, 30))),
                    Recorder = PractitionerReference(_usualGp),
                });

                if (problem.Medicine is null)
                {
                    continue;
                }

                var (visit, authored) = gpVisits[_rng.Next(gpVisits.Count)];
                var (requestUrl, requestIdentifier) = NewIdentity();
                Add(requestUrl, new MedicationRequest
                {
                    Identifier = [requestIdentifier],
                    Status = MedicationRequest.MedicationrequestStatus.Active,
                    Intent = MedicationRequest.MedicationRequestIntent.Order,
                    Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community", text: null)],
                    Medication = Concept(problem.Medicine),
                    Subject = _patient,
                    Encounter = new ResourceReference(visit),
                    AuthoredOn = authored.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                    Requester = PractitionerReference(_usualGp),
                    ReasonReference = [new ResourceReference(conditionUrl)],
                    CourseOfTherapyType = new CodeableConcept("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous", "Continuous long term therapy", text: null),
                    DosageInstruction = [new Dosage { Text = problem.Dosage }],
                });
            }

            // Pain relief bought over the counter: recorded as what the patient says they take.
            if (_problems.Contains(Osteoarthritis))
            {
                var (statementUrl, identifier) = NewIdentity();
                var since = PastDate(60, 900);
                Add(statementUrl, new MedicationStatement
                {
                    Identifier = [identifier],
                    Status = MedicationStatement.MedicationStatusCodes.Active,
                    Medication = Concept(Paracetamol),
                    Subject = _patient,
                    Effective = new Period { StartElement = new FhirDateTime(Date(since)) },
                    DateAsserted = Date(since.AddDays(14) > _today ? _today : since.AddDays(14)),
                    InformationSource = _patient,
                    Dosage = [new Dosage { Text = "Two tablets up to four times a day when required" }],
                });
            }
        }

        private void WriteHospitalCare()
        {
            var doctor = _rng.Chance(0.7) ? DrAhmedId : DrWilsonId;
            var site = doctor == DrAhmedId ? JohnRadcliffeLocationId : ChurchillLocationId;

            // About one admission in eight is still an inpatient on the reference date.
            var current = _rng.Chance(0.125);
            var admitted = At(current ? _today.AddDays(-_rng.Next(1, 6)) : PastDate(30, 700));
            var discharged = current ? (DateTimeOffset?)null : admitted.AddDays(_rng.Next(1, 12)).AddHours(_rng.Next(1, 6));
            var admission = AddEncounter(current ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished,
                "IMP", "inpatient encounter", Concept(HospitalAdmission), doctor, AcuteTrustId, admitted, discharged, site, episodeOfCare: null);

            if (Adult)
            {
                AddBloodPressure(admission, admitted, doctor);
            }

            AddVital(HeartRate, _rng.Around(92, 18, 0), "/min", "beats/minute", admission, admitted, doctor);
            AddVital(BodyTemperature, _rng.Around(37.6, 0.9, 1), "Cel", "C", admission, admitted, doctor);
            AddVital(OxygenSaturation, Math.Min(100, _rng.Around(94, 3, 0)), "%", "%", admission, admitted, doctor);
            AddVital(RespiratoryRate, _rng.Around(20, 4, 0), "/min", "breaths/minute", admission, admitted, doctor);

            var reasons = AdmissionReasons.Where(r =>
                (r.Value != "5913000" || _age >= 60) && (r.Value != "195951007" || _problems.Contains(Copd)) && (r.Value != "29857009" || Adult)).ToList();
            var (diagnosisUrl, identifier) = NewIdentity();
            Add(diagnosisUrl, new Condition
            {
                Identifier = [identifier],
                ClinicalStatus = current
                    ? new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active", text: null)
                    : new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved", "Resolved", text: null),
                VerificationStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed", text: null),
                Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis", text: null)],
                Code = Concept(_rng.Pick(reasons)),
                Subject = _patient,
                Encounter = new ResourceReference(admission),
                Onset = new FhirDateTime(admitted),
                Abatement = discharged is { } end ? new FhirDateTime(end) : null,
                RecordedDate = admitted.AddHours(2).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                Recorder = PractitionerReference(doctor),
            });

            var followUps = _rng.Next(1, 3);
            for (var f = 0; f < followUps; f++)
            {
                var day = discharged is { } d && DateOnly.FromDateTime(d.UtcDateTime).AddDays(14 + (f * 42)) < _today
                    ? DateOnly.FromDateTime(d.UtcDateTime).AddDays(14 + (f * 42))
                    : PastDate(60, 900);
                var when = At(day);
                var clinic = AddEncounter(Encounter.EncounterStatus.Finished, "AMB", "ambulatory", Concept(FollowUpVisit), doctor,
                    AcuteTrustId, when, when.AddMinutes(20), ChurchillLocationId, episodeOfCare: null);
                if (Adult)
                {
                    AddBloodPressure(clinic, when, doctor);
                }

                AddVital(HeartRate, _rng.Around(76, 14, 0), "/min", "beats/minute", clinic, when, doctor);
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
                Patient = _patient,
                ManagingOrganization = OrganizationReference(CommunityTrustId),
                Period = new Period { StartElement = new FhirDateTime(Date(start)) },
                CareManager = PractitionerReference(NurseJonesId),
            });

            var visits = _rng.Next(2, 5);
            var days = Enumerable.Range(0, visits).Select(_ => PastDateAfter(start, 1)).Order().ToList();
            for (var v = 0; v < days.Count; v++)
            {
                // Now and then the nurse is with the patient on the reference date itself.
                var ongoing = v == days.Count - 1 && _rng.Chance(0.15);
                var when = At(ongoing ? _today : days[v]);
                var visit = AddEncounter(ongoing ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished, "HH", "home health",
                    Concept(HomeVisit), NurseJonesId, CommunityTrustId, when, ongoing ? null : when.AddMinutes(40), location: null, episodeUrl);
                AddBloodPressure(visit, when, NurseJonesId);
                AddVital(OxygenSaturation, Math.Min(100, _rng.Around(96, 2.5, 0)), "%", "%", visit, when, NurseJonesId);
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
                Subject = _patient,
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
                        Member = _plan.Practice == GpPracticeId ? PractitionerReference(_usualGp) : OrganizationReference(_plan.Practice),
                        OnBehalfOf = OrganizationReference(_plan.Practice),
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
                Patient = _patient,
                ManagingOrganization = OrganizationReference(CouncilId),
                Period = new Period { StartElement = new FhirDateTime(Date(start)) },
                CareManager = PractitionerReference(SwPatelId),
                Team = [new ResourceReference(teamUrl)],
            });

            var when = At(start.AddDays(_rng.Next(0, 14)) > _today ? _today : start.AddDays(_rng.Next(0, 14)));
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
                Subject = _patient,
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
            var hypertensive = _problems.Contains(Hypertension);
            var observation = NewObservation(BloodPressurePanel, "vital-signs", "Vital Signs", encounter, when, performer);
            observation.Component =
            [
                new Observation.ComponentComponent
                {
                    Code = Concept(Systolic),
                    Value = Ucum(_rng.Around(118 + (hypertensive ? 22 : 0) + (_age / 5.0), 14, 0), "mm[Hg]", "mmHg"),
                },
                new Observation.ComponentComponent
                {
                    Code = Concept(Diastolic),
                    Value = Ucum(_rng.Around(76 + (hypertensive ? 9 : 0), 9, 0), "mm[Hg]", "mmHg"),
                },
            ];
        }

        private void AddBodyMeasurements(string encounter, DateTimeOffset when, string performer)
        {
            decimal height, weight;
            if (Adult)
            {
                var male = _gender == AdministrativeGender.Male;
                height = _rng.Around(male ? 176 : 163, 12, 0);
                weight = _rng.Around(male ? 84 : 71, 22, 1);
            }
            else
            {
                height = _rng.Around(_age == 0 ? 66 : 80 + (_age * 6), 8, 0);
                weight = _rng.Around(_age == 0 ? 7.5 : 11 + (_age * 3), 2.5, 1);
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
                Subject = _patient,
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
            var fullUrl = $"urn:uuid:{_rng.NextGuid()}";
            return (fullUrl, new Identifier(UriIdentifierSystem, fullUrl));
        }

        private void Add(string fullUrl, Resource resource)
        {
            resource.Meta ??= new Meta();
            resource.Meta.Source = OrganisationSource.For(_source);
            AddEntry(fullUrl, resource);
        }

        /// <summary>The consents the plan asks for: an opt-out, and explicit consent to share with adult social care.</summary>
        private void WriteConsents()
        {
            if (_plan.OptedOut)
            {
                AddConsent(Consent.ConsentProvisionType.Deny, actor: null, "Patient asked not to share their record beyond the organisations that hold it");
            }

            if (_plan.SocialCare && _plan.SocialCareConsent)
            {
                _source = CouncilId;
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
                Patient = _patient,
                DateTime = At(PastDate(10, 400)).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
                Policy = [new Consent.PolicyComponent { Uri = "https://www.england.nhs.uk/ig/" }],
                Provision = new Consent.provisionComponent
                {
                    Type = effect,
                    Actor = actor is null ? [] : [new Consent.provisionActorComponent { Role = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient", null), Reference = actor }],
                },
            });
        }

        private void AddEntry(string fullUrl, Resource resource) => _bundle.Entry.Add(new Bundle.EntryComponent
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
            var lived = _today.DayNumber - _born.DayNumber;
            var max = Math.Max(1, Math.Min(maxDaysAgo, lived - 1));
            var min = Math.Min(minDaysAgo, max);
            return _today.AddDays(-_rng.Next(min, max + 1));
        }

        /// <summary>A day after <paramref name="earliest"/> and at least <paramref name="minDaysAgo"/> before today.</summary>
        private DateOnly PastDateAfter(DateOnly earliest, int minDaysAgo)
        {
            var latest = _today.AddDays(-minDaysAgo);
            return latest <= earliest ? latest : earliest.AddDays(_rng.Next(latest.DayNumber - earliest.DayNumber + 1));
        }

        // Surgery and clinic hours, on the hour or half past, in UTC.
        private DateTimeOffset At(DateOnly day) =>
            new(day.ToDateTime(new TimeOnly(_rng.Next(8, 18), _rng.Pick([0, 10, 20, 30, 40, 50]))), TimeSpan.Zero);

        private static string Date(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }
}
