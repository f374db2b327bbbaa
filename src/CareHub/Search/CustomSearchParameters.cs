using CareHub.Records;
using CareHub.Storage;

namespace CareHub.Search;

/// <summary>Loads the SearchParameter resources stored in the record into <see cref="SearchParameterCatalog"/>.</summary>
public static class CustomSearchParameters
{
    /// <summary>
    /// Reads every current SearchParameter resource and makes the usable ones the catalogue's custom parameters; returns
    /// how many are in use. Called at start and by every reindex, which is what indexes existing resources for them.
    /// </summary>
    public static async Task<int> LoadAsync(IRecordLookups store, CancellationToken cancellationToken)
    {
        var found = new List<Hl7.Fhir.Model.SearchParameter>();
        PageCursor? after = null;
        while (true)
        {
            var page = await store.SearchAsync(new StoreQuery("SearchParameter", [], 500, After: after) { Scope = QueryScope.Internal("loading custom search parameters") }, cancellationToken);
            found.AddRange(page.Resources.Where(r => r.Json is not null).Select(r => StoredJson.Parse(r.Json!)).OfType<Hl7.Fhir.Model.SearchParameter>());
            if (!page.HasMore || page.NextCursor is null)
            {
                break;
            }

            after = page.NextCursor;
        }

        SearchParameterCatalog.UseCustom(store, found);
        return found.Count;
    }
}
