namespace Switchboard;

/// <summary>A change of a <see cref="BusClient"/>'s connection.</summary>
/// <param name="Address">The broker address concerned.</param>
/// <param name="Reason">Why the connection ended (for a disconnect), or null.</param>
public sealed record ConnectionEventArgs(string Address, string? Reason)
{
    /// <summary>How the connection ended (for a disconnect), or null.</summary>
    public ConnectionLoss? Loss { get; init; }
}

/// <summary>How a <see cref="BusClient"/>'s connection ended, so an application can tell a broker that shut down
/// cleanly from one that crashed.</summary>
public enum ConnectionLoss
{
    /// <summary>The broker said it was going away (shutting down, or moving its clients elsewhere) and closed cleanly.</summary>
    BrokerShutdown,

    /// <summary>The broker ended the connection with an error (slow consumer, refused credentials, a protocol error of this client).</summary>
    ClosedByBroker,

    /// <summary>The connection broke without notice: the broker crashed or was killed, or the network failed.</summary>
    Lost,

    /// <summary>The broker stopped answering: nothing arrived for the heartbeat misses allowed.</summary>
    HeartbeatTimeout,

    /// <summary>The broker sent something this client cannot read.</summary>
    ProtocolError,
}
