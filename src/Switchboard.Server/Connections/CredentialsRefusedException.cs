namespace Switchboard.Server;

/// <summary>The broker's credential check refused a client's HELLO: answered with a fatal <c>unauthorized</c> ERROR,
/// counted in <see cref="Broker.AuthRefusals"/>, not as a protocol error.</summary>
internal sealed class CredentialsRefusedException : SwitchboardException
{
    public CredentialsRefusedException(string reason)
        : base(ErrorCodes.Unauthorized, reason)
    {
    }
}
