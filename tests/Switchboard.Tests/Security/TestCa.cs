using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Switchboard.Server.Security;

namespace Switchboard.Tests.Security;

/// <summary>A certificate authority made at test time, issuing server and client certificates.</summary>
internal sealed class TestCa : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256); // fast to make, unlike RSA

    public TestCa(string name)
    {
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    public X509Certificate2 Certificate { get; }

    public X509Certificate2 Issue(string subject, bool clientAuth, bool forLoopback = true)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(clientAuth ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        if (!clientAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            if (forLoopback)
            {
                names.AddIpAddress(System.Net.IPAddress.Loopback);
                names.AddDnsName("localhost");
            }
            else
            {
                names.AddDnsName("elsewhere.example");
            }

            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        using var issued = request.Create(Certificate, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes a server certificate for 127.0.0.1 and localhost (or for another name) and its key as PEM files in
    /// <paramref name="directory"/>: what <see cref="TlsOptions"/> reads.</summary>
    public TlsOptions WriteServerFiles(string directory, string subject, bool forLoopback = true)
    {
        using var certificate = Issue(subject, clientAuth: false, forLoopback);
        var certFile = Path.Combine(directory, forLoopback ? "server.pem" : "elsewhere.pem");
        var keyFile = Path.Combine(directory, forLoopback ? "server.key" : "elsewhere.key");
        File.WriteAllText(keyFile, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        return new TlsOptions { CertificateFile = certFile, KeyFile = keyFile };
    }

    public bool Verifies(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
