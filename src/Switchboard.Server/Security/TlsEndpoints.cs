using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Switchboard.Server.Security;

/// <summary>Puts TLS (<see cref="TlsOptions"/>) on a Kestrel endpoint: the reloading server certificate, and client
/// certificates checked against the configured authority only (never the system's roots: any public CA could issue one).</summary>
internal sealed class TlsEndpoints
{
    private readonly CertificateReloader _certificate;
    private readonly ClientCertificateMode _mode;
    private readonly X509Certificate2Collection _clientRoots = [];

    public TlsEndpoints(TlsOptions options)
    {
        _certificate = new CertificateReloader(options);
        _mode = options.ClientCertificates.ToLowerInvariant() switch
        {
            "none" => ClientCertificateMode.NoCertificate,
            "allow" => ClientCertificateMode.AllowCertificate,
            "require" => ClientCertificateMode.RequireCertificate,
            _ => throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Security.Tls.ClientCertificates is '{options.ClientCertificates}'; use none, allow or require."),
        };
        if (_mode != ClientCertificateMode.NoCertificate)
        {
            if (options.ClientCaFile is not { } ca || !File.Exists(ca))
            {
                throw new SwitchboardException(ErrorCodes.InvalidArgument, $"Security.Tls.ClientCertificates is '{options.ClientCertificates}', so Security.Tls.ClientCaFile must name the authority (PEM) that signs client certificates{(options.ClientCaFile is null ? "" : $"; {options.ClientCaFile} does not exist")}.");
            }

            _clientRoots.ImportFromPemFile(ca);
        }

        JsonLines = options.JsonLines;
    }

    /// <summary>Whether the JSON-lines port gets TLS too.</summary>
    public bool JsonLines { get; }

    /// <summary>Adds TLS in front of whatever <paramref name="listen"/> serves (call before its connection handler).</summary>
    public void Apply(ListenOptions listen) => listen.UseHttps(new HttpsConnectionAdapterOptions
    {
        ServerCertificateSelector = (_, _) => _certificate.Current,
        ClientCertificateMode = _mode,
        ClientCertificateValidation = (certificate, _, _) => IsSignedByClientAuthority(certificate),
    });

    private bool IsSignedByClientAuthority(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientRoots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
