using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Switchboard.Routing;

/// <summary>A sender registered on the router: its declared events (each with its cached targets), the channel events
/// it triggered through a declared pattern (cached the same way, up to <see cref="MaxMatchedSlots"/>), and its request handlers.</summary>
internal sealed class SenderRegistration : ISender
{
    /// <summary>Pattern-matched channel events whose targets are cached per sender; beyond it a trigger looks its targets up afresh.</summary>
    public const int MaxMatchedSlots = 4096;

    private readonly Router _router;
    private readonly DeclaredEvents _declared;
    private readonly SlotTable _slots;
    private readonly ConcurrentDictionary<string, EventSlot> _matched = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EventSlot>.AlternateLookup<ReadOnlySpan<char>> _matchedByChars;
    private readonly FrozenDictionary<string, RequestHandler> _requests;
    private EventSlot? _lastSlot;
    private int _closed;

    public SenderRegistration(Router router, RouterSession session, string name, DeclaredEvents declared, Dictionary<string, RequestHandler> requests, SenderOptions options)
    {
        _router = router;
        _declared = declared;
        Session = session;
        Name = name;
        Events = declared.All;
        _slots = new SlotTable(declared.Concrete.Select(e => new EventSlot(router.Listeners, name, e)));
        _matchedByChars = _matched.GetAlternateLookup<ReadOnlySpan<char>>();
        _requests = requests.ToFrozenDictionary(StringComparer.Ordinal);
        DefaultHandler = options.DefaultRequestHandler;
        WillEvent = options.WillEvent;
        WillData = options.WillData;
        Info = new SenderInfo(name, declared.All, [.. _requests.Keys.Order(StringComparer.Ordinal)], DefaultHandler is not null);
    }

    public string Name { get; }

    public IReadOnlyList<string> Events { get; }

    public RouterSession Session { get; }

    public RequestHandler? DefaultHandler { get; }

    public string? WillEvent { get; }

    public Payload WillData { get; }

    public SenderInfo Info { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>True for the one caller that closes the sender.</summary>
    public bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    /// <summary>Finds a declared event by its characters, without making a string (the broker's zero-allocation trigger path).</summary>
    public bool TryGetSlot(ReadOnlySpan<char> @event, out EventSlot slot) =>
        _slots.TryGetValue(@event, out slot!) || (_declared.Patterns.Length > 0 && _matchedByChars.TryGetValue(@event, out slot!));

    public RequestHandler? FindHandler(string request) =>
        _requests.TryGetValue(request, out var handler) ? handler : DefaultHandler;

    public ValueTask TriggerAsync(string @event, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default)
    {
        var slot = Slot(@event);
        // The common case (nobody observing, nothing retained) goes straight to the slot: no send scope to set up.
        return retain || SwitchboardTelemetry.AnyObserved
            ? TriggerObserved(slot, data, headers, retain)
            : slot.DeliverUnobserved(data, headers);
    }

    private ValueTask TriggerObserved(EventSlot slot, Payload data, MessageHeaders? headers, bool retain)
    {
        var @event = slot.Event;
        using var send = SwitchboardTelemetry.StartSend(Name, @event, ref headers);
        if (retain)
        {
            _router.Retain(new BusMessage(Name, @event, data, headers));
        }

        return slot.DeliverAsync(data, headers);
    }

    public async ValueTask TriggerAsync(IReadOnlyList<string> events, Payload data = default, MessageHeaders? headers = null, bool retain = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var slots = new EventSlot[events.Count];
        for (var i = 0; i < slots.Length; i++)
        {
            // Check every name before delivering any, so a bad list triggers nothing.
            slots[i] = Slot(events[i]);
        }

        using var send = SwitchboardTelemetry.SendObserved ? SwitchboardTelemetry.StartSend(Name, SwitchboardTelemetry.Destination(events), ref headers) : default;
        foreach (var slot in slots)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (retain)
            {
                _router.Retain(new BusMessage(Name, slot.Event, data, headers));
            }

            await slot.DeliverAsync(data, headers);
        }
    }

    /// <summary>Delivers <paramref name="event"/> as if this sender triggered it, declared or not (presence, wills).</summary>
    internal ValueTask RaiseAsync(string @event, Payload data) =>
        _slots.TryGetValue(@event, out var slot)
            ? slot.DeliverAsync(data, null)
            : _router.DeliverAsync(new BusMessage(Name, @event, data));

    private EventSlot Slot(string @event)
    {
        if (IsClosed)
        {
            throw Closed(Name, @event);
        }

        // A sender mostly triggers the same event, named by the same string instance: compare the reference first.
        if (_lastSlot is { } last && ReferenceEquals(last.Event, @event))
        {
            return last;
        }

        if (_slots.TryGetValue(@event, out var slot) || _matched.TryGetValue(@event, out slot))
        {
            _lastSlot = slot;
            return slot;
        }

        if (!_declared.MatchesPattern(@event))
        {
            throw UndeclaredEvent(Name, @event, Events);
        }

        if (_router.RefuseSystemEvent(Name, @event) is { } refusal)
        {
            throw refusal;
        }

        slot = new EventSlot(_router.Listeners, Name, @event);
        return _matched.Count < MaxMatchedSlots ? _matched.GetOrAdd(@event, slot) : slot;
    }

    public ValueTask DisposeAsync() => _router.RemoveSenderAsync(this, DisconnectReason.Closed);

    /// <summary>Drops every slot's plan made before registrations last changed (<see cref="EventSlot.ForgetStalePlan"/>).</summary>
    internal void ForgetStalePlans()
    {
        _slots.ForEach(static slot => slot.ForgetStalePlan());
        foreach (var slot in _matched.Values)
        {
            slot.ForgetStalePlan();
        }
    }

    /// <summary>The error for triggering an event the sender did not declare (the same text on every kind of bus).</summary>
    internal static Exception UndeclaredEvent(string sender, string @event, IReadOnlyList<string> declared)
    {
        if (NameRules.HasWildcards(@event))
        {
            NameRules.ValidatePattern(@event);
            return new InvalidNameException(@event, $"Sender '{sender}' cannot trigger '{@event}': a trigger names one concrete event, never a wildcard (declared patterns such as '#rooms.*' let it trigger each matching event, like '#rooms.lobby').");
        }

        NameRules.ValidateEvent(@event);
        if (NameRules.IsReserved(@event))
        {
            return new SwitchboardException(ErrorCodes.ReservedName, $"Sender '{sender}' cannot trigger '{@event}': only the bus itself raises it (presence), whatever pattern the sender declared.");
        }

        return new SwitchboardException(ErrorCodes.UndeclaredEvent, $"Sender '{sender}' did not declare the event '{@event}'; it declared: {string.Join(", ", declared)}. Add '{@event}' to the events passed to AddSenderAsync, or declare a channel pattern that matches it.");
    }

    /// <summary>The error for triggering after the sender was removed.</summary>
    internal static Exception Closed(string sender, string @event) =>
        new SwitchboardException(ErrorCodes.Closed, $"Sender '{sender}' was removed from the bus; it cannot trigger '{@event}'.");
}
