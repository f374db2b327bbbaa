using System.Text.Json.Nodes;

namespace CareHub.Server.Tests.Governance;

/// <summary>The resources the matrix writes: each a real write to the patient's record that changes no later decision.</summary>
public static class Writes
{
    /// <summary>A heart rate (a vital sign: the clinical category).</summary>
    public static JsonObject HeartRate(string patient) => (JsonObject)JsonNode.Parse($$$"""
        {"resourceType":"Observation","status":"final",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
         "subject":{"reference":"{{{patient}}}"},"effectiveDateTime":"2026-11-20T10:00:00Z",
         "valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}
        """)!;

    /// <summary>An encounter long past: it records care without making a relationship (which needs one within 90 days).</summary>
    public static JsonObject PastEncounter(string patient, string? organisation)
    {
        var encounter = (JsonObject)JsonNode.Parse($$$"""
            {"resourceType":"Encounter","status":"finished",
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
             "subject":{"reference":"{{{patient}}}"},
             "period":{"start":"2020-01-06T09:00:00Z","end":"2020-01-06T09:20:00Z"}}
            """)!;
        if (organisation is not null)
        {
            encounter["serviceProvider"] = new JsonObject { ["reference"] = "Organization/" + organisation };
        }

        return encounter;
    }

    /// <summary>A draft consent: a real write to the record that changes no decision (only active consents count).</summary>
    public static JsonObject DraftConsent(string patient, string? organisation)
    {
        var consent = (JsonObject)JsonNode.Parse($$$"""
            {"resourceType":"Consent","status":"draft",
             "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
             "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
             "patient":{"reference":"{{{patient}}}"},
             "policy":[{"uri":"https://www.england.nhs.uk/ig/"}],
             "provision":{"type":"permit"}}
            """)!;
        if (organisation is not null)
        {
            consent["provision"]!["actor"] = new JsonArray(new JsonObject
            {
                ["role"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", ["code"] = "IRCP" }) },
                ["reference"] = new JsonObject { ["reference"] = "Organization/" + organisation },
            });
        }

        return consent;
    }
}
