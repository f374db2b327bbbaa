using System.Globalization;

namespace CareHub.Storage;

/// <summary>What the retention job (Governance/Lifecycle) needs of <see cref="Governance.IGovernanceStore"/>: a scan of current versions, patient activity, hard purge.</summary>
public abstract partial class SqlRecordStore
{
    public async Task<IReadOnlyList<StoredResource>> ScanCurrentAsync(string type, DateTimeOffset? updatedBefore, string? afterId, int count, CancellationToken cancellationToken)
    {
        var where = "c.type = @type" +
            (updatedBefore is null ? string.Empty : " AND c.last_updated <= @before") +
            (afterId is null ? string.Empty : " AND c.id > @after");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"SELECT {VersionColumns} FROM resource_current c JOIN resource_version v ON v.seq = c.seq WHERE {where} ORDER BY c.id LIMIT @count",
            ("@type", type), ("@before", updatedBefore?.ToUnixTimeMilliseconds()), ("@after", afterId), ("@count", count));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var page = new List<StoredResource>();
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(ReadVersion(reader));
        }

        return page;
    }

    /// <summary>The Patients a resource belongs to: itself for a Patient, else the Patients its reference index rows name.</summary>
    private const string PatientsOf =
        "SELECT r.target_id AS pid FROM search_reference r WHERE r.type = @type AND r.id = @id AND r.target_type = 'Patient' " +
        "UNION SELECT @id AS pid WHERE @type = 'Patient'";

    public async Task<DateTimeOffset?> LastPatientActivityAsync(string type, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var latest = await ScalarAsync(connection, null,
            $"WITH p AS ({PatientsOf}) SELECT MAX(lu) FROM (" +
            "SELECT c.last_updated AS lu FROM resource_current c WHERE c.type = @type AND c.id = @id " +
            "UNION ALL SELECT c.last_updated FROM resource_current c JOIN p ON c.type = 'Patient' AND c.id = p.pid " +
            "UNION ALL SELECT c.last_updated FROM search_reference r JOIN p ON r.target_type = 'Patient' AND r.target_id = p.pid " +
            "JOIN resource_current c ON c.type = r.type AND c.id = r.id WHERE r.type <> 'AuditEvent') a",
            cancellationToken, ("@type", type), ("@id", id));
        return latest is null or DBNull ? null : DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(latest, CultureInfo.InvariantCulture));
    }

    public async Task<IReadOnlyList<string>> PatientsOfAsync(string type, string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT pid FROM ({PatientsOf}) p ORDER BY pid", ("@type", type), ("@id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    public async Task<int?> PurgeAsync(string type, string id, int expectedVersion, Func<int, VersionWrite> audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(audit);
        await using var session = new WriteSession(this);
        int removed;
        try
        {
            removed = await session.PurgeAsync(type, id, expectedVersion, cancellationToken);
        }
        catch (VersionConflictException)
        {
            return null;
        }

        await session.WriteAsync(audit(removed), cancellationToken);
        await session.CommitAsync(cancellationToken);
        return removed;
    }

    private sealed partial class WriteSession
    {
        public async Task<int> PurgeAsync(string type, string id, int expectedVersion, CancellationToken cancellationToken)
        {
            if (type == AuditType)
            {
                // Removing an audit record would break the audit chain at that link (docs/lifecycle.md).
                throw new InvalidOperationException("AuditEvents cannot be purged: they are links of the tamper-evident audit chain.");
            }

            await EnsureStartedAsync(cancellationToken);
            var current = await store.ReadCoreAsync(connection, transaction, type, id, null, true, cancellationToken);
            if (current is null || current.Version != expectedVersion)
            {
                throw new VersionConflictException(type, id, expectedVersion, current?.Version);
            }

            int versions;
            await using (var delete = Command(connection, transaction, "DELETE FROM resource_version WHERE type = @type AND id = @id", ("@type", type), ("@id", id)))
            {
                versions = await delete.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var delete = Command(connection, transaction,
                "DELETE FROM resource_current WHERE type = @type AND id = @id; DELETE FROM outbox WHERE type = @type AND id = @id;" + ClearIndex,
                ("@type", type), ("@id", id)))
            {
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }

            // A change event this session queued for the resource would point at nothing.
            changes.RemoveAll(c => c.Type == type && c.Id == id);
            writtenTypes.Add(type);
            return versions;
        }
    }
}
