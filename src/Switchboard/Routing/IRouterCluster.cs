namespace Switchboard.Routing;

/// <summary>
/// The seam a cluster of brokers (<c>src/Switchboard.Redis</c>) plugs into a router, through
/// <see cref="Router.Cluster"/>; null when the broker runs alone, which changes nothing on any path. The router calls it
/// at these points: before a sender becomes visible (to claim its name cluster-wide), after a sender left (to release
/// the name and tell the other nodes), when a subscription comes and goes (the interest the node announces), and when a value is retained.
/// Registrations the cluster makes itself (its mirrors of remote senders, its delivery target) reach it too; it tells
/// them apart by their <see cref="RouterSession"/>.
/// </summary>
internal interface IRouterCluster
{
    /// <summary>Claims <paramref name="sender"/>'s name for this node before it is visible; throws the router's
    /// <see cref="Router.SenderTaken"/> error when another node holds it.</summary>
    ValueTask ClaimAsync(SenderRegistration sender);

    /// <summary>Gives back a claim that <see cref="ClaimAsync"/> made for a sender that then failed to register.</summary>
    void Unclaim(SenderRegistration sender);

    /// <summary>The sender is registered (after the claim): the other nodes learn of it before this returns, as far as
    /// they answer in time.</summary>
    ValueTask AddedAsync(SenderRegistration sender);

    /// <summary>The sender left (its will, if any, was raised before): the name is released and the nodes are told,
    /// before this returns as far as they answer in time, so the name is free everywhere once the removal is done.</summary>
    ValueTask RemovedAsync(SenderRegistration sender, DisconnectReason reason);

    /// <summary>A subscription was registered: other nodes learn its (sender, pattern) interest before this returns, as
    /// far as they answer in time.</summary>
    ValueTask SubscribedAsync(Subscription subscription);

    /// <summary>A subscription was removed.</summary>
    void Unsubscribed(Subscription subscription);

    /// <summary>A retained value was stored (or cleared, by an empty payload): the other nodes keep it too, so their new
    /// listeners receive it at once.</summary>
    void Retained(in BusMessage message);

    /// <summary>A producer was added, changed its topics, or was removed (<paramref name="removed"/>): the other nodes
    /// mirror it, so their gathers ask it too. They learn of it asynchronously (<see cref="FlushAsync"/> waits for them).</summary>
    void ProducerChanged(ProducerRegistration producer, bool removed);

    /// <summary>A gather result listener for <paramref name="topic"/> was added or removed (<paramref name="removed"/>).</summary>
    void ResultListenerChanged(Subscription listener, string topic, bool removed);

    /// <summary>A gather on this node produced <paramref name="result"/> (sender = producer, event = topic): the other
    /// nodes with result listeners for its topic get it too.</summary>
    void ResultDelivered(in BusMessage result);

    /// <summary>Returns once every other node has processed what this node sent it before the call (a client's FLUSH
    /// in a cluster: what it triggered has reached every node).</summary>
    ValueTask FlushAsync();
}
