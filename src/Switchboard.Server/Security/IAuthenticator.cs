using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Switchboard.Server.Security;

/// <summary>
/// Decides who a client is from the credentials it presented: HELLO's credentials (binary), <c>hello</c>'s token
/// (JSON lines), <c>Authorization</c> (HTTP, SSE, dashboard). Every surface asks the same one, through the broker, which
/// slows down addresses that keep failing. Set <see cref="BrokerOptions.Authenticator"/> for your own; the broker builds
/// one from <see cref="BrokerOptions.Security"/> otherwise.
/// </summary>
public interface IAuthenticator
{
    /// <summary>Accepts the client as an <see cref="Identity"/>, or refuses it with a reason the client is told.</summary>
    /// <param name="request">What the client presented.</param>
    /// <param name="cancellationToken">Ends when the connection or call does.</param>
    ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken);
}

/// <summary>What a client presented: its name (logs only, never trusted), its credentials as one string (a token,
/// <c>USER:PASSWORD</c>, or a JWT; null: none), where it came from (null on Unix sockets and stream carriers), and the
/// certificate it presented over TLS (already checked against <see cref="TlsOptions.ClientCaFile"/>; null: none).</summary>
/// <param name="Client">The client's own name for itself.</param>
/// <param name="Credentials">The credentials, or null.</param>
/// <param name="RemoteAddress">The peer's IP address, if it has one.</param>
/// <param name="ClientCertificate">The client's TLS certificate, if it presented one.</param>
public readonly record struct AuthRequest(string Client, string? Credentials, IPAddress? RemoteAddress, X509Certificate2? ClientCertificate = null);

/// <summary>An authenticator's answer: an identity, or the reason for refusing.</summary>
public readonly record struct AuthResult
{
    private AuthResult(Identity? identity, string? refusal)
    {
        Identity = identity;
        Refusal = refusal;
    }

    /// <summary>Who the client is (null when refused).</summary>
    public Identity? Identity { get; }

    /// <summary>Why it was refused (null when accepted).</summary>
    public string? Refusal { get; }

    /// <summary>Accepts the client as <paramref name="identity"/>.</summary>
    public static AuthResult Accept(Identity identity) => new(identity ?? throw new ArgumentNullException(nameof(identity)), null);

    /// <summary>Refuses the client; <paramref name="reason"/> is sent to it with the code <c>unauthorized</c>.</summary>
    public static AuthResult Refuse(string reason) => new(null, string.IsNullOrEmpty(reason) ? "refused" : reason);
}
