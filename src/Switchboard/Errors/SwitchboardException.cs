namespace Switchboard;

/// <summary>
/// The base of every error Switchboard raises. <see cref="Code"/> is a stable, machine-readable reason that is
/// the same on every kind of bus and on the wire (for example <c>invalid_name</c>, <c>no_sender</c>, <c>timeout</c>).
/// </summary>
public class SwitchboardException : Exception
{
    /// <summary>Creates an error with a stable code and a message for people.</summary>
    public SwitchboardException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>The stable reason code, see <see cref="ErrorCodes"/>.</summary>
    public string Code { get; }
}
