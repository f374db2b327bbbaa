using System.Net;
using System.Text.Json;
using CareHub.Fhir;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace CareHub.Tests.Patch;

internal static class PatchTestSupport
{
    public static readonly JsonSerializerOptions FhirJson = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);

    public static string Json(Resource resource) => JsonSerializer.Serialize(resource, FhirJson);

    /// <summary>A patient built in code: two identifiers, two names, one telecom, a birth date.</summary>
    public static Patient Patient() => new()
    {
        Id = "pat-1",
        Identifier =
        {
            new Identifier("x", "111"),
            new Identifier("https://fhir.nhs.uk/Id/nhs-number", "9434765919"),
        },
        Name =
        {
            new HumanName { Family = "Able", Given = ["Ann", "Beth"] },
            new HumanName { Family = "Baker", Given = ["Cora"] },
        },
        Telecom = { new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Home, "0100") },
        BirthDate = "1970-01-01",
        MultipleBirth = new Integer(2),
    };

    public static FhirException Throws(HttpStatusCode status, Action act)
    {
        var e = Assert.ThrowsAny<FhirException>(act);
        Assert.Equal(status, FhirStatus.Of(e));
        return e;
    }

    /// <summary>
    /// The shared test data folder (../shared/data beside the repository, or shared/data above it), found by walking
    /// up from the test binaries; null when this machine does not have it.
    /// </summary>
    public static string? SharedData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "data"), Path.Combine(dir.FullName, "..", "shared", "data") })
            {
                if (Directory.Exists(candidate))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }

        return null;
    }
}
