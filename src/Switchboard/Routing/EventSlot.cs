namespace Switchboard.Routing;

/// <summary>
/// One declared event of one sender: the trigger's hot path. It caches the event's delivery targets together with
/// the routing index version they were computed at (one immutable object, read with one load), so a trigger costs a
/// version compare and the deliveries, and recomputes only after registrations changed.
/// </summary>
internal sealed class EventSlot
{
    private readonly RoutingIndex<DeliveryTarget> _index;
    private Targets _targets = new(-1, []);

    public EventSlot(RoutingIndex<DeliveryTarget> index, string sender, string eventName)
    {
        _index = index;
        Sender = sender;
        Event = eventName;
    }

    public string Sender { get; }

    public string Event { get; }

    public DeliveryTarget[] CurrentTargets()
    {
        var targets = Volatile.Read(ref _targets);
        var version = _index.Version;
        if (targets.Version == version)
        {
            return targets.Items;
        }

        var items = _index.Lookup(Sender, Event);
        Volatile.Write(ref _targets, new Targets(version, items));
        return items;
    }

    /// <summary>Delivers to every target. A <paramref name="borrowed"/> payload lives only until this returns (or its
    /// task completes): targets that keep messages copy it.</summary>
    public ValueTask DeliverAsync(Payload data, MessageHeaders? headers, bool borrowed = false)
    {
        var targets = CurrentTargets();
        var message = new BusMessage(Sender, Event, data, headers) { IsBorrowed = borrowed };
        for (var i = 0; i < targets.Length; i++)
        {
            var pending = targets[i].DeliverAsync(message);
            if (!pending.IsCompletedSuccessfully)
            {
                return DeliverRestAsync(pending, targets, i + 1, message);
            }
        }

        return default;
    }

    internal static async ValueTask DeliverRestAsync(ValueTask pending, DeliveryTarget[] targets, int next, BusMessage message)
    {
        await pending;
        for (var i = next; i < targets.Length; i++)
        {
            await targets[i].DeliverAsync(message);
        }
    }

    private sealed record Targets(int Version, DeliveryTarget[] Items);
}
