using System.Security.Cryptography.X509Certificates;

namespace Switchboard;

/// <summary>TLS settings of a <see cref="BusClient"/> for <c>sbs://</c> addresses. The broker's certificate is always
/// verified (its chain and its name); there is no switch to turn that off.</summary>
public sealed record BusTlsOptions
{
    /// <summary>The system's trusted roots, no client certificate.</summary>
    public static BusTlsOptions Default { get; } = new();

    /// <summary>Roots to trust instead of the system's (a private certificate authority); null: the system's.</summary>
    public X509Certificate2Collection? TrustedRoots { get; init; }

    /// <summary>A certificate (with its private key) that proves the client to a broker asking for one (mutual TLS).</summary>
    public X509Certificate2? ClientCertificate { get; init; }
}
