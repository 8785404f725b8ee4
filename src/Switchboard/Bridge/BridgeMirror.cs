namespace Switchboard;

/// <summary>Which way a bridge forwards.</summary>
public enum BridgeDirection
{
    /// <summary>From the bus <c>BridgeAsync</c> was called on to the other bus.</summary>
    Outbound,

    /// <summary>From the other bus back.</summary>
    Inbound,
}

/// <summary>A mirror sender a bridge keeps on the far side for one origin sender (a snapshot).</summary>
/// <param name="Direction">The direction it forwards.</param>
/// <param name="Origin">The origin sender's name on its own bus.</param>
/// <param name="Name">The mirror's name on the far bus (<see cref="BridgeRoute.NamePrefix"/> + <paramref name="Origin"/>).</param>
/// <param name="Events">The events it declares (the origin's).</param>
/// <param name="Requests">The requests it forwards to the origin (empty unless chosen in <see cref="BridgeRoute.RequestSenders"/>).</param>
/// <param name="Error">Why the far bus refused it (a name clash), or null when it is registered.</param>
public sealed record BridgeMirror(BridgeDirection Direction, string Origin, string Name, IReadOnlyList<string> Events, IReadOnlyList<string> Requests, string? Error)
{
    /// <summary>True when the mirror is registered on the far bus.</summary>
    public bool IsActive => Error is null;
}
