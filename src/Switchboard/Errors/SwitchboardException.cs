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

    /// <summary>The one place an error code from the wire (or any surface) becomes an exception: the subtype a caller
    /// would get from an in-process bus for the same failure.</summary>
    /// <param name="code">The code received.</param>
    /// <param name="message">The message received.</param>
    /// <param name="sender">For a request: the sender asked.</param>
    /// <param name="request">For a request: the request name.</param>
    internal static SwitchboardException FromCode(string code, string message, string? sender = null, string? request = null) => code switch
    {
        ErrorCodes.NoSender or ErrorCodes.NoHandler or ErrorCodes.HandlerError or ErrorCodes.Timeout or ErrorCodes.MessageTooLarge when sender is not null && request is not null
            => new RequestFailedException(code, sender, request, message),
        ErrorCodes.InvalidName => new InvalidNameException(null, message),
        ErrorCodes.FrameTooLarge or ErrorCodes.MalformedFrame or ErrorCodes.UnknownFrame or ErrorCodes.BadChecksum or ErrorCodes.UnsupportedVersion or ErrorCodes.UnexpectedFrame
            => new Wire.ProtocolException(code, message),
        _ => new SwitchboardException(code, message),
    };
}
