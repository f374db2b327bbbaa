using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace CareHub.Tests.Search;

/// <summary>
/// The official FHIR R4 examples, the npm package hl7.fhir.r4.examples@4.0.1 (see ../shared/data/README.md): fetched
/// once with <c>npm pack</c> into the temp folder and extracted there; never copied into the repository. A test that
/// needs them skips, saying why, when npm is missing or the fetch fails.
/// </summary>
public static class R4Examples
{
    private const string Package = "hl7.fhir.r4.examples@4.0.1";
    private const string Tarball = "hl7.fhir.r4.examples-4.0.1.tgz";

    /// <summary>The extracted package folder (one JSON resource per file), or a skip.</summary>
    public static string Require()
    {
        var cache = Path.Combine(Path.GetTempPath(), "carehub-r4-examples");
        var folder = Path.Combine(cache, "package");
        if (Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.json").Any())
        {
            return folder;
        }

        Directory.CreateDirectory(cache);
        var tarball = Path.Combine(cache, Tarball);
        if (!File.Exists(tarball))
        {
            Pack(tarball);
        }

        // Extract beside the cache and move into place, so an interrupted extraction never looks like a complete one.
        var staging = Path.Combine(cache, "staging-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        using (var file = File.OpenRead(tarball))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        {
            TarFile.ExtractToDirectory(gzip, staging, overwriteFiles: true);
        }

        try
        {
            Directory.Move(Path.Combine(staging, "package"), folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            // Another test run extracted it first.
        }

        Directory.Delete(staging, recursive: true);
        return folder;
    }

    private static void Pack(string tarball)
    {
        // npm writes the tarball into its working folder; a fresh one keeps a half-written file out of the cache.
        var work = Path.Combine(Path.GetDirectoryName(tarball)!, "pack-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var start = new ProcessStartInfo("npm", ["pack", Package, "--silent"])
            {
                WorkingDirectory = work,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process? process;
            try
            {
                process = Process.Start(start);
            }
            catch (Win32Exception e)
            {
                Assert.Skip($"npm is not available to fetch {Package}: {e.Message}");
                return;
            }

            using (process)
            {
                var output = process!.StandardOutput.ReadToEndAsync();
                var error = process.StandardError.ReadToEndAsync();
                if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
                {
                    process.Kill(entireProcessTree: true);
                    Assert.Skip($"npm pack {Package} did not finish within 5 minutes.");
                }

                process.WaitForExit();
                var produced = Path.Combine(work, Tarball);
                if (process.ExitCode != 0 || !File.Exists(produced))
                {
                    Assert.Skip($"npm pack {Package} failed (exit {process.ExitCode}): {error.Result.Trim()} {output.Result.Trim()}");
                }

                File.Move(produced, tarball, overwrite: true);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
