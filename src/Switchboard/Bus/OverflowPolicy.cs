namespace Switchboard;

/// <summary>What a listener does when a message arrives and its queue already holds <see cref="ListenerOptions.Capacity"/> messages.</summary>
public enum OverflowPolicy
{
    /// <summary>The trigger waits for room (back-pressure on the publisher). Nothing is dropped.</summary>
    Wait,

    /// <summary>The oldest queued message is dropped to make room; the drop is counted.</summary>
    DropOldest,

    /// <summary>The arriving message is dropped; the drop is counted.</summary>
    DropNewest,

    /// <summary>The listener is cut: it receives nothing more, and its reader sees a <see cref="ListenerOverflowException"/>
    /// after the messages it already accepted (NATS's slow-consumer rule).</summary>
    Fail,
}
