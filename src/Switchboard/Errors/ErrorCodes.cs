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
    /// <summary>The identity's permissions do not allow the call (the message names the rule); the connection stays.</summary>
    public const string Forbidden = "forbidden";
    /// <summary>The signed token (JWT) a connection was admitted with expired; the connection is closed after this error.</summary>
    public const string TokenExpired = "token_expired";
    /// <summary>The identity a connection was admitted as was removed by a configuration reload; the connection is closed
    /// after this error.</summary>
    public const string IdentityRevoked = "identity_revoked";
    /// <summary>No broker of those given could be reached.</summary>
    public const string ConnectFailed = "connect_failed";
    /// <summary>The connection to the broker was lost before it answered.</summary>
    public const string ConnectionLost = "connection_lost";
    /// <summary>Settings given to the host (<c>AddSwitchboard</c>, <c>AddSwitchboardBroker</c>, a configuration section)
    /// are out of range or malformed, or the hosting is set up incompletely (<c>MapSwitchboard</c> without
    /// <c>AddSwitchboardBroker</c>); the message names each key and its value. The host does not start.</summary>
    public const string InvalidOptions = "invalid_options";

    // The wire (binary protocol): fatal unless noted.

    /// <summary>A frame was longer than the receiver's maximum frame size.</summary>
    public const string FrameTooLarge = "frame_too_large";
    /// <summary>A message (a request, an answer, a sender list) is larger than the connection that should receive it
    /// accepts (the maximum frame size it announced); not fatal: the call fails, the connection stays.</summary>
    public const string MessageTooLarge = "message_too_large";
    /// <summary>A frame's body did not parse (truncated, a bad length, invalid UTF-8, trailing bytes).</summary>
    public const string MalformedFrame = "malformed_frame";
    /// <summary>A frame type the receiver does not know.</summary>
    public const string UnknownFrame = "unknown_frame";
    /// <summary>A frame's CRC-32C did not match (on a lossy carrier the frame is dropped and counted instead).</summary>
    public const string BadChecksum = "bad_checksum";
    /// <summary>The peer speaks another protocol version.</summary>
    public const string UnsupportedVersion = "unsupported_version";
    /// <summary>A frame not allowed at this point (anything before HELLO, a second HELLO, a broker frame from a client).</summary>
    public const string UnexpectedFrame = "unexpected_frame";
    /// <summary>The broker failed while handling the connection (a bug: it is logged); the connection is closed.</summary>
    public const string InternalError = "internal_error";
    /// <summary>The broker is shutting down (lame duck) and takes no new connections; connect to another one.</summary>
    public const string GoingAway = "going_away";
    /// <summary>The client did not complete its handshake (binary HELLO; JSON-lines <c>hello</c> where one is required)
    /// within the broker's handshake timeout; the connection is closed.</summary>
    public const string HandshakeTimeout = "handshake_timeout";
    /// <summary>A frame (or a JSON line) that had begun did not complete within the broker's frame timeout; the
    /// connection is closed.</summary>
    public const string FrameTimeout = "frame_timeout";
    /// <summary>The connection fell behind by more than the broker's outbound bound and was cut.</summary>
    public const string SlowConsumer = "slow_consumer";

    // Registrations a connection names that it does not hold.

    /// <summary>The connection has no sender by that name.</summary>
    public const string UnknownSender = "unknown_sender";
    /// <summary>The connection has no producer by that name.</summary>
    public const string UnknownProducer = "unknown_producer";
    /// <summary>The connection has no subscription with that id (binary protocol).</summary>
    public const string UnknownSubscription = "unknown_subscription";
    /// <summary>The connection has no listen with that id (JSON lines).</summary>
    public const string UnknownListen = "unknown_listen";
    /// <summary>No request or produce waits for that <c>rid</c> (JSON lines: already answered, timed out, or never sent).</summary>
    public const string UnknownRid = "unknown_rid";

    // The JSON-lines and HTTP gateways.

    /// <summary>A line or body is not one JSON object in UTF-8.</summary>
    public const string InvalidJson = "invalid_json";
    /// <summary>A JSON line was longer than the broker allows; it was skipped up to its newline.</summary>
    public const string LineTooLong = "line_too_long";
    /// <summary>A JSON line's <c>op</c> is missing or not a verb the gateway knows.</summary>
    public const string UnknownOp = "unknown_op";
    /// <summary>A field is missing, of the wrong JSON type, or out of range.</summary>
    public const string InvalidField = "invalid_field";
    /// <summary><c>hello</c> came after other lines, or twice.</summary>
    public const string UnexpectedHello = "unexpected_hello";
    /// <summary>An HTTP body was larger than the gateway allows.</summary>
    public const string BodyTooLarge = "body_too_large";
    /// <summary>An HTTP call named a sender the caller may not use.</summary>
    public const string ForbiddenSender = "forbidden_sender";
    /// <summary>HTTP: the request was malformed below JSON (its framing, say a chunk size that overflows).</summary>
    public const string BadRequest = "bad_request";
    /// <summary>HTTP: the body did not arrive in time (Kestrel's minimum request body data rate).</summary>
    public const string BodyTimeout = "body_timeout";
    /// <summary>A gateway limit was reached (too many streams, senders or calls at once).</summary>
    public const string TooMany = "too_many";
    /// <summary>An HTTP request whose <c>Origin</c> is neither the broker's own nor an allowed one (a page of another site).</summary>
    public const string ForbiddenOrigin = "forbidden_origin";
    /// <summary>An HTTP request whose <c>Host</c> is not one the broker answers to (DNS rebinding).</summary>
    public const string ForbiddenHost = "forbidden_host";
    /// <summary>A state-changing HTTP call whose body is not declared <c>application/json</c> (no cross-site forms).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";
    /// <summary>An HTTP path or file that does not exist.</summary>
    public const string NotFound = "not_found";
}
