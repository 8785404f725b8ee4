namespace Switchboard;

/// <summary>The stable error codes carried by <see cref="SwitchboardException.Code"/> and by error frames.</summary>
public static class ErrorCodes
{
    /// <summary>A sender name, event name, pattern, topic or request name broke the naming rules.</summary>
    public const string InvalidName = "invalid_name";
    /// <summary>A listener for any sender named a targeted event; name the sender or use a <c>#</c> channel event.</summary>
    public const string TargetedNeedsSender = "targeted_needs_sender";
    /// <summary>Another sender (on this or another connection) already holds the name.</summary>
    public const string SenderExists = "sender_exists";
    /// <summary>A sender triggered an event it did not declare.</summary>
    public const string UndeclaredEvent = "undeclared_event";
    /// <summary>An event name is reserved for the bus itself (<c>#connect</c>, <c>#disconnect</c>).</summary>
    public const string ReservedName = "reserved_name";
    /// <summary>A request named a sender that is not online.</summary>
    public const string NoSender = "no_sender";
    /// <summary>The sender is online but has neither a handler for that request nor a default handler.</summary>
    public const string NoHandler = "no_handler";
    /// <summary>The request handler threw; the message carries its error message.</summary>
    public const string HandlerError = "handler_error";
    /// <summary>No answer came within the request's timeout.</summary>
    public const string Timeout = "timeout";
    /// <summary>A listener with the <c>Fail</c> overflow policy fell behind by more than its capacity and was cut.</summary>
    public const string Overflow = "overflow";
    /// <summary>The registration, sender or bus was already closed.</summary>
    public const string Closed = "closed";
    /// <summary>An argument other than a name was out of range (a capacity, a ttl, a payload size).</summary>
    public const string InvalidArgument = "invalid_argument";
    /// <summary>A producer name is already taken on this bus.</summary>
    public const string ProducerExists = "producer_exists";
    /// <summary>The broker refused the client's credentials.</summary>
    public const string Unauthorized = "unauthorized";
    /// <summary>No broker of those given could be reached.</summary>
    public const string ConnectFailed = "connect_failed";
    /// <summary>The connection to the broker was lost before it answered.</summary>
    public const string ConnectionLost = "connection_lost";
}
