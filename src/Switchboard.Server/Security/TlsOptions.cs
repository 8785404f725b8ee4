namespace Switchboard.Server.Security;

/// <summary>
/// TLS for the broker's TCP endpoints: the binary protocol (<c>sbs://</c>) and the HTTP port (<c>https://</c>,
/// <c>wss://</c>). The certificate and its key are PEM files, read again when they change on disk (a renewed
/// certificate is used by the next handshake, no restart). With <see cref="ClientCertificates"/>, clients may (or must)
/// present a certificate signed by <see cref="ClientCaFile"/>; <see cref="SecurityOptions.Certificates"/> maps a
/// client certificate's subject to an identity (mutual TLS).
/// </summary>
public sealed record TlsOptions
{
    /// <summary>The server's certificate (PEM), with its chain after it if any.</summary>
    public string CertificateFile { get; init; } = string.Empty;

    /// <summary>The certificate's private key (PEM).</summary>
    public string KeyFile { get; init; } = string.Empty;

    /// <summary>Whether clients present certificates: <c>none</c> (the default), <c>allow</c> or <c>require</c>.</summary>
    public string ClientCertificates { get; init; } = "none";

    /// <summary>The certificate authority (PEM) client certificates must be signed by; required unless
    /// <see cref="ClientCertificates"/> is <c>none</c>.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>Also TLS on the JSON-lines port (off by default: scripts use <c>nc</c>; <c>openssl s_client</c> works with it on).</summary>
    public bool JsonLines { get; init; }
}

/// <summary>A client certificate (mutual TLS) and the identity it proves: its subject's common name names it.</summary>
public sealed record CertificateIdentity
{
    /// <summary>The identity's name, and the common name (CN) the client certificate's subject must carry.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>What it may do; null: everything.</summary>
    public Permissions? Permissions { get; init; }
}
