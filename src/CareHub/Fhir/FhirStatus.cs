using System.Globalization;
using System.Net;
using CareHub.Governance;

namespace CareHub.Fhir;

/// <summary>
/// The HTTP status of each refusal, decided here and nowhere else: the server answers a failed request with it, and a
/// batch or transaction response carries it in <c>Bundle.entry.response.status</c> (R4 http.html#transaction-response).
/// </summary>
public static class FhirStatus
{
    public static HttpStatusCode Of(FhirException refusal) => refusal switch
    {
        InvalidInputException or TooCostlyException => HttpStatusCode.BadRequest,
        UnauthenticatedException => HttpStatusCode.Unauthorized,
        AccessDeniedException { Hidden: true } => HttpStatusCode.NotFound,
        AccessDeniedException => HttpStatusCode.Forbidden,
        ResourceNotFoundException => HttpStatusCode.NotFound,
        MethodNotAllowedException => HttpStatusCode.MethodNotAllowed,
        NotAcceptableException => HttpStatusCode.NotAcceptable,
        ResourceConflictException => HttpStatusCode.Conflict,
        ResourceGoneException => HttpStatusCode.Gone,
        PreconditionFailedException => HttpStatusCode.PreconditionFailed,
        RequestTooLargeException => HttpStatusCode.RequestEntityTooLarge,
        UnsupportedMediaTypeException => HttpStatusCode.UnsupportedMediaType,
        UnprocessableException => HttpStatusCode.UnprocessableEntity,
        ServiceUnavailableException => HttpStatusCode.ServiceUnavailable,
        _ => HttpStatusCode.InternalServerError,
    };

    /// <summary>The status as a response line says it: "404 Not Found".</summary>
    public static string Line(FhirException refusal)
    {
        var status = Of(refusal);
        return $"{((int)status).ToString(CultureInfo.InvariantCulture)} {ReasonPhrase(status)}";
    }

    /// <summary>"NotFound" becomes "Not Found": the HTTP reason phrase of the status.</summary>
    private static string ReasonPhrase(HttpStatusCode status)
    {
        var name = status.ToString();
        var phrase = new System.Text.StringBuilder(name.Length + 4);
        foreach (var c in name)
        {
            if (char.IsUpper(c) && phrase.Length > 0)
            {
                phrase.Append(' ');
            }

            phrase.Append(c);
        }

        return phrase.ToString();
    }
}
