namespace Switchboard;

/// <summary>
/// A request failed. <see cref="SwitchboardException.Code"/> tells how, so callers can branch without parsing messages:
/// <see cref="ErrorCodes.NoSender"/> and <see cref="ErrorCodes.NoHandler"/> fail at once,
/// <see cref="ErrorCodes.HandlerError"/> carries the handler's own message, <see cref="ErrorCodes.Timeout"/> comes after the timeout.
/// </summary>
public sealed class RequestFailedException : SwitchboardException
{
    /// <summary>Creates a request failure.</summary>
    public RequestFailedException(string code, string sender, string request, string message, Exception? innerException = null)
        : base(code, message, innerException)
    {
        Sender = sender;
        Request = request;
    }

    /// <summary>The sender that was asked.</summary>
    public string Sender { get; }

    /// <summary>The request name that was asked for.</summary>
    public string Request { get; }
}
