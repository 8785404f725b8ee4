using System.Runtime.CompilerServices;

namespace Switchboard.Routing;

/// <summary>
/// One declared event of one sender: the trigger's hot path. It caches the event's delivery targets together with
/// the routing index version they were computed at (one immutable object, read with one load), so a trigger costs a
/// version compare and the deliveries, and recomputes only after registrations changed.
/// </summary>
internal sealed class EventSlot
{
    private readonly RoutingIndex<DeliveryTarget> _index;
    private static readonly Targets Unplanned = new(-1, [], null, null, null);
    private Targets _targets = Unplanned;

    public EventSlot(RoutingIndex<DeliveryTarget> index, string sender, string eventName)
    {
        _index = index;
        Sender = sender;
        Event = eventName;
    }

    public string Sender { get; }

    public string Event { get; }

    public DeliveryTarget[] CurrentTargets() => CurrentPlan().Items;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Targets CurrentPlan()
    {
        var targets = Volatile.Read(ref _targets);
        return targets.Version == _index.Version ? targets : Replan();
    }

    /// <summary>Recomputes the targets after registrations changed (the cold half of <see cref="CurrentPlan"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Targets Replan()
    {
        var version = _index.Version;
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
        var targets = new Targets(version, items, inline, ordered, items.Length == 1 ? items[0] : null);
        Volatile.Write(ref _targets, targets);
        return targets;
    }

    /// <summary>Drops a plan computed before registrations last changed, so the targets it names (a listener that left, the
    /// peer it belonged to) are not kept alive by a sender that has not triggered since; the next trigger plans again.</summary>
    public void ForgetStalePlan()
    {
        var targets = Volatile.Read(ref _targets);
        if (targets.Items.Length > 0 && targets.Version != _index.Version)
        {
            Interlocked.CompareExchange(ref _targets, Unplanned, targets); // a plan made meanwhile is newer: kept
        }
    }

    /// <summary>Delivers to every target. A <paramref name="borrowed"/> payload lives only until this returns (or its
    /// task completes): targets that keep messages copy it.</summary>
    public ValueTask DeliverAsync(Payload data, MessageHeaders? headers, bool borrowed = false) =>
        Deliver(data, headers, borrowed, processObserved: null);

    /// <summary>Delivers an owned payload for a caller that found nobody observing (<see cref="SwitchboardTelemetry.AnyObserved"/>
    /// false): ordered listeners then run their plain callbacks without asking again.</summary>
    public ValueTask DeliverUnobserved(Payload data, MessageHeaders? headers) =>
        Deliver(data, headers, borrowed: false, processObserved: false);

    private ValueTask Deliver(Payload data, MessageHeaders? headers, bool borrowed, bool? processObserved)
    {
        var plan = CurrentPlan();
        // Ordered listeners while nobody observes: their plain callbacks under the reservations this thread holds.
        // Kept apart from the other paths so a trigger's own frame stays small (nothing to zero, nothing to spill).
        return !borrowed && plan.Ordered is { } ordered && !(processObserved ?? SwitchboardTelemetry.ProcessObserved)
            ? DeliverOrdered(ordered, new BusMessage(Sender, Event, data, headers))
            : DeliverOther(plan, data, headers, borrowed);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask DeliverOther(Targets plan, Payload data, MessageHeaders? headers, bool borrowed)
    {
        if (!borrowed && plan.Inline is { } inline)
        {
            DeliverInline(inline, new BusMessage(Sender, Event, data, headers));
            return default;
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

    /// <summary>Ordered callback listeners. The loop runs in <see cref="RunOrdered"/>, which has no exception handler
    /// so its locals stay in registers; a callback that throws lands here, is counted, and the rest still run.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ValueTask DeliverOrdered(Listener[] targets, in BusMessage message)
    {
        var thread = Environment.CurrentManagedThreadId;
        var running = -1;
        while (true)
        {
            try
            {
                return RunOrdered(targets, in message, thread, ref running);
            }
            catch (Exception ex) when (running >= 0 && targets[running].IsRunningReservedOn(thread))
            {
                targets[running].FaultReserved(ex);
            }
        }
    }

    /// <summary>Each listener after <paramref name="running"/> runs now under this thread's reservation when it holds
    /// one, or takes the general path (claim, or queue behind a busy callback). <paramref name="running"/> names the
    /// listener whose reserved callback runs, for <see cref="DeliverOrdered"/> to fault if it throws.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ValueTask RunOrdered(Listener[] targets, in BusMessage message, int thread, ref int running)
    {
        for (var i = running + 1; i < targets.Length; i++)
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

            running = i;
            var pending = target.PlainHandler(message, target.Token);
            if (pending.IsCompletedSuccessfully)
            {
                target.LeaveReserved();
            }
            else
            {
                target.LeaveReserved(pending);
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
