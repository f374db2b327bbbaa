using System.Net;
using CareHub.Fhir;
using CareHub.Records;
using CareHub.Storage;

namespace CareHub.Tests.Search;

public sealed class SearchRequestTests
{
    private static SearchRequest Parse(string type, string query, bool strict = true) =>
        SearchRequest.Parse([type], QueryString.Parse(query), strict, "http://localhost/fhir", TimeProvider.System);

    private static FhirException Refused(string type, string query, bool strict = true)
    {
        var error = Assert.ThrowsAny<FhirException>(() => Parse(type, query, strict));
        Assert.Equal(HttpStatusCode.BadRequest, FhirStatus.Of(error));
        return error;
    }

    [Theory]
    [InlineData("Patient", "name:near=x")]
    [InlineData("Patient", "birthdate:exact=2020")]
    [InlineData("Patient", "gender:in=http://example.test/vs")]
    [InlineData("Observation", "subject:Nonsense=1")]
    [InlineData("Observation", "subject:Practitioner=1")]
    [InlineData("Patient", "_count:x=1")]
    public void an_unsupported_modifier_is_refused_even_when_lenient(string type, string query) => Refused(type, query, strict: false);

    [Theory]
    [InlineData("Patient", "birthdate=yesterday")]
    [InlineData("Patient", "birthdate=xx2020")]
    [InlineData("RiskAssessment", "probability=high")]
    [InlineData("Patient", "identifier=a|b|c")]
    [InlineData("Patient", "active:missing=maybe")]
    [InlineData("Observation", "value-quantity=5|x")]
    [InlineData("Observation", "code-value-quantity=8480-6")]
    [InlineData("Patient", "name.family=x")]
    [InlineData("Observation", "subject:Patient.nonsense=x")]
    [InlineData("Patient", "_has:Observation:code:status=final")]
    [InlineData("Patient", "_has:Observation:patient")]
    [InlineData("Patient", "_include=Observation:subject")]
    [InlineData("Patient", "_include=Patient:name")]
    [InlineData("Patient", "_cursor=not-a-cursor")]
    [InlineData("Patient", "_summary=maybe")]
    [InlineData("Patient", "_list=$current-problems")]
    public void a_malformed_value_is_a_400(string type, string query) => Refused(type, query);

    [Fact]
    public void unknown_parameters_are_refused_when_strict_and_reported_when_lenient()
    {
        Refused("Patient", "nonsense=1");
        Refused("Patient", "_sort=nonsense");

        var lenient = Parse("Patient", "nonsense=1&family=smith&_sort=nonsense", strict: false);

        Assert.Equal(["nonsense", "_sort"], lenient.Ignored);
        Assert.Equal([new KeyValuePair<string, string>("family", "smith")], lenient.Applied);
        Assert.Single(lenient.Clauses);
    }

    [Fact]
    public void and_is_repetition_and_or_is_a_comma()
    {
        var request = Parse("Patient", "family=a,b&family=c");

        Assert.Equal(2, request.Clauses.Count);
        Assert.Equal(["a", "b"], Assert.IsType<StringClause>(request.Clauses[0]).AnyOf);
        Assert.Equal(["c"], Assert.IsType<StringClause>(request.Clauses[1]).AnyOf);
    }

    [Fact]
    public void result_parameters_are_parsed_and_applied()
    {
        var request = Parse("Observation", "_count=5000&_total=none&_summary=data&_elements=code,subject&_sort=-date,code&_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target");

        Assert.Equal(SearchRequest.MaxCount, request.Count);
        Assert.False(request.CountTotal);
        Assert.Equal(SummaryMode.Data, request.Summary);
        Assert.Equal(["code", "subject"], request.Elements);
        Assert.Equal([new SortBy("date", SortSource.Date, true), new SortBy("code", SortSource.Token, false)], request.Sort);
        Assert.Equal([new IncludeSpec("Observation", "subject", "Patient", false, false), new IncludeSpec("Provenance", "target", null, true, true)], request.Includes);
    }

    [Fact]
    public void a_cursor_round_trips_its_sort_keys_and_must_match_the_sort()
    {
        var cursor = new PageCursor(["smith", 1234L, 0.5, null], "Patient", "p1");
        var text = SearchRequest.FormatCursor(cursor);

        var request = Parse("Patient", $"_sort=family,birthdate,_id,gender&_cursor={text}");

        Assert.Equal(cursor.Type, request.After!.Type);
        Assert.Equal(cursor.Id, request.After.Id);
        Assert.Equal(cursor.Keys, request.After.Keys);
        Refused("Patient", $"_sort=family&_cursor={text}");
    }

    [Fact]
    public void system_level_parameters_must_mean_the_same_on_every_type()
    {
        var request = SearchRequest.Parse(["Patient", "Observation"], QueryString.Parse("_lastUpdated=gt2020&_tag=a|b"), strict: true, null, TimeProvider.System);
        Assert.Equal(2, request.Clauses.Count);

        // "code" is not a parameter of Patient.
        Assert.ThrowsAny<FhirException>(() => SearchRequest.Parse(["Patient", "Observation"], QueryString.Parse("code=x"), strict: true, null, TimeProvider.System));
    }
}
