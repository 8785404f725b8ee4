namespace Switchboard.Routing;

/// <summary>
/// One declared event of one sender: the trigger's hot path. It caches the event's delivery targets together with
/// the routing index version they were computed at (one immutable object, read with one load), so a trigger costs a
/// version compare and the deliveries, and recomputes only after registrations changed.
/// </summary>
internal sealed class EventSlot
{
    private readonly RoutingIndex<DeliveryTarget> _index;
    private Targets _targets = new(-1, [], null, null, null);

    public EventSlot(RoutingIndex<DeliveryTarget> index, string sender, string eventName)
    {
        _index = index;
        Sender = sender;
        Event = eventName;
    }

    public string Sender { get; }

    public string Event { get; }

    public DeliveryTarget[] CurrentTargets() => CurrentPlan().Items;

    private Targets CurrentPlan()
    {
        var targets = Volatile.Read(ref _targets);
        var version = _index.Version;
        if (targets.Version == version)
        {
            return targets;
        }

        var items = _index.Lookup(Sender, Event);
        // When every target is an inline listener (MaxConcurrency = Unbounded), a trigger calls their callbacks
        // straight from an array, like invoking delegates directly: no virtual call, no queue, no claim per listener.
        InlineTarget[]? inline = items.Length > 0 && Array.TrueForAll(items, t => t is Listener { IsInline: true })
            ? [.. items.Cast<Listener>().Select(l => new InlineTarget(l.InlineHandler, l.Token, l))]
            : null;
        // When every target is an ordered callback listener (the default), a trigger first tries to run each callback
        // under the reservation its thread holds (Listener.Ownership.cs): plain reads and writes, no interlocked claim.
        Listener[]? ordered = inline is null && items.Length > 0 && Array.TrueForAll(items, t => t is Listener { IsOrderedInline: true })
            ? [.. items.Cast<Listener>()]
            : null;
        targets = new Targets(version, items, inline, ordered, items.Length == 1 ? items[0] : null);
        Volatile.Write(ref _targets, targets);
        return targets;
    }

    /// <summary>Delivers to every target. A <paramref name="borrowed"/> payload lives only until this returns (or its
    /// task completes): targets that keep messages copy it.</summary>
    public ValueTask DeliverAsync(Payload data, MessageHeaders? headers, bool borrowed = false)
    {
        var plan = CurrentPlan();
        if (!borrowed)
        {
            if (plan.Ordered is { } ordered)
            {
                return DeliverOrdered(ordered, new BusMessage(Sender, Event, data, headers));
            }

            if (plan.Inline is { } inline)
            {
                DeliverInline(inline, new BusMessage(Sender, Event, data, headers));
                return default;
            }
        }

        var message = new BusMessage(Sender, Event, data, headers) { IsBorrowed = borrowed };
        if (plan.Single is { } single)
        {
            return single.DeliverAsync(message); // one target (a subject with one subscriber): no array to read
        }

        var targets = plan.Items;
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

    /// <summary>Ordered callback listeners: each runs now under this thread's reservation when it holds one, or takes
    /// the general path (claim, or queue behind a busy callback). One try for the whole trigger, as inline delivery.</summary>
    private static ValueTask DeliverOrdered(Listener[] targets, BusMessage message)
    {
        var thread = Environment.CurrentManagedThreadId;
        var observed = SwitchboardTelemetry.ProcessObserved;
        for (var i = 0; i < targets.Length; i++)
        {
            var reserved = false;
            try
            {
                for (; i < targets.Length; i++)
                {
                    var target = targets[i];
                    if (!target.TryEnterReserved(thread))
                    {
                        var general = target.DeliverAsync(message);
                        if (!general.IsCompletedSuccessfully)
                        {
                            return DeliverRestAsync(general, targets, i + 1, message);
                        }

                        continue;
                    }

                    reserved = true;
                    var pending = (observed ? target.ObservedHandler : target.PlainHandler)(message, target.Token);
                    reserved = false;
                    if (pending.IsCompletedSuccessfully)
                    {
                        target.LeaveReserved();
                    }
                    else
                    {
                        target.LeaveReserved(pending);
                    }
                }
            }
            catch (Exception ex) when (reserved)
            {
                targets[i].FaultReserved(ex);
            }
        }

        return default;
    }

    private static void DeliverInline(InlineTarget[] targets, BusMessage message)
    {
        // One try for the whole trigger; a callback that throws is counted and the rest still run.
        for (var i = 0; i < targets.Length; i++)
        {
            try
            {
                for (; i < targets.Length; i++)
                {
                    ref readonly var target = ref targets[i];
                    if (target.Token.IsCancellationRequested)
                    {
                        continue; // closed: its token is cancelled when it closes
                    }

                    var pending = target.Handler(message, target.Token);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        target.Owner.ObserveInline(pending);
                    }
                }
            }
            catch (Exception ex)
            {
                targets[i].Owner.FaultInline(ex);
            }
        }
    }

    /// <summary>What an inline delivery needs of a listener, laid out in one array so the loop reads no other object.</summary>
    private readonly record struct InlineTarget(MessageHandler Handler, CancellationToken Token, Listener Owner);

    private sealed record Targets(int Version, DeliveryTarget[] Items, InlineTarget[]? Inline, Listener[]? Ordered, DeliveryTarget? Single);
}
