namespace Switchboard;

/// <summary>Why a sender left, as its <c>#disconnect</c> event says.</summary>
public enum DisconnectReason
{
    /// <summary>The sender was removed by its owner (disposed) or its bus closed cleanly.</summary>
    Closed,

    /// <summary>Its connection died (closed uncleanly or heartbeats missed); its last will was triggered.</summary>
    ConnectionLost,

    /// <summary>The cluster node its connection was on stopped renewing its lease (crashed, or cut off from Redis); the
    /// other nodes triggered its last will.</summary>
    NodeLost,
}
