using System.Globalization;
using System.Security.Cryptography;
using CareHub.Server.SignIn.Storage;
using CareHub.Storage;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.SignIn;

/// <summary>
/// The authorization server's keys, kept in the sign-in store so that every node and every restart signs and verifies with
/// the same ones: an RSA key that signs tokens (RS256) and a symmetric key that encrypts the tokens only the server reads
/// (authorization codes, refresh tokens). At start-up (<see cref="LoadAsync"/>) a key of each use is created when there is
/// none or the newest is older than <see cref="SignInOptions.KeyRotation"/>; a key replaced longer ago than the longest
/// token lifetime is deleted, and every other signing key stays in the JWK Set, so tokens it signed keep validating until
/// they expire.
/// </summary>
public sealed class SignInKeys(SignInDatabase database, SignInOptions options, TimeProvider time)
{
    public const string SigningUse = "sig";
    public const string EncryptionUse = "enc";
    private const int RsaBits = 2048;

    private volatile Ring? ring;

    /// <summary>The signing keys, the one to sign with first; the others verify tokens signed before the last rotation.</summary>
    public IReadOnlyList<RsaSecurityKey> SigningKeys => Loaded.Signing;

    /// <summary>The encryption keys, the one to encrypt with first.</summary>
    public IReadOnlyList<SymmetricSecurityKey> EncryptionKeys => Loaded.Encryption;

    /// <summary>The public halves of the signing keys, for CareHub's own bearer validation.</summary>
    public IReadOnlyList<SecurityKey> VerificationKeys => Loaded.Verification;

    private Ring Loaded => ring ?? throw new InvalidOperationException("The sign-in keys are not loaded: CareHubStartup.PrepareAsync loads them after migrating the sign-in store.");

    /// <summary>Rotates if due, deletes keys nothing can still need, and loads the rest.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var rows = new List<KeyRow>();
        await using (var write = await database.BeginWriteAsync(cancellationToken))
        {
            rows.AddRange(await ReadAsync(write, cancellationToken));
            foreach (var use in new[] { SigningUse, EncryptionUse })
            {
                var newest = rows.Where(r => r.Use == use).MaxBy(r => r.Created);
                if (newest is null || now - newest.Created >= options.KeyRotation)
                {
                    var row = Create(use, now);
                    await SqlCommands.ExecuteAsync(write.Connection, write.Transaction,
                        "INSERT INTO signin_key (kid, use, algorithm, material, created) VALUES (@kid, @use, @alg, @material, @created)", cancellationToken,
                        ("@kid", row.Kid), ("@use", row.Use), ("@alg", row.Algorithm), ("@material", row.Material), ("@created", row.Created.ToUnixTimeMilliseconds()));
                    rows.Add(row);
                }

                // A key whose successor has signed for longer than any token lives protects nothing still valid.
                var byAge = rows.Where(r => r.Use == use).OrderByDescending(r => r.Created).ToList();
                for (var i = 1; i < byAge.Count; i++)
                {
                    if (now - byAge[i - 1].Created > options.LongestTokenLifetime)
                    {
                        await SqlCommands.ExecuteAsync(write.Connection, write.Transaction, "DELETE FROM signin_key WHERE kid = @kid", cancellationToken, ("@kid", byAge[i].Kid));
                        rows.Remove(byAge[i]);
                    }
                }
            }

            await write.Transaction.CommitAsync(cancellationToken);
        }

        var signing = rows.Where(r => r.Use == SigningUse).OrderByDescending(r => r.Created).Select(ToRsa).ToList();
        ring = new Ring(
            signing,
            [.. rows.Where(r => r.Use == EncryptionUse).OrderByDescending(r => r.Created).Select(r => new SymmetricSecurityKey(Convert.FromBase64String(r.Material)) { KeyId = r.Kid })],
            [.. signing.Select(k => (SecurityKey)new RsaSecurityKey(k.Rsa.ExportParameters(false)) { KeyId = k.KeyId })]);
    }

    private static async Task<List<KeyRow>> ReadAsync(SqlWriteScope write, CancellationToken cancellationToken)
    {
        var rows = new List<KeyRow>();
        await using var command = SqlCommands.Command(write.Connection, write.Transaction, "SELECT kid, use, algorithm, material, created FROM signin_key");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new KeyRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(reader.GetValue(4), CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private static KeyRow Create(string use, DateTimeOffset now)
    {
        if (use == SigningUse)
        {
            using var rsa = RSA.Create(RsaBits);
            var kid = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false))).ComputeJwkThumbprint());
            return new KeyRow(kid, use, SecurityAlgorithms.RsaSha256, rsa.ExportPkcs8PrivateKeyPem(), now);
        }

        var bytes = RandomNumberGenerator.GetBytes(32);
        return new KeyRow(Guid.NewGuid().ToString("N"), use, SecurityAlgorithms.Aes256KW, Convert.ToBase64String(bytes), now);
    }

    private static RsaSecurityKey ToRsa(KeyRow row)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(row.Material);
        return new RsaSecurityKey(rsa) { KeyId = row.Kid };
    }

    private sealed record KeyRow(string Kid, string Use, string Algorithm, string Material, DateTimeOffset Created);

    private sealed record Ring(IReadOnlyList<RsaSecurityKey> Signing, IReadOnlyList<SymmetricSecurityKey> Encryption, IReadOnlyList<SecurityKey> Verification);
}
