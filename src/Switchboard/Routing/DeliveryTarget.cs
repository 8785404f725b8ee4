namespace Switchboard.Routing;

/// <summary>
/// Something the router delivers a message to: a listener, a queue group, or (in the broker) a connection's
/// subscription. Delivery returns a completed <see cref="ValueTask"/> unless the target applies back-pressure.
/// </summary>
internal abstract class DeliveryTarget
{
    public abstract ValueTask DeliverAsync(in BusMessage message);
}
