namespace Switchboard;

/// <summary>The headers a <see cref="BusBridge"/> adds to what it forwards (events, requests, gathers).</summary>
public static class BridgeHeaders
{
    /// <summary>The name of the sender that first triggered the message, before any bridge renamed it (set by the first
    /// bridge, kept by the next ones).</summary>
    public const string Origin = "sb-bridge-origin";

    /// <summary>The bridges the message crossed, in order, comma-separated. A bridge never forwards a message that
    /// already names it.</summary>
    public const string Via = "sb-bridge-via";

    /// <summary>How many bridges the message crossed (see <see cref="BridgeOptions.MaxHops"/>).</summary>
    public const string Hops = "sb-bridge-hops";

    /// <summary>On a gather: the ttl in milliseconds a bridge uses when it forwards the gather to its origin bus
    /// (instead of <see cref="BridgeOptions.GatherTtl"/>).</summary>
    public const string TtlMs = "sb-bridge-ttl-ms";
}
