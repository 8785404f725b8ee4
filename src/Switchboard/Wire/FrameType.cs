namespace Switchboard.Wire;

/// <summary>
/// The frame types of the binary protocol (docs/protocol.md). Values below 0x80 are sent by clients, values from
/// 0x80 by the broker; <see cref="Ping"/>, <see cref="Pong"/> and <see cref="Reply"/> go both ways.
/// </summary>
public enum FrameType : byte
{
    /// <summary>Client's first frame: protocol version, client name, credentials, features, heartbeat.</summary>
    Hello = 0x01,

    /// <summary>Liveness probe; answered with <see cref="Pong"/>. Either side.</summary>
    Ping = 0x02,

    /// <summary>Answer to <see cref="Ping"/>.</summary>
    Pong = 0x03,

    /// <summary>Register a sender.</summary>
    AddSender = 0x10,

    /// <summary>Remove a sender.</summary>
    RemoveSender = 0x11,

    /// <summary>Trigger one or more events of a sender this connection registered.</summary>
    Trigger = 0x12,

    /// <summary>Register a listener subscription.</summary>
    Listen = 0x13,

    /// <summary>Remove a listener subscription.</summary>
    Unlisten = 0x14,

    /// <summary>Ask a sender.</summary>
    Request = 0x15,

    /// <summary>The answer to a request or a produce: from the broker to the asker, and from the answering client to the broker.</summary>
    Reply = 0x16,

    /// <summary>Register a producer.</summary>
    AddProducer = 0x17,

    /// <summary>Remove a producer.</summary>
    RemoveProducer = 0x18,

    /// <summary>Start a gather.</summary>
    Gather = 0x19,

    /// <summary>Register a gather-result listener for a topic.</summary>
    ListenResults = 0x1A,

    /// <summary>Ask for the senders online.</summary>
    ListSenders = 0x1B,

    /// <summary>Answered with <see cref="Ok"/> once every frame before it was processed.</summary>
    Flush = 0x1C,

    /// <summary>A clean close: the broker removes this connection's registrations without firing last wills.</summary>
    Goodbye = 0x1D,

    /// <summary>Add or remove one topic of a live producer; answered with <see cref="Ok"/> or <see cref="Error"/>.</summary>
    ProducerTopic = 0x1E,

    /// <summary>The broker's answer to <see cref="Hello"/>.</summary>
    Welcome = 0x81,

    /// <summary>A registration or flush succeeded.</summary>
    Ok = 0x82,

    /// <summary>Something failed: a correlation (0 when none), a fatal flag (the sender closes after a fatal error), a code and a message.</summary>
    Error = 0x83,

    /// <summary>A message delivered to a subscription.</summary>
    Event = 0x84,

    /// <summary>A request for a sender this connection registered; answer with <see cref="Reply"/>.</summary>
    RequestIn = 0x85,

    /// <summary>A gather for a producer this connection registered; answer with <see cref="Reply"/>.</summary>
    ProduceIn = 0x86,

    /// <summary>One result of a gather this connection started.</summary>
    GatherResult = 0x87,

    /// <summary>The end of a gather this connection started: who answered, who did not, who failed.</summary>
    GatherDone = 0x88,

    /// <summary>The senders online.</summary>
    SenderList = 0x89,

    /// <summary>Lame duck: the broker is shutting down; reconnect elsewhere.</summary>
    GoingAway = 0x8A,

    /// <summary>More late results arrived for a finished gather this connection started.</summary>
    GatherLate = 0x8B,
}
