namespace Switchboard.Routing;

/// <summary>
/// The last retained value of each sender and event, bounded in count (<see cref="BusOptions.MaxRetained"/>), per value
/// (<see cref="BusOptions.MaxRetainedValueBytes"/>) and in total (<see cref="BusOptions.MaxRetainedBytes"/>). Past a bound a
/// new value is refused with an error naming the setting (updates that do not grow the store still pass). Called under
/// the router's lock.
/// </summary>
internal sealed class RetainedStore(BusOptions options)
{
    // By sender, then event: a sender leaving (RetainedLifetime.WhileSenderOnline) and a listener of one sender touch
    // only that sender's values, never the whole store (this runs under the router's lock).
    private readonly Dictionary<string, Dictionary<string, BusMessage>> _bySender = [];

    /// <summary>Values kept.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes the kept values account for (data, headers and names).</summary>
    public long Bytes { get; private set; }

    /// <summary>Keeps a detached <paramref name="message"/> as its event's value; an empty payload clears it.</summary>
    public void Set(BusMessage message)
    {
        _bySender.TryGetValue(message.Sender, out var events);
        BusMessage old = default;
        var had = events?.TryGetValue(message.Event, out old) == true;
        var freed = had ? SizeOf(old) : 0;
        if (message.Data.IsEmpty)
        {
            if (had)
            {
                Remove(events!, message.Sender, message.Event, freed);
            }

            return;
        }

        var size = SizeOf(message);
        Check(message, had, size, freed);
        if (events is null)
        {
            _bySender[message.Sender] = events = new Dictionary<string, BusMessage>(StringComparer.Ordinal);
        }

        events[message.Event] = message;
        Count += had ? 0 : 1;
        Bytes += size - freed;
    }

    /// <summary>Drops every value of <paramref name="sender"/> (its lifetime is <see cref="RetainedLifetime.WhileSenderOnline"/>).</summary>
    public void RemoveSender(string sender)
    {
        if (!_bySender.Remove(sender, out var events))
        {
            return;
        }

        Count -= events.Count;
        foreach (var message in events.Values)
        {
            Bytes -= SizeOf(message);
        }
    }

    /// <summary>The values a new listener of <paramref name="sender"/> (null: any) and <paramref name="pattern"/> (null: any) gets.</summary>
    public List<BusMessage> Matching(string? sender, string? pattern)
    {
        var found = new List<BusMessage>();
        if (sender is not null)
        {
            if (_bySender.TryGetValue(sender, out var events))
            {
                AddMatching(events, pattern, found);
            }

            return found;
        }

        foreach (var events in _bySender.Values)
        {
            AddMatching(events, pattern, found);
        }

        return found;
    }

    private static void AddMatching(Dictionary<string, BusMessage> events, string? pattern, List<BusMessage> found)
    {
        foreach (var (e, message) in events)
        {
            if (pattern is null || EventPattern.IsMatch(pattern, e))
            {
                found.Add(message);
            }
        }
    }

    private void Remove(Dictionary<string, BusMessage> events, string sender, string @event, long freed)
    {
        events.Remove(@event);
        if (events.Count == 0)
        {
            _bySender.Remove(sender);
        }

        Count--;
        Bytes -= freed;
    }

    private void Check(in BusMessage message, bool had, long size, long freed)
    {
        var what = $"the retained trigger of '{message.Event}' by '{message.Sender}' ({size} bytes) was refused";
        if (size > options.MaxRetainedValueBytes)
        {
            throw Refused($"A retained value may take at most {options.MaxRetainedValueBytes} bytes (BusOptions.MaxRetainedValueBytes); {what}.");
        }

        if (!had && Count >= options.MaxRetained)
        {
            throw Refused($"The bus already retains {options.MaxRetained} values (BusOptions.MaxRetained); {what}. Clear retained values with an empty retained trigger, or raise the limit.");
        }

        if (Bytes - freed + size > options.MaxRetainedBytes)
        {
            throw Refused($"Retained values already take {Bytes} of the {options.MaxRetainedBytes} bytes allowed (BusOptions.MaxRetainedBytes); {what}. Clear retained values with an empty retained trigger, or raise the limit.");
        }
    }

    private static SwitchboardException Refused(string message) => new(ErrorCodes.TooMany, message);

    private static long SizeOf(in BusMessage message)
    {
        long size = message.Data.Length + message.Sender.Length + message.Event.Length;
        if (message.Headers is { } headers)
        {
            for (var i = 0; i < headers.Count; i++)
            {
                size += headers[i].Key.Length + headers[i].Value.Length;
            }
        }

        return size;
    }
}
