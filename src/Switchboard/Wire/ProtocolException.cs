namespace Switchboard.Wire;

/// <summary>A peer broke the protocol (a bad length, an unknown frame, a truncated body, a CRC mismatch).</summary>
public sealed class ProtocolException : SwitchboardException
{
    /// <summary>Creates the error.</summary>
    public ProtocolException(string code, string message)
        : base(code, message)
    {
    }
}
