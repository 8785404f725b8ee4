namespace Switchboard.Server;

/// <summary>The broker refused a client's handshake: its credentials (<c>unauthorized</c>, counted in
/// <see cref="Broker.AuthRefusals"/>) or a broker that is leaving (<c>going_away</c>). Answered with a fatal error, then
/// the connection closes; neither counts as a protocol error.</summary>
internal sealed class HandshakeRefusedException : SwitchboardException
{
    public HandshakeRefusedException(string code, string reason)
        : base(code, reason)
    {
    }
}
