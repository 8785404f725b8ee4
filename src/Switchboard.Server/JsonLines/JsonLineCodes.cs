namespace Switchboard.Server;

/// <summary>The error codes the JSON-lines gateway adds to <see cref="ErrorCodes"/> (all listed in docs).</summary>
internal static class JsonLineCodes
{
    /// <summary>The line is not one JSON object (bad JSON, an empty line, an array, a number...).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>The line was longer than <see cref="BrokerOptions.MaxJsonLineBytes"/>; it was skipped up to its newline.</summary>
    public const string LineTooLong = "line_too_long";

    /// <summary>The <c>op</c> is missing or not a verb the gateway knows.</summary>
    public const string UnknownOp = "unknown_op";

    /// <summary>A field is missing, of the wrong JSON type, or out of range.</summary>
    public const string InvalidField = "invalid_field";

    /// <summary>Credentials were refused, or a verb came before the <c>hello</c> a broker with authentication needs.</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary><c>hello</c> came after other lines, or twice.</summary>
    public const string UnexpectedHello = "unexpected_hello";

    /// <summary>The connection has no sender by that name (trigger, unsender).</summary>
    public const string UnknownSender = "unknown_sender";

    /// <summary>The connection has no listen by that id (unlisten), or the id is taken (listen).</summary>
    public const string UnknownListen = "unknown_listen";

    /// <summary>The connection has no producer by that name (unproducer).</summary>
    public const string UnknownProducer = "unknown_producer";

    /// <summary>No request or produce waits for that <c>rid</c> (already answered, timed out, or never sent).</summary>
    public const string UnknownRid = "unknown_rid";

    /// <summary>The broker is shutting down and takes no new connections.</summary>
    public const string GoingAway = "going_away";
}
