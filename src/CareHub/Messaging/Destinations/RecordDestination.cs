using System.Globalization;
using System.Text;
using CareHub.Fhir;
using CareHub.Governance;
using CareHub.Messaging.Storage;
using CareHub.Records;
using Hl7.Fhir.Model;

namespace CareHub.Messaging.Destinations;

/// <summary>
/// Writes a transformed message (a FHIR transaction or batch Bundle) to the record through the one door, as the
/// channel's principal. The Bundle runs as one transaction, and carries a receipt: a Basic resource whose identifier is
/// the message's id and this destination. If a crash falls between the record's commit and the message store's, the
/// next attempt finds the receipt and does not write the Bundle again, so the record receives each message once.
/// A channel authoritative for demographics (<see cref="ChannelOptions.DemographicsAgreement"/>) delivers only while its
/// agreement is in force and names the channel's organisation as a source; otherwise the message is refused and kept.
/// </summary>
public sealed class RecordDestination(RecordService records, Principal principal, string destination, string? demographicsAgreement = null, TimeProvider? clock = null)
    : IMessageDestination
{
    /// <summary>The identifier system of message receipts.</summary>
    public const string ReceiptSystem = "urn:carehub:message-receipt";

    public async Task<DeliveryResult> DeliverAsync(DeliveryClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var (content, contentType) = DeliveryContent.Of(claim.Message);
        if (!contentType.Contains("fhir", StringComparison.OrdinalIgnoreCase) && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return DeliveryResult.Reject($"the record takes FHIR Bundles; this channel's transformer produced {contentType}");
        }

        Bundle bundle;
        try
        {
            bundle = FhirSerialization.Parse(content, FhirFormat.Json) as Bundle
                ?? throw FhirException.BadRequest("the transformed content is not a Bundle");
        }
        catch (FhirException e)
        {
            return DeliveryResult.Reject($"the transformed content is not a valid FHIR Bundle: {e.Message}");
        }

        if (bundle.Type is not (Bundle.BundleType.Transaction or Bundle.BundleType.Batch))
        {
            return DeliveryResult.Reject("the record takes transaction or batch Bundles");
        }

        var receipt = $"{claim.Message.Uid}/{destination}";
        var context = new RequestContext(principal, "urn:carehub:channel:" + claim.Message.Channel,
            $"message-{claim.Message.Id.ToString(CultureInfo.InvariantCulture)}") { Return = ReturnPreference.Minimal };
        try
        {
            if (demographicsAgreement is not null && await AgreementProblemAsync(context, cancellationToken) is { } problem)
            {
                return DeliveryResult.Reject(problem);
            }

            if (claim.Attempt > 1 && await HasReceiptAsync(context, receipt, cancellationToken))
            {
                return DeliveryResult.Success("already in the record (receipt found)");
            }

            // All or nothing, with the receipt inside the same transaction (R4 http.html#transaction).
            bundle.Type = Bundle.BundleType.Transaction;
            bundle.Entry.Add(ReceiptEntry(receipt, claim.Message));
            var response = await records.ProcessBundleAsync(context, bundle, cancellationToken);
            return DeliveryResult.Success(Summarise(response));
        }
        catch (FhirException e) when (MayPassLater(e))
        {
            return DeliveryResult.Retry($"{(int)FhirStatus.Of(e)} {e.Message}");
        }
        catch (FhirException e)
        {
            return DeliveryResult.Reject($"{(int)FhirStatus.Of(e)} {e.Message}");
        }
    }

    /// <summary>
    /// A conflict with a concurrent write, or a busy or failing server, may pass later. Anything else the record refused
    /// for what the message is, and would refuse again: a 412 (the message's conditional keys match more than one
    /// record, an identity conflict for a person to resolve) included, so it goes to the work queue at once instead of
    /// being retried for the length of its backoff.
    /// </summary>
    private static bool MayPassLater(FhirException e) =>
        e is ResourceConflictException or ServiceUnavailableException or InternalErrorException;

    /// <summary>Why the channel may not act as authoritative for demographics now, or null when its agreement allows it.</summary>
    private async Task<string?> AgreementProblemAsync(RequestContext context, CancellationToken cancellationToken)
    {
        RecordResult contract;
        try
        {
            contract = await records.ReadAsync(context, "Contract", demographicsAgreement!, null, cancellationToken);
        }
        catch (FhirException e) when (e is ResourceNotFoundException or ResourceGoneException or AccessDeniedException { Hidden: true })
        {
            return $"the channel's demographics agreement Contract/{demographicsAgreement} does not exist";
        }

        var agreement = contract.Json is null ? null : DataSharingAgreement.Parse(contract.Json);
        if (agreement is null || !agreement.InForce((clock ?? TimeProvider.System).GetUtcNow()))
        {
            return $"the channel's demographics agreement Contract/{demographicsAgreement} is not an executed data sharing agreement in force";
        }

        return principal.Organisation is { } ods && !agreement.Sources.Contains(ods)
            ? $"the channel's demographics agreement Contract/{demographicsAgreement} does not name {ods} as a source"
            : null;
    }

    private async Task<bool> HasReceiptAsync(RequestContext context, string receipt, CancellationToken cancellationToken)
    {
        var found = await records.SearchAsync(context, "Basic", [new("identifier", $"{ReceiptSystem}|{receipt}")], cancellationToken);
        return found.Entry.Any(e => e.Search?.Mode == Bundle.SearchEntryMode.Match);
    }

    private static Bundle.EntryComponent ReceiptEntry(string receipt, StoredMessage message) => new()
    {
        FullUrl = "urn:uuid:" + Guid.NewGuid().ToString("D"),
        Resource = new Basic
        {
            Identifier = [new Identifier(ReceiptSystem, receipt)],
            Code = new CodeableConcept(ReceiptSystem, "message-receipt", "Message received through a CareHub channel"),
            Created = message.Received.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        },
        Request = new Bundle.RequestComponent
        {
            Method = Bundle.HTTPVerb.POST,
            Url = "Basic",
            IfNoneExist = $"identifier={ReceiptSystem}|{receipt}",
        },
    };

    private static string Summarise(Bundle response)
    {
        var text = new StringBuilder();
        foreach (var entry in response.Entry)
        {
            text.Append(entry.Response?.Status).Append(' ').Append(entry.Response?.Location).Append('\n');
        }

        return text.ToString();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
