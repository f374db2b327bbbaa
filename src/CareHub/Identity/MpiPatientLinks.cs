using CareHub.Records;
using CareHub.Storage;
using Hl7.Fhir.Model;

namespace CareHub.Identity;

/// <summary>
/// The MPI's answer to "which other records are this person": the other members of the Patient's Person, for
/// <c>Patient/[id]/$everything?_mpi-linked=true</c>. Off unless asked for, because an automatic link is a probability,
/// not a fact: a client gets another system's records only when it asks for the person rather than the record.
/// </summary>
public sealed class MpiPatientLinks : IPatientLinks
{
    public string Parameter => MpiCodes.EverythingParam;

    public async Task<IReadOnlyList<string>> LinkedAsync(IRecordLookups store, string patientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var persons = await store.SearchAsync(PersonLinker.ByToken("Person", MpiCodes.LinkParam, patientId, 1), cancellationToken);
        return persons.Resources is [{ Json: { } json }]
            ? PersonLinker.Members((Person)StoredJson.Parse(json)).Where(m => m != patientId).ToList()
            : [];
    }
}
