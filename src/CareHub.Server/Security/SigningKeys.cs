using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace CareHub.Server.Security;

/// <summary>Turns configured key material into IdentityModel keys, with errors fit for a start-up message.</summary>
internal static class SigningKeys
{
    /// <summary>Below this an RSA signature is not worth checking (NIST SP 800-131A disallows RSA under 2048 bits).</summary>
    private const int MinimumRsaBits = 2048;

    /// <summary>Reads an RSA or EC public key from PEM; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static SecurityKey FromPublicKeyPem(string pem)
    {
        if (string.IsNullOrWhiteSpace(pem) || !PemEncoding.TryFind(pem, out var fields))
        {
            throw new FormatException("no PEM block (-----BEGIN PUBLIC KEY-----) was found.");
        }

        var label = pem[fields.Label];
        return label switch
        {
            "PUBLIC KEY" => (SecurityKey?)ImportRsa(pem) ?? ImportEc(pem) ?? throw new FormatException("the public key is neither RSA nor EC."),
            "RSA PUBLIC KEY" => ImportRsa(pem) ?? throw new FormatException("the RSA public key cannot be read."),
            _ when label.Contains("PRIVATE", StringComparison.Ordinal) =>
                throw new FormatException("it is a private key; configure the issuer's public key only."),
            _ => throw new FormatException($"PEM blocks labelled '{label}' are not supported; use PUBLIC KEY."),
        };
    }

    /// <summary>Sets the key id to the RFC 7638 JWK thumbprint, so keys without one still have a stable id.</summary>
    public static SecurityKey WithThumbprintKeyId(SecurityKey key)
    {
        var jwk = key switch
        {
            RsaSecurityKey rsa => JsonWebKeyConverter.ConvertFromRSASecurityKey(rsa),
            ECDsaSecurityKey ec => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(ec),
            _ => null,
        };
        if (jwk is not null && string.IsNullOrEmpty(key.KeyId))
        {
            key.KeyId = Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint());
        }

        return key;
    }

    private static RsaSecurityKey? ImportRsa(string pem)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            rsa.Dispose();
            return null;
        }

        if (rsa.KeySize < MinimumRsaBits)
        {
            var size = rsa.KeySize;
            rsa.Dispose();
            throw new FormatException($"the RSA key has {size} bits; at least {MinimumRsaBits} are required.");
        }

        return (RsaSecurityKey)WithThumbprintKeyId(new RsaSecurityKey(rsa));
    }

    private static ECDsaSecurityKey? ImportEc(string pem)
    {
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            ec.Dispose();
            return null;
        }

        return (ECDsaSecurityKey)WithThumbprintKeyId(new ECDsaSecurityKey(ec));
    }
}
