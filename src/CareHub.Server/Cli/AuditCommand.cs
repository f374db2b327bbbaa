using CareHub.Governance;

namespace CareHub.Server.Cli;

/// <summary>
/// carehub audit verify: walks the tamper-evident audit chain (docs/decisions/audit.md) and prints how many entries
/// verified and the head hash, or the first break; exits 1 on a break.
/// </summary>
public static class AuditCommand
{
    public static async Task<int> RunAsync(Options options)
    {
        if (options.Paths is not ["verify"])
        {
            throw new UsageException("audit takes one subcommand: carehub audit verify [--data DIR | --postgres CONNSTRING]");
        }

        await using var local = await LocalRecords.OpenAsync(options);
        var report = await AuditChain.VerifyAsync(local.Governance, CancellationToken.None);
        var older = report.BeforeChain > 0 ? $" ({report.BeforeChain} older audit records predate the chain and are not covered)" : string.Empty;
        if (report.Break is { } found)
        {
            Console.WriteLine($"Audit chain BROKEN at entry {found.Sequence}{(found.AuditId is null ? string.Empty : $" (AuditEvent/{found.AuditId})")}: {Describe(found.Kind)}: {found.Detail}.");
            Console.WriteLine($"{report.Verified} entries verified before it{older}.");
            return 1;
        }

        Console.WriteLine($"Audit chain intact: {report.Verified} entries verified{older}.");
        Console.WriteLine($"Head: entry {report.Verified}, hash {Convert.ToHexStringLower(report.Head)} (keep it elsewhere: a later verify that ends before it shows entries cut from the end).");
        return 0;
    }

    private static string Describe(AuditChainBreakKind kind) => kind switch
    {
        AuditChainBreakKind.BodyChanged => "body changed",
        AuditChainBreakKind.EntryMissing => "entry missing",
        AuditChainBreakKind.HashMismatch => "hash mismatch",
        _ => "unchained audit record",
    };
}
