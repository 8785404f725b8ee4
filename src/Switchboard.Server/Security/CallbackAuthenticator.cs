using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Server.Security;

/// <summary><see cref="BrokerOptions.Authenticate"/> as an <see cref="IAuthenticator"/>: an accepted client may do
/// everything, and its identity is named after its credentials' digest, so two callers with different tokens are two
/// identities (HTTP senders belong to one).</summary>
internal sealed class CallbackAuthenticator(Func<string, string?, string?> check) : IAuthenticator
{
    public ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        if (check(request.Client, request.Credentials) is { } refusal)
        {
            return ValueTask.FromResult(AuthResult.Refuse(refusal));
        }

        var digest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(request.Credentials ?? string.Empty)).AsSpan(0, 8));
        return ValueTask.FromResult(AuthResult.Accept(new Identity("credentials-" + digest, kind: "callback")));
    }
}
