using Switchboard.Routing;
using Switchboard.Server;

namespace Switchboard.Redis;

/// <summary>
/// The node's one delivery target on its router, registered for every message (any sender, any event): each local
/// message that another node's interest matches goes into that node's outbox, once per node however many of its
/// listeners match (the receiving node matches exactly). Presence is never sent (each node raises it from its mirrors),
/// nor messages of mirrors (they came from another node), nor the broker's own sender (every node has one).
/// It only encodes into bounded buffers: local recipients never wait for Redis.
/// </summary>
internal sealed class ClusterTarget(ClusterNode node) : Subscription(null, null, null)
{
    public override ValueTask DeliverAsync(in BusMessage message)
    {
        var links = node.Links;
        if (links.Length == 0
            || message.Event is NameRules.ConnectEvent or NameRules.DisconnectEvent
            || message.Sender == Broker.SystemSender
            || node.IsMirror(message.Sender))
        {
            return default;
        }

        foreach (var link in links)
        {
            if (link.Wants(message))
            {
                link.WriteEvent(message);
            }
        }

        return default;
    }

    public override ValueTask CloseAsync(Exception? error) => Unregister is { } unregister ? unregister(this) : default;
}
